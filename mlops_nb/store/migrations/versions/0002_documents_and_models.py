"""Versioned documents (value canvas, ...) and model versions with stages.

Hand migration 2 of ``mlops_nb/store/_db.py``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlops_nb.store._migrate import record_hand_version

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AUTO = {"sqlite_autoincrement": True}


def _id() -> sa.Column:
    return sa.Column("id", BigInt, primary_key=True, autoincrement=True)


def _text(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Text, nullable=False) for name in names]


def upgrade() -> None:
    """Create documents, model versions and their stage history."""
    op.create_table(
        "documents",
        _id(),
        *_text("kind", "name"),
        sa.Column("version", BigInt, nullable=False),
        *_text("content_hash", "payload", "note", "created_at", "created_by"),
        sa.UniqueConstraint("kind", "name", "version"),
        sa.UniqueConstraint("kind", "name", "content_hash"),
        **_AUTO,
    )
    op.create_table(
        "model_versions",
        _id(),
        *_text("name"),
        sa.Column("version", BigInt, nullable=False),
        *_text("stage", "flavor", "artifacts", "recipe", "metrics", "lineage"),
        *_text("environment", "created_at", "created_by"),
        sa.UniqueConstraint("name", "version"),
        **_AUTO,
    )
    op.create_index("model_versions_name", "model_versions", ["name"])
    op.create_table(
        "model_stage_history",
        _id(),
        sa.Column(
            "model_id", BigInt, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        *_text("from_stage", "to_stage", "reason", "at", "by"),
        **_AUTO,
    )
    record_hand_version(2)


def downgrade() -> None:
    """Refused: mlops_nb schemas only move forward."""
    from mlops_nb.errors import StoreError

    msg = "mlops_nb schemas are not downgraded."
    raise StoreError(msg)
