"""Budget debts carried from a wallet's socket to its next one, on any worker (issue 10, hole 3).

Message and skip budgets are per wallet within a worker (:class:`~roulette.relay.budgets.
WalletBudgets`); across workers and nodes they travel through the
:class:`~roulette.storage.ports.BudgetDebts` store: a socket writes what its wallet owes when
it ends, and while a heavy sender spends (its successor may sign in elsewhere before this
socket is seen to close); a new socket reads it when it authenticates and starts that far in
debt. All of it is best effort: a store outage costs a fresh budget, never a sign-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from roulette.identity import Address
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.limits import MessageLimiter
from roulette.storage.ports import BudgetDebts, Debts

__all__ = ["MAX_PENDING_DEBTS", "READ_SECONDS", "DebtCarrier"]

log = logging.getLogger(__name__)

READ_SECONDS: Final = 0.5
"""A sign-in waits this long for its wallet's debt at most, then starts with a fresh budget."""

WRITE_SECONDS: Final = 2.0
"""One write is given up after this (the store is down; the debt is lost, not the worker)."""

MAX_PENDING_DEBTS: Final = 10_000
"""Wallets whose debt waits to be written at most; beyond it new ones are dropped (counted)."""


class DebtCarrier:
    """Writes wallets' debts behind the sockets' backs and reads them at sign-in.

    Args:
        store: where debts are shared.
        wall: wall-clock seconds (the store's values are on it, shared by every node).
        monotonic: the clock the limiters run on.
    """

    def __init__(
        self,
        store: BudgetDebts,
        *,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.store = store
        self.wall = wall
        self.monotonic = monotonic
        self.dropped = 0
        self.failed = 0
        self._pending: dict[Address, tuple[Debts, float]] = {}
        self._wake = asyncio.Event()
        self._stop = False

    def note(self, address: Address, limiter: MessageLimiter, skips: KeyedLimiter | None) -> None:
        """Queue a write of what ``address`` owes now (the latest note of a wallet wins)."""
        now = self.monotonic()
        debts = Debts(
            messages=limiter.debt(now),
            skips=skips.debt(address, now) if skips is not None else 0.0,
        )
        if debts.longest <= 0.0:
            return  # nothing owed: what the store holds (if anything) is paid off too
        if address not in self._pending and len(self._pending) >= MAX_PENDING_DEBTS:
            self.dropped += 1
            return
        self._pending[address] = (debts, self.wall())
        self._wake.set()

    async def inherit(
        self, address: Address, limiter: MessageLimiter, skips: KeyedLimiter | None
    ) -> Debts:
        """Start ``address``'s limiters as far in debt as the store says (best effort)."""
        try:
            async with asyncio.timeout(READ_SECONDS):
                owed = await self.store.owed(address, now=self.wall())
        except Exception as exc:  # best effort: a sign-in never waits on a budget
            self.failed += 1
            log.warning("debt_read_failed address=%s error=%r", address, exc)
            return Debts()
        now = self.monotonic()
        limiter.inherit(owed.messages, now)
        if skips is not None:
            skips.inherit(address, owed.skips, now)
        return owed

    async def run(self) -> None:
        """Write noted debts until :meth:`stop`, then what is still pending."""
        while not self._stop or self._pending:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            for address, (debts, at) in batch.items():
                await self._write(address, debts, at)

    async def _write(self, address: Address, debts: Debts, at: float) -> None:
        try:
            async with asyncio.timeout(WRITE_SECONDS):
                await self.store.carry(address, debts, now=at)
        except Exception as exc:  # best effort: a lost debt is a fresh budget, no more
            self.failed += 1
            log.warning("debt_write_failed address=%s error=%r", address, exc)

    def stop(self) -> None:
        """Let :meth:`run` write what is pending and finish."""
        self._stop = True
        self._wake.set()
