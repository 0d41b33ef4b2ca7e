"""The tips ledger: verified on-chain tips, one row per transaction hash.

Revision ID: 0002
Revises: 0001
Create Date: 2024-11-27

Written by hand to match ``roulette.storage.sql.tips``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDRESS = sa.String(42)


def upgrade() -> None:
    """Create the ``tips`` table and its indexes."""
    op.create_table(
        "tips",
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("sender", _ADDRESS, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("token", _ADDRESS, nullable=True),
        sa.Column("amount", sa.String(78), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("confirmed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("tx_hash", name=op.f("pk_tips")),
    )
    for column in ("sender", "recipient", "status"):
        op.create_index(op.f(f"ix_tips_{column}"), "tips", [column])


def downgrade() -> None:
    """Drop the ``tips`` table."""
    op.drop_table("tips")
