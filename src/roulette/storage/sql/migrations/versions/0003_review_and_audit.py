"""The moderation review queue, bans with an expiry, and the append-only audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

Written by hand to match ``roulette.storage.sql.schema``. The audit log refuses UPDATE and
DELETE with a trigger on both backends, so even a bug (or a stolen application credential)
cannot rewrite what moderators and the auto-scaler did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
    for verb in ("UPDATE", "DELETE")
]

_POSTGRES_TRIGGERS = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    """Add the review columns, the ban expiry and the audit log."""
    # Plain ADD COLUMN (no batch copy): SQLite accepts NOT NULL with a constant default, and
    # the offline (--sql) rendering needs no live table to reflect.
    op.add_column(
        "reports",
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'open'")),
    )
    op.add_column("reports", sa.Column("resolved_at", sa.Double(), nullable=True))
    op.add_column("reports", sa.Column("resolved_by", sa.String(64), nullable=True))
    op.add_column("reports", sa.Column("resolution", sa.Text(), nullable=True))
    op.create_index(op.f("ix_reports_status"), "reports", ["status"])
    op.add_column("bans", sa.Column("expires_at", sa.Double(), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_target"), "audit_log", ["target"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_TRIGGERS if postgres else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Drop the audit log and the added columns."""
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_column("bans", "expires_at")  # SQLite >= 3.35 drops columns natively
    op.drop_index(op.f("ix_reports_status"), "reports")
    for column in ("resolution", "resolved_by", "resolved_at", "status"):
        op.drop_column("reports", column)
