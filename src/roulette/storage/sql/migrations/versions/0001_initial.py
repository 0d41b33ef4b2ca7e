"""Initial tables: users, reports, blocks, bans, token families, session history.

Revision ID: 0001
Revises:
Create Date: 2024-11-27

Written by hand to match ``roulette.storage.sql.schema``; a test compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDRESS = sa.String(42)
_ID = sa.String(64)


def _seconds(name: str, *, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "users",
        sa.Column("address", _ADDRESS, nullable=False),
        _seconds("first_seen"),
        _seconds("last_seen"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_users")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reporter", _ADDRESS, nullable=False),
        sa.Column("target", _ADDRESS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("session_id", _ID, nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        _seconds("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_target"), "reports", ["target"])
    op.create_index(op.f("ix_reports_reporter"), "reports", ["reporter"])
    op.create_table(
        "blocks",
        sa.Column("blocker", _ADDRESS, nullable=False),
        sa.Column("target", _ADDRESS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _seconds("created_at"),
        sa.PrimaryKeyConstraint("blocker", "target", name=op.f("pk_blocks")),
    )
    op.create_index(op.f("ix_blocks_target"), "blocks", ["target"])
    op.create_table(
        "bans",
        sa.Column("address", _ADDRESS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("banned_by", _ID, nullable=False),
        _seconds("banned_at"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_bans")),
    )
    op.create_table(
        "token_families",
        sa.Column("id", _ID, nullable=False),
        sa.Column("address", _ADDRESS, nullable=False),
        sa.Column("current_jti", _ID, nullable=False),
        _seconds("created_at"),
        _seconds("expires_at"),
        _seconds("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_families")),
    )
    op.create_index(op.f("ix_token_families_address"), "token_families", ["address"])
    op.create_table(
        "session_history",
        sa.Column("id", _ID, nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("initiator", _ADDRESS, nullable=False),
        sa.Column("responder", _ADDRESS, nullable=False),
        _seconds("started_at"),
        _seconds("ended_at", nullable=True),
        sa.Column("end_reason", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_history")),
    )
    op.create_index(op.f("ix_session_history_initiator"), "session_history", ["initiator"])
    op.create_index(op.f("ix_session_history_responder"), "session_history", ["responder"])


def downgrade() -> None:
    """Drop everything :func:`upgrade` created (the indexes go with their tables)."""
    for table in (
        "session_history",
        "token_families",
        "bans",
        "blocks",
        "reports",
        "users",
    ):
        op.drop_table(table)
