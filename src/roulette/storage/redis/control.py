"""Control notices on Redis Streams: the :class:`~roulette.storage.ports.ControlLog` port.

One stream per worker (``XADD MAXLEN ~``, expiring when nobody writes to it), read with a
bounded ``XREAD BLOCK`` from the last id this reader saw. A lost connection or a failover
only pauses the reader: it asks again from the same id, on whichever node owns the stream's
slot by then, so nothing persisted is missed (issue 9, defect 6: with pub/sub a notice
published while the subscription was being re-made was lost, and a session was announced
to only one of its users).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, cast

from roulette.storage import keys
from roulette.storage.redis.client import RedisClient, is_client_failure, unavailable_on_failure

__all__ = ["RedisControlLog"]

log = logging.getLogger(__name__)

FIELD: Final = b"p"
READ_COUNT: Final = 512
"""Entries per read, at most."""
BLOCK_MS: Final = 500
"""How long one read waits; below the client's socket timeout, so a wait is not a failure."""


class RedisControlLog:
    """Worker control streams (implements :class:`~roulette.storage.ports.ControlLog`).

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
        retry_delay: the first pause after a failed read.
        max_retry_delay: the longest pause between attempts (the delay doubles up to it).
    """

    def __init__(
        self, client: RedisClient, *, retry_delay: float = 0.05, max_retry_delay: float = 1.0
    ) -> None:
        self._client = client
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay

    async def append(self, inbox: str, payloads: Sequence[bytes]) -> None:
        """Append ``payloads`` in order to worker ``inbox``'s stream, in one round trip.

        Raises:
            Unavailable: ``state_unavailable``; some payloads may have been appended.
        """
        if not payloads:
            return
        key = keys.control(inbox)
        with unavailable_on_failure():
            # One key, one slot: a cluster pipeline sends it all to one node, in order.
            async with self._client.pipeline(transaction=False) as pipe:
                for payload in payloads:
                    pipe.xadd(key, {FIELD: payload}, maxlen=keys.CONTROL_MAX_ENTRIES)
                pipe.expire(key, keys.CONTROL_TTL_SECONDS)
                await pipe.execute()

    def read(self, inbox: str) -> AsyncIterator[bytes]:
        """Every payload appended to ``inbox`` after the first ``__anext__``, in order."""
        return self._entries(keys.control(inbox))

    async def _entries(self, key: str) -> AsyncIterator[bytes]:
        last: bytes | str | None = None
        delay = self._retry_delay
        while True:
            try:
                if last is None:
                    last = await self._tail(key)
                reply = await self._client.xread({key: last}, count=READ_COUNT, block=BLOCK_MS)
            except Exception as error:
                _raise_if_cancelled()
                if not is_client_failure(error):
                    raise
                log.info("control_read_retry key=%s error=%r", key, error)
                await asyncio.sleep(delay)
                delay = min(2 * delay, self._max_retry_delay)
                continue
            _raise_if_cancelled()
            delay = self._retry_delay
            for entry_id, fields in _entries_of(reply):
                last = entry_id
                payload = fields.get(FIELD)
                if payload is not None:
                    yield bytes(payload)

    async def _tail(self, key: str) -> bytes | str:
        """The id to read after: the stream's newest entry now (or the very start)."""
        newest = await self._client.xrevrange(key, count=1)
        if not newest:
            return "0-0"
        return cast(bytes, newest[0][0])


def _raise_if_cancelled() -> None:
    """Honour a cancellation the client swallowed.

    A cancel that lands while redis-py reads a blocking reply can be lost inside its retry
    and timeout handling (seen with XREAD BLOCK on Python 3.11); the task still counts it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _entries_of(reply: Any) -> list[tuple[bytes, dict[bytes, Any]]]:
    """The ``(id, fields)`` pairs of a RESP2 ``XREAD`` reply: ``[[stream, [(id, fields)]]]``."""
    return [(entry_id, dict(fields)) for _, entries in reply or () for entry_id, fields in entries]
