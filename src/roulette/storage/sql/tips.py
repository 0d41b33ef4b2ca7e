"""The ``tips`` table and :class:`SqlTips`, the durable ledger of verified tips.

The transaction hash is the primary key: a transaction counts as a tip once, whoever posts it
and however often, and two racing posts of one hash cannot both be recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Double,
    Index,
    Integer,
    String,
    Table,
    exc,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from roulette.chain.records import TipRecord, TipStatus
from roulette.identity import Address
from roulette.storage.sql.database import begin, connect
from roulette.storage.sql.schema import ADDRESS_LENGTH, ID_LENGTH, metadata

__all__ = ["AMOUNT_LENGTH", "TX_HASH_LENGTH", "SqlTips", "tips"]

TX_HASH_LENGTH = 66
"""``0x`` and 64 hex digits."""

AMOUNT_LENGTH = 78
"""The decimal digits of the largest uint256 (2**256 - 1 has 78)."""

tips = Table(
    "tips",
    metadata,
    Column("tx_hash", String(TX_HASH_LENGTH), primary_key=True),
    Column("chain_id", Integer, nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("sender", String(ADDRESS_LENGTH), nullable=False),
    Column("recipient", String(ADDRESS_LENGTH), nullable=False),
    # None: the chain's native coin; else the EIP-20 contract.
    Column("token", String(ADDRESS_LENGTH), nullable=True),
    Column("amount", String(AMOUNT_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("created_at", Double(), nullable=False),
    Column("confirmed_at", Double(), nullable=True),
    Index(None, "sender"),
    Index(None, "recipient"),
    Index(None, "status"),
)


class SqlTips:
    """The tips ledger on SQLite or PostgreSQL (implements ``roulette.chain.TipLedger``).

    Args:
        engine: the async engine (``roulette.storage.sql.database.create_engine``).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, tip: TipRecord) -> bool:
        """Record a tip.

        Returns:
            False when its transaction hash is already recorded (nothing changes).

        Raises:
            Unavailable: the database is unreachable.
        """
        try:
            async with begin(self._engine) as connection:
                await connection.execute(tips.insert().values(**_row(tip)))
        except exc.IntegrityError:
            return False
        return True

    async def has(self, tx_hash: str) -> bool:
        """True when ``tx_hash`` (canonical, lowercase) is already recorded."""
        async with connect(self._engine) as connection:
            found = await connection.scalar(select(tips.c.tx_hash).where(tips.c.tx_hash == tx_hash))
        return found is not None

    async def get(self, tx_hash: str) -> TipRecord | None:
        """The tip recorded for ``tx_hash``, if any."""
        async with connect(self._engine) as connection:
            row = (await connection.execute(tips.select().where(tips.c.tx_hash == tx_hash))).first()
        return None if row is None else _record(row._mapping)

    async def pending(self, *, limit: int) -> Sequence[TipRecord]:
        """Up to ``limit`` pending tips, oldest first."""
        query = (
            tips.select()
            .where(tips.c.status == TipStatus.PENDING.value)
            .order_by(tips.c.created_at)
            .limit(limit)
        )
        async with connect(self._engine) as connection:
            rows = (await connection.execute(query)).all()
        return [_record(row._mapping) for row in rows]

    async def settle(self, tx_hash: str, status: TipStatus, *, now: float) -> bool:
        """Move a pending tip to ``status`` (``confirmed_at`` = ``now`` when confirmed).

        Returns:
            False when the tip was not pending (already settled by another worker).
        """
        update = (
            tips.update()
            .where(tips.c.tx_hash == tx_hash, tips.c.status == TipStatus.PENDING.value)
            .values(
                status=status.value,
                confirmed_at=now if status is TipStatus.CONFIRMED else None,
            )
        )
        async with begin(self._engine) as connection:
            result = await connection.execute(update)
        return result.rowcount == 1

    async def of(
        self, address: Address, *, limit: int = 100
    ) -> tuple[list[TipRecord], list[TipRecord]]:
        """The tips ``address`` sent and received, newest first, at most ``limit`` of each.

        Returns:
            ``(sent, received)``.
        """
        async with connect(self._engine) as connection:
            sent = await _newest(connection, tips.c.sender == address, limit)
            received = await _newest(connection, tips.c.recipient == address, limit)
        return sent, received


async def _newest(
    connection: AsyncConnection, condition: ColumnElement[bool], limit: int
) -> list[TipRecord]:
    query = tips.select().where(condition).order_by(tips.c.created_at.desc()).limit(limit)
    rows = (await connection.execute(query)).all()
    return [_record(row._mapping) for row in rows]


def _row(tip: TipRecord) -> dict[str, Any]:
    return {
        "tx_hash": tip.tx_hash,
        "chain_id": tip.chain_id,
        "session_id": tip.session_id,
        "sender": tip.sender,
        "recipient": tip.recipient,
        "token": tip.token,
        "amount": tip.amount,
        "status": tip.status.value,
        "block_number": tip.block_number,
        "created_at": tip.created_at,
        "confirmed_at": tip.confirmed_at,
    }


def _record(row: Any) -> TipRecord:
    return TipRecord(
        tx_hash=row["tx_hash"],
        chain_id=row["chain_id"],
        session_id=row["session_id"],
        sender=Address(row["sender"]),
        recipient=Address(row["recipient"]),
        token=None if row["token"] is None else Address(row["token"]),
        amount=row["amount"],
        status=TipStatus(row["status"]),
        block_number=row["block_number"],
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
    )
