"""Decision thresholds set on binary model versions (the newest row wins).

Hand migration 3 of ``mlops_nb/store/_db.py``. ``threshold`` is ``REAL`` on SQLite
and ``DOUBLE PRECISION`` on PostgreSQL (its ``REAL`` is single precision).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlops_nb.store._migrate import record_hand_version

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Real = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    """Create the model thresholds table and its index."""
    op.create_table(
        "model_thresholds",
        sa.Column("id", BigInt, primary_key=True, autoincrement=True),
        sa.Column(
            "model_id", BigInt, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("threshold", Real, nullable=False),
        *[
            sa.Column(name, sa.Text, nullable=False)
            for name in ("positive_class", "reason", "at", "by")
        ],
        sqlite_autoincrement=True,
    )
    op.create_index("model_thresholds_model", "model_thresholds", ["model_id"])
    record_hand_version(3)


def downgrade() -> None:
    """Refused: mlops_nb schemas only move forward."""
    from mlops_nb.errors import StoreError

    msg = "mlops_nb schemas are not downgraded."
    raise StoreError(msg)
