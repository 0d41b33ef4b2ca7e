"""The values the chain package hands out: balances and tips (plain, frozen records)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from roulette.identity import Address

__all__ = [
    "Balances",
    "TipLedger",
    "TipRecord",
    "TipStatus",
    "TokenBalance",
]


@dataclass(frozen=True, slots=True)
class TokenBalance:
    """One holding. ``token`` is None for the chain's native coin.

    Attributes:
        token: the EIP-20 contract, or None for the native coin.
        symbol: EIP-20 ``symbol()`` (the native coin's ticker for None).
        decimals: EIP-20 ``decimals()`` (18 for the native coin).
        raw: the exact amount in base units.
        formatted: ``raw`` shifted by ``decimals``, as a decimal string.
    """

    token: Address | None
    symbol: str
    decimals: int
    raw: int
    formatted: str


@dataclass(frozen=True, slots=True)
class Balances:
    """What an address holds on one chain, read at one block."""

    chain_id: int
    address: Address
    native: TokenBalance
    tokens: tuple[TokenBalance, ...]


class TipStatus(enum.Enum):
    """Where a recorded tip stands.

    PENDING: mined and valid, but not yet under enough confirmations.
    CONFIRMED: final; the peer has been told.
    FAILED: reorganised away, reverted on re-check, or still pending at the timeout.
    """

    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TipRecord:
    """One verified tip, as stored in the ``tips`` table.

    Attributes:
        tx_hash: ``0x`` + 64 lowercase hex digits; a transaction counts once.
        chain_id: where it was sent.
        session_id: the session it was sent in.
        sender: who paid (the transaction's ``from``).
        recipient: the peer.
        token: the EIP-20 contract, or None for the native coin.
        amount: base units, as a decimal string (exact for any uint256).
        status: see :class:`TipStatus`.
        block_number: the block that included it.
        created_at: when we recorded it (Unix seconds).
        confirmed_at: when it became final, if it did.
    """

    tx_hash: str
    chain_id: int
    session_id: str
    sender: Address
    recipient: Address
    token: Address | None
    amount: str
    status: TipStatus
    block_number: int
    created_at: float
    confirmed_at: float | None = None


class TipLedger(Protocol):
    """Where tips are recorded (``roulette.storage.sql.tips.SqlTips``)."""

    async def add(self, tip: TipRecord) -> bool:
        """Record a tip; False when its transaction hash is already recorded."""
        ...

    async def has(self, tx_hash: str) -> bool:
        """True when the transaction hash is already recorded."""
        ...

    async def pending(self, *, limit: int) -> Sequence[TipRecord]:
        """Up to ``limit`` pending tips, oldest first."""
        ...

    async def settle(self, tx_hash: str, status: TipStatus, *, now: float) -> bool:
        """Move a pending tip to ``status``; False when it was not pending any more."""
        ...
