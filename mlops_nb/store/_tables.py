"""The metadata store's tables as SQLAlchemy Core, for SQLite and PostgreSQL alike.

The same schema :data:`mlops_nb.store._db._MIGRATIONS` builds by hand (a test compares
them), described once so queries can be written without SQL strings and run on both
back ends. The schema itself is made by the Alembic revisions in
``mlops_nb/store/migrations`` (``mlops-nb db upgrade URL``), never by
``metadata.create_all``: the audit log's append-only triggers live there.

Portable types: text is ``TEXT`` (times are ISO 8601 strings, JSON is text, exactly as
hashed into the audit chain); integers are ``BIGINT`` on PostgreSQL (sizes, row counts
and ids can pass 2**31) and ``INTEGER`` on SQLite, where only ``INTEGER PRIMARY KEY``
is the row id. Ids autoincrement (``AUTOINCREMENT`` on SQLite: never reused).
Column names ``user``, ``by`` and ``schema`` are reserved words in PostgreSQL;
SQLAlchemy quotes them.
"""

from __future__ import annotations

import sqlalchemy as sa

#: BIGINT on PostgreSQL, INTEGER (the row id's type) on SQLite.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: DOUBLE PRECISION on PostgreSQL (its REAL is single precision), REAL on SQLite.
Real: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")
Text = sa.Text

metadata = sa.MetaData()


def _id() -> sa.Column[int]:
    return sa.Column("id", BigInt, primary_key=True, autoincrement=True)


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, Text, nullable=False)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, BigInt, nullable=False)


schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", BigInt, primary_key=True, autoincrement=False),
    _text("applied_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    _text("at"),
    _text("user"),
    _text("action"),
    _text("object"),
    _text("detail"),
    _text("prev_hash"),
    _text("hash"),
    sqlite_autoincrement=True,
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("digest", Text, primary_key=True),
    _int("size"),
    _text("media_type"),
    _text("created_at"),
)

asset_versions = sa.Table(
    "asset_versions",
    metadata,
    _id(),
    _text("name"),
    _int("version"),
    _text("content_hash"),
    sa.Column("artifact", Text, sa.ForeignKey("artifacts.digest"), nullable=False),
    _int("n_rows"),
    _int("n_cols"),
    _text("schema"),
    _text("parents"),
    _text("operation"),
    _text("params"),
    _text("note"),
    _text("source"),
    _text("created_at"),
    _text("created_by"),
    sa.UniqueConstraint("name", "version"),
    sa.UniqueConstraint("name", "content_hash"),
    sa.Index("asset_versions_name", "name"),
    sqlite_autoincrement=True,
)

reports = sa.Table(
    "reports",
    metadata,
    _id(),
    _text("owner_kind"),
    _int("owner_id"),
    _text("kind"),
    _text("payload"),
    _text("created_at"),
    sa.UniqueConstraint("owner_kind", "owner_id", "kind"),
    sqlite_autoincrement=True,
)

documents = sa.Table(
    "documents",
    metadata,
    _id(),
    _text("kind"),
    _text("name"),
    _int("version"),
    _text("content_hash"),
    _text("payload"),
    _text("note"),
    _text("created_at"),
    _text("created_by"),
    sa.UniqueConstraint("kind", "name", "version"),
    sa.UniqueConstraint("kind", "name", "content_hash"),
    sqlite_autoincrement=True,
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    _id(),
    _text("name"),
    _int("version"),
    _text("stage"),
    _text("flavor"),
    _text("artifacts"),
    _text("recipe"),
    _text("metrics"),
    _text("lineage"),
    _text("environment"),
    _text("created_at"),
    _text("created_by"),
    sa.UniqueConstraint("name", "version"),
    sa.Index("model_versions_name", "name"),
    sqlite_autoincrement=True,
)

model_stage_history = sa.Table(
    "model_stage_history",
    metadata,
    _id(),
    sa.Column("model_id", BigInt, sa.ForeignKey("model_versions.id"), nullable=False),
    _text("from_stage"),
    _text("to_stage"),
    _text("reason"),
    _text("at"),
    _text("by"),
    sqlite_autoincrement=True,
)

model_thresholds = sa.Table(
    "model_thresholds",
    metadata,
    _id(),
    sa.Column("model_id", BigInt, sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("threshold", Real, nullable=False),
    _text("positive_class"),
    _text("reason"),
    _text("at"),
    _text("by"),
    sa.Index("model_thresholds_model", "model_id"),
    sqlite_autoincrement=True,
)

#: Triggers the migrations create; the tests check they exist on both back ends.
AUDIT_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")
