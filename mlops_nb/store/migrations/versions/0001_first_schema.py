"""The first schema: audit log, artifacts, data asset versions, reports.

Hand migration 1 of ``mlops_nb/store/_db.py``. The audit log is append-only: triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlops_nb.store._migrate import record_hand_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AUTO = {"sqlite_autoincrement": True}

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n"
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
]
POSTGRESQL_TRIGGERS = [
    "CREATE FUNCTION mlops_nb_audit_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only' "
    "USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION mlops_nb_audit_append_only()",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION mlops_nb_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION mlops_nb_audit_append_only()",
]


def _id() -> sa.Column:
    return sa.Column("id", BigInt, primary_key=True, autoincrement=True)


def _text(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Text, nullable=False) for name in names]


def upgrade() -> None:
    """Create the first schema's tables, index and triggers."""
    op.create_table(
        "schema_migrations",
        sa.Column("version", BigInt, primary_key=True, autoincrement=False),
        *_text("applied_at"),
    )
    op.create_table(
        "audit_log",
        _id(),
        *_text("at", "user", "action", "object", "detail", "prev_hash", "hash"),
        **_AUTO,
    )
    dialect = op.get_bind().dialect.name
    for statement in (
        POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS
    ):
        op.execute(statement)
    op.create_table(
        "artifacts",
        sa.Column("digest", sa.Text, primary_key=True),
        sa.Column("size", BigInt, nullable=False),
        *_text("media_type", "created_at"),
    )
    op.create_table(
        "asset_versions",
        _id(),
        *_text("name"),
        sa.Column("version", BigInt, nullable=False),
        *_text("content_hash"),
        sa.Column(
            "artifact", sa.Text, sa.ForeignKey("artifacts.digest"), nullable=False
        ),
        sa.Column("n_rows", BigInt, nullable=False),
        sa.Column("n_cols", BigInt, nullable=False),
        *_text("schema", "parents", "operation", "params", "note", "source"),
        *_text("created_at", "created_by"),
        sa.UniqueConstraint("name", "version"),
        sa.UniqueConstraint("name", "content_hash"),
        **_AUTO,
    )
    op.create_index("asset_versions_name", "asset_versions", ["name"])
    op.create_table(
        "reports",
        _id(),
        *_text("owner_kind"),
        sa.Column("owner_id", BigInt, nullable=False),
        *_text("kind", "payload", "created_at"),
        sa.UniqueConstraint("owner_kind", "owner_id", "kind"),
        **_AUTO,
    )
    record_hand_version(1)


def downgrade() -> None:
    """Refused: a downgrade would drop the audit log."""
    from mlops_nb.errors import StoreError

    msg = "mlops_nb schemas are not downgraded (that would drop the audit log)."
    raise StoreError(msg)
