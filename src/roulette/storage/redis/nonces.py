"""SIWE nonces in Redis: the :class:`~roulette.storage.ports.NonceStore` port.

One key per nonce (spread over the shards), written with ``SET … PX`` and taken with
``GETDEL``, a single command, so two racing sign-ins can never both consume one nonce.
"""

from __future__ import annotations

import math

from roulette.storage import keys
from roulette.storage.redis.client import RedisClient, unavailable_on_failure

__all__ = ["RedisNonceStore"]


class RedisNonceStore:
    """SIWE nonces shared by every worker (implements :class:`~ports.NonceStore`).

    The value is the nonce's expiry on the caller's clock, and a nonce is valid while
    ``now < issued_at + ttl``, as in :class:`~roulette.storage.memory.MemoryNonceStore`.
    The Redis TTL (``ttl`` plus :data:`~roulette.storage.keys.NONCE_GRACE_SECONDS`) only
    collects what nobody consumed. Issuing a nonce again overwrites it and restarts its TTL
    (``SET`` without ``NX``: the contract asks for exactly that).

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
    """

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def issue(self, nonce: str, *, now: float, ttl: float) -> None:
        """Remember a fresh nonce until ``now + ttl`` (issuing it again restarts its TTL).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        expiry_ms = max(1, math.ceil((ttl + keys.NONCE_GRACE_SECONDS) * 1000))
        with unavailable_on_failure():
            await self._client.set(keys.nonce(nonce), repr(now + ttl), px=expiry_ms)

    async def consume(self, nonce: str, *, now: float) -> bool:
        """Take the nonce: True the first time, if it was issued and has not expired.

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            expires_at = await self._client.getdel(keys.nonce(nonce))
        return expires_at is not None and now < float(expires_at)
