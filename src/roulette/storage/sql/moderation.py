"""Reports, blocks and bans in SQL: the :class:`~roulette.storage.ports.Moderation` port."""

from __future__ import annotations

import time

from sqlalchemy import delete, exists, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address
from roulette.storage.ports import BanRecord, BlockRecord
from roulette.storage.sql.database import begin, connect, insert_into
from roulette.storage.sql.schema import bans, blocks, reports

__all__ = ["SqlModeration"]


class SqlModeration:
    """The durable moderation store, on SQLite or PostgreSQL.

    Each method is one statement, so it is atomic on its own; duplicates are settled by the
    database (``ON CONFLICT``), not by a read and a write that two requests could interleave.
    Addresses arrive checksummed (validating them is the caller's job) and are compared as
    exact strings.

    Args:
        engine: an engine from :func:`roulette.storage.sql.database.create_engine` on a
            migrated database; the caller owns and disposes it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_report(
        self,
        *,
        reporter: Address,
        target: Address,
        reason: str,
        session_id: str | None,
        notes: str | None,
        now: float,
    ) -> int:
        """Store a report and return its id (ids grow with time)."""
        statement = (
            reports.insert()
            .values(
                reporter=reporter,
                target=target,
                reason=reason,
                session_id=session_id,
                notes=notes,
                created_at=now,
            )
            .returning(reports.c.id)
        )
        async with begin(self._engine) as connection:
            report_id = (await connection.execute(statement)).scalar_one()
        return int(report_id)

    async def add_block(
        self, *, blocker: Address, target: Address, reason: str | None, now: float
    ) -> bool:
        """Store a block; False when it already existed (its reason and time are kept)."""
        statement = (
            insert_into(self._engine, blocks)
            .values(blocker=blocker, target=target, reason=reason, created_at=now)
            .on_conflict_do_nothing(index_elements=[blocks.c.blocker, blocks.c.target])
        )
        async with begin(self._engine) as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def remove_block(self, *, blocker: Address, target: Address) -> bool:
        """Delete a block; False when there was none."""
        statement = delete(blocks).where(blocks.c.blocker == blocker, blocks.c.target == target)
        async with begin(self._engine) as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def blocks_of(self, blocker: Address) -> list[BlockRecord]:
        """The blocks ``blocker`` made, newest first (ties in the addresses' hex order)."""
        statement = (
            select(blocks.c.target, blocks.c.reason, blocks.c.created_at)
            .where(blocks.c.blocker == blocker)
            # Ties by the lowercased address: a checksummed address mixes cases, which
            # PostgreSQL's locale collation and SQLite's binary one would order differently.
            .order_by(blocks.c.created_at.desc(), func.lower(blocks.c.target))
        )
        async with connect(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [
            BlockRecord(address=Address(row.target), reason=row.reason, blocked_at=row.created_at)
            for row in rows
        ]

    async def exclusions(self, address: Address) -> frozenset[Address]:
        """Everyone ``address`` blocked or was blocked by (each direction uses an index)."""
        statement = union(
            select(blocks.c.target).where(blocks.c.blocker == address),
            select(blocks.c.blocker).where(blocks.c.target == address),
        )
        async with connect(self._engine) as connection:
            found = (await connection.execute(statement)).scalars().all()
        return frozenset(Address(other) for other in found)

    async def ban(
        self,
        *,
        address: Address,
        reason: str,
        by: str,
        now: float,
        expires_at: float | None = None,
    ) -> None:
        """Ban an address; banning it again replaces the reason, the author, time and expiry.

        The record describes the ban in force, so the latest decision wins in full.
        """
        statement = insert_into(self._engine, bans).values(
            address=address, reason=reason, banned_by=by, banned_at=now, expires_at=expires_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[bans.c.address],
            set_={
                "reason": statement.excluded.reason,
                "banned_by": statement.excluded.banned_by,
                "banned_at": statement.excluded.banned_at,
                "expires_at": statement.excluded.expires_at,
            },
        )
        async with begin(self._engine) as connection:
            await connection.execute(statement)

    async def unban(self, address: Address) -> bool:
        """Lift a ban; False when there was none."""
        async with begin(self._engine) as connection:
            result = await connection.execute(delete(bans).where(bans.c.address == address))
        return result.rowcount == 1

    async def is_banned(self, address: Address, *, now: float | None = None) -> bool:
        """True when the address is banned and the ban has not expired (``now``: wall clock)."""
        moment = time.time() if now is None else now
        in_force = or_(bans.c.expires_at.is_(None), bans.c.expires_at > moment)
        statement = select(exists().where(bans.c.address == address, in_force))
        async with connect(self._engine) as connection:
            return bool(await connection.scalar(statement))

    async def bans(self) -> list[BanRecord]:
        """Every ban, newest first (ties in the addresses' hex order, as in :meth:`blocks_of`)."""
        statement = select(bans).order_by(bans.c.banned_at.desc(), func.lower(bans.c.address))
        async with connect(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [
            BanRecord(
                address=Address(row.address),
                reason=row.reason,
                banned_at=row.banned_at,
                banned_by=row.banned_by,
                expires_at=row.expires_at,
            )
            for row in rows
        ]

    async def bans_since(self, since: float) -> list[BanRecord]:
        """The bans made (or renewed) at ``banned_at >= since``, oldest first.

        Each node polls this every ``BAN_POLL_SECONDS`` to close the sockets of wallets banned
        elsewhere (the CLI, another node); the table is small and the poll cheap.
        """
        statement = (
            select(bans).where(bans.c.banned_at >= since).order_by(bans.c.banned_at, bans.c.address)
        )
        async with connect(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [
            BanRecord(
                address=Address(row.address),
                reason=row.reason,
                banned_at=row.banned_at,
                banned_by=row.banned_by,
            )
            for row in rows
        ]
