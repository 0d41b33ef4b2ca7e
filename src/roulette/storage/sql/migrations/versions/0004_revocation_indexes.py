"""Indexes for the revocation poll: bans and token families by the time they took effect.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Each node reads the bans and the revoked sign-ins of the last seconds twice a second
(``roulette.runtime.bans``); without these indexes each read would scan the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``bans.banned_at`` and ``token_families.revoked_at``."""
    op.create_index(op.f("ix_bans_banned_at"), "bans", ["banned_at"])
    op.create_index(op.f("ix_token_families_revoked_at"), "token_families", ["revoked_at"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index(op.f("ix_token_families_revoked_at"), table_name="token_families")
    op.drop_index(op.f("ix_bans_banned_at"), table_name="bans")
