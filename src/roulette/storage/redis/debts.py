"""Budget debts in Redis: the :class:`~roulette.storage.ports.BudgetDebts` port, shared by
every worker of every node, so a wallet's next socket starts as far in debt as its last.

One key per wallet (spread over the shards), written with ``SET … PX`` and read with ``GET``:
one command each, on the hot path of a sign-in and a socket's end only.
"""

from __future__ import annotations

import math

from roulette.identity import Address
from roulette.storage import keys
from roulette.storage.ports import Debts
from roulette.storage.redis.client import RedisClient, unavailable_on_failure

__all__ = ["RedisBudgetDebts"]


class RedisBudgetDebts:
    """Wallets' budget debts shared by every worker (implements :class:`~ports.BudgetDebts`).

    The value is when each debt is paid off, on the caller's clock (as the nonce store does);
    the key expires :data:`~roulette.storage.keys.DEBT_GRACE_SECONDS` after the longer one.

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
    """

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def carry(self, address: Address, debts: Debts, *, now: float) -> None:
        """Remember ``debts`` as of ``now``; a debt of nothing forgets the wallet.

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        key = keys.debt(address)
        with unavailable_on_failure():
            if debts.longest <= 0.0:
                await self._client.delete(key)
                return
            value = f"{now + debts.messages!r} {now + debts.skips!r}"
            expiry_ms = max(1, math.ceil((debts.longest + keys.DEBT_GRACE_SECONDS) * 1000))
            await self._client.set(key, value, px=expiry_ms)

    async def owed(self, address: Address, *, now: float) -> Debts:
        """What ``address`` still owes at ``now`` (zeros for a value that does not parse).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            value = await self._client.get(keys.debt(address))
        try:
            messages, skips = (float(part) for part in value.split()) if value else (now, now)
        except ValueError:
            return Debts()
        return Debts(messages=max(0.0, messages - now), skips=max(0.0, skips - now))
