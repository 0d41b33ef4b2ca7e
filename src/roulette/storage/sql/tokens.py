"""Refresh-token families in SQL: the :class:`~roulette.storage.ports.TokenFamilies` port.

Theory of operation. A family row holds the one refresh-token id (``current_jti``) that may
be exchanged next. :meth:`SqlTokenFamilies.rotate` is a single conditional ``UPDATE``; the
database serialises concurrent updates of one row, so of any number of rotations presenting
the same token id exactly one can match the condition. Every other one finds the row changed
and is treated as what it is indistinguishable from, the replay of a rotated token (RFC 6819
§5.2.2.3): the family is revoked. So two racing refreshes of one token both end signed out,
the safe outcome when one of them may be an attacker's.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Update, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.errors import InvalidState
from roulette.identity import Address
from roulette.storage.ports import RevokedFamily
from roulette.storage.sql.database import begin, connect, insert_into
from roulette.storage.sql.lane import Lane, open_lane
from roulette.storage.sql.schema import token_families

__all__ = ["ROTATE_UNLESS_BANNED", "START_UNLESS_BANNED", "SqlTokenFamilies"]

_family = token_families.c

# The sign-in and refresh statements (issue 15): one statement each, run on the direct lane,
# with the ban check inside (a ban in force: no row is written). The casts let PostgreSQL
# type the parameters; SQLite reads the type names as affinities.
_IN_FORCE = (
    "NOT EXISTS (SELECT 1 FROM bans WHERE bans.address = {address}"
    " AND (bans.expires_at IS NULL OR bans.expires_at > CAST($4 AS DOUBLE PRECISION)))"
)
START_UNLESS_BANNED = (
    "INSERT INTO token_families (id, address, current_jti, created_at, expires_at, revoked_at)"
    " SELECT CAST($1 AS VARCHAR(64)), CAST($2 AS VARCHAR(42)), CAST($3 AS VARCHAR(64)),"
    " CAST($4 AS DOUBLE PRECISION), CAST($5 AS DOUBLE PRECISION), NULL"
    " WHERE " + _IN_FORCE.format(address="CAST($2 AS VARCHAR(42))")
)
ROTATE_UNLESS_BANNED = (
    "UPDATE token_families SET current_jti = CAST($3 AS VARCHAR(64))"
    " WHERE id = CAST($1 AS VARCHAR(64)) AND current_jti = CAST($2 AS VARCHAR(64))"
    " AND revoked_at IS NULL AND expires_at > CAST($4 AS DOUBLE PRECISION)"
    " AND " + _IN_FORCE.format(address="token_families.address")
)


class SqlTokenFamilies:
    """The durable refresh-token families, on SQLite or PostgreSQL.

    A family is live while it exists, is not revoked and ``now < expires_at``.

    Args:
        engine: an engine from :func:`roulette.storage.sql.database.create_engine` on a
            migrated database; the caller owns and disposes it.
        lane: the direct lane of the sign-in statements (default: one opened on the engine's
            database at first use); closed by :meth:`aclose`.
    """

    def __init__(self, engine: AsyncEngine, lane: Lane | None = None) -> None:
        self._engine = engine
        self._lane = lane

    def _direct(self) -> Lane:
        if self._lane is None:
            self._lane = open_lane(self._engine.url.render_as_string(hide_password=False))
        return self._lane

    async def aclose(self) -> None:
        """Close the direct lane's connections (the engine is the caller's)."""
        if self._lane is not None:
            await self._lane.aclose()

    async def start_unless_banned(
        self, *, family_id: str, address: Address, jti: str, now: float, expires_at: float
    ) -> bool:
        """Start a family as :meth:`create` does, unless a ban of ``address`` is in force at
        ``now``: one statement (the sign-in path). Returns False, writing nothing, when banned.

        Raises:
            InvalidState: ``family_id`` is taken; ids are random, so this is a bug.
        """
        started = await self._direct().execute(
            START_UNLESS_BANNED, family_id, address, jti, now, expires_at
        )
        return started == 1

    async def rotate_unless_banned(
        self, *, family_id: str, old_jti: str, new_jti: str, now: float
    ) -> bool:
        """Swap ``old_jti`` for ``new_jti`` when it is the current id of a live family whose
        wallet is not banned: one statement (the refresh path).

        Returns:
            True when swapped. False changes nothing: the caller tells a ban from a reuse
            (:meth:`rotate` revokes the family of a reused token).
        """
        swapped = await self._direct().execute(
            ROTATE_UNLESS_BANNED, family_id, old_jti, new_jti, now
        )
        return swapped == 1

    async def create(
        self, *, family_id: str, address: Address, jti: str, now: float, expires_at: float
    ) -> None:
        """Start a family whose current refresh token id is ``jti``.

        Raises:
            InvalidState: ``family_id`` is taken; ids are random, so this is a bug.
        """
        statement = (
            insert_into(self._engine, token_families)
            .values(
                id=family_id,
                address=address,
                current_jti=jti,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
            .on_conflict_do_nothing(index_elements=[_family.id])
        )
        async with begin(self._engine) as connection:
            result = await connection.execute(statement)
        if result.rowcount != 1:
            raise InvalidState(f"token family {family_id!r} already exists")

    async def rotate(self, *, family_id: str, old_jti: str, new_jti: str, now: float) -> bool:
        """Swap ``old_jti`` for ``new_jti`` in one conditional update.

        Returns:
            True when ``old_jti`` was the current id of a live family. Otherwise False, and
            a live family is revoked: its current id was already exchanged (a replay, or the
            loser of two concurrent refreshes). An unknown, expired or revoked family is left
            as it is.
        """
        swap = (
            update(token_families)
            .where(_family.id == family_id, _family.current_jti == old_jti, *_live(now))
            .values(current_jti=new_jti)
        )
        # Both statements in one transaction: a reuse either revokes the family or, if the
        # database fails midway, changes nothing.
        async with begin(self._engine) as connection:
            if (await connection.execute(swap)).rowcount == 1:
                return True
            await connection.execute(_revocation(family_id, now, only_live=True))
        return False

    async def revoke(self, family_id: str, *, now: float) -> None:
        """Revoke the family (idempotent: the first revocation time is kept)."""
        async with begin(self._engine) as connection:
            await connection.execute(_revocation(family_id, now, only_live=False))

    async def is_active(self, family_id: str, *, now: float) -> bool:
        """True when the family exists, is not revoked and has not expired."""
        statement = select(_family.id).where(_family.id == family_id, *_live(now))
        async with connect(self._engine) as connection:
            return (await connection.scalar(statement)) is not None

    async def revoke_wallet(self, address: Address, *, now: float) -> int:
        """Revoke every live family of ``address`` (a ban); returns how many were revoked.

        Its access tokens die with their families (every authenticated request and every
        socket checks the family), and no refresh token of it can be exchanged again.
        """
        statement = (
            update(token_families)
            .where(_family.address == address, _family.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        async with begin(self._engine) as connection:
            return int((await connection.execute(statement)).rowcount)

    async def revoked_since(self, since: float) -> list[RevokedFamily]:
        """The families revoked at ``revoked_at >= since``, oldest first (an index range)."""
        statement = (
            select(_family.id, _family.address, _family.revoked_at)
            .where(_family.revoked_at >= since)
            .order_by(_family.revoked_at)
        )
        async with connect(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [
            RevokedFamily(family_id=row.id, address=Address(row.address), revoked_at=row.revoked_at)
            for row in rows
        ]


def _live(now: float) -> tuple[ColumnElement[bool], ...]:
    return (_family.revoked_at.is_(None), _family.expires_at > now)


def _revocation(family_id: str, now: float, *, only_live: bool) -> Update:
    # The first revocation time is kept: it dates the incident.
    live = _live(now) if only_live else (_family.revoked_at.is_(None),)
    return update(token_families).where(_family.id == family_id, *live).values(revoked_at=now)
