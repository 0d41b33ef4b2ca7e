"""Message budgets per wallet, not per socket, so reconnecting does not refill them. Pure.

A socket's :class:`~roulette.relay.limits.MessageLimiter` used to be new with every socket: a
client that opened a socket, sent ``reconnect`` and a burst, closed, and did it again, got a
fresh burst each time (issue 10: ~2,100 messages/s to its peer against a promised 60 + 20/s).
Here every socket of a wallet shares one limiter for as long as the wallet is remembered.

The table is per worker (each process remembers its own wallets). Across workers and nodes a
wallet holds one live socket at a time (the hub's ``REPLACED`` notice), and what it owes its
budgets travels to its next socket through the shared store (``gateway/debts.py``).

The table keeps the ``max_wallets`` most recently connected wallets; forgetting one only
matters if a single worker sees that many distinct wallets between two of its sockets (and
then the shared store still holds the debt).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from roulette.relay.limits import MessageLimiter

__all__ = ["WalletBudgets"]


class WalletBudgets:
    """One :class:`MessageLimiter` per wallet, at most ``max_wallets`` of them (LRU).

    Args:
        new_limiter: makes the limiter of a wallet not seen (or forgotten).
        max_wallets: how many wallets are remembered.

    Raises:
        ValueError: ``max_wallets`` is below 1.
    """

    __slots__ = ("_limiters", "_max", "_new")

    def __init__(self, new_limiter: Callable[[], MessageLimiter], *, max_wallets: int) -> None:
        if max_wallets < 1:
            raise ValueError(f"max_wallets must be at least 1, got {max_wallets}")
        self._new = new_limiter
        self._max = max_wallets
        self._limiters: OrderedDict[str, MessageLimiter] = OrderedDict()

    def limiter_for(self, wallet: str) -> MessageLimiter:
        """The wallet's limiter (shared by all its sockets); called once per socket."""
        limiter = self._limiters.pop(wallet, None) or self._new()
        self._limiters[wallet] = limiter
        while len(self._limiters) > self._max:
            self._limiters.popitem(last=False)
        return limiter

    def __len__(self) -> int:
        return len(self._limiters)
