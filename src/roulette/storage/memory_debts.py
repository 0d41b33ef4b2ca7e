"""Budget debts in this process: the :class:`~roulette.storage.ports.BudgetDebts` port for a
single ``roulette serve`` without Redis (where every socket of a wallet is on this process).
"""

from __future__ import annotations

from collections import OrderedDict

from roulette.identity import Address
from roulette.storage.ports import Debts

__all__ = ["MemoryBudgetDebts"]


class MemoryBudgetDebts:
    """Wallets' budget debts (implements :class:`~ports.BudgetDebts`), at most ``max_wallets``.

    Each wallet keeps when each debt is paid off, on the caller's clock; the least recently
    written go first when the table is full (a forgotten debt is at worst a fresh budget).

    Args:
        max_wallets: how many wallets are remembered.
    """

    def __init__(self, *, max_wallets: int = 100_000) -> None:
        self._max = max_wallets
        self._until: OrderedDict[Address, tuple[float, float]] = OrderedDict()

    async def carry(self, address: Address, debts: Debts, *, now: float) -> None:
        """Remember ``debts`` as of ``now``; a debt of nothing forgets the wallet."""
        self._until.pop(address, None)
        if debts.longest <= 0.0:
            return
        self._until[address] = (now + debts.messages, now + debts.skips)
        while len(self._until) > self._max:
            self._until.popitem(last=False)

    async def owed(self, address: Address, *, now: float) -> Debts:
        """What ``address`` still owes at ``now``."""
        messages, skips = self._until.get(address, (now, now))
        return Debts(messages=max(0.0, messages - now), skips=max(0.0, skips - now))
