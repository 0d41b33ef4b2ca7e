"""Worker membership in Redis: the :class:`~roulette.storage.ports.WorkerRegistry` port.

One key per worker, written with ``PX`` on each heartbeat, so Redis itself forgets a worker
that stops beating; a set indexes the keys and :meth:`RedisWorkerRegistry.alive` prunes the
ids whose key has expired. Both live under the ``{workers}`` tag, so each operation is one
script (see :mod:`roulette.storage.keys`).
"""

from __future__ import annotations

import json
import math

from roulette.storage.keys import BOOT_KEY, WORKERS
from roulette.storage.ports import WorkerInfo
from roulette.storage.redis.client import RedisClient, unavailable_on_failure
from roulette.storage.redis.scripts import Script, source

__all__ = ["RedisWorkerRegistry", "decode_worker", "encode_worker"]


class RedisWorkerRegistry:
    """Worker membership shared by every node (implements :class:`~ports.WorkerRegistry`).

    A beat's TTL runs on the Redis master's clock (the port passes no ``now``).

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
    """

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._beat = Script.register(client, source("worker_beat"))
        self._leave = Script.register(client, source("worker_leave"))
        self._alive = Script.register(client, source("worker_alive"))

    async def beat(self, info: WorkerInfo, *, ttl: float) -> None:
        """Announce ``info`` as alive for ``ttl`` seconds (at least 1 ms).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        ttl_ms = max(1, math.ceil(ttl * 1000))
        keys = [WORKERS.index, WORKERS.worker(info.worker_id)]
        await self._beat(keys, [info.worker_id, encode_worker(info), ttl_ms])

    async def leave(self, worker_id: str) -> None:
        """Remove the worker at once (graceful shutdown).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        await self._leave([WORKERS.index, WORKERS.worker(worker_id)], [worker_id])

    async def alive(self) -> list[WorkerInfo]:
        """Every worker whose last beat has not expired, by worker id.

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        # Two steps, so the script declares every key it reads (Redis's scripting contract):
        # a worker that joins in between is simply seen on the next call.
        with unavailable_on_failure():
            members = await self._client.smembers(WORKERS.index)
        ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if not ids:
            return []
        found = await self._alive([WORKERS.index, *map(WORKERS.worker, ids)], ids)
        return sorted(map(decode_worker, found), key=lambda info: info.worker_id)

    async def boot(self, candidate: str) -> str:
        """The boot id (``SET NX`` then ``GET``, one round trip; ``candidate`` if none).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(BOOT_KEY, candidate, nx=True)
                pipe.get(BOOT_KEY)
                _, found = await pipe.execute()
        return found.decode() if isinstance(found, bytes) else str(found)


def encode_worker(info: WorkerInfo) -> str:
    """A heartbeat as JSON (floats written by ``repr``, so they round-trip exactly)."""
    return json.dumps(
        {
            "worker_id": info.worker_id,
            "host": info.host,
            "pid": info.pid,
            "connections": info.connections,
            "started_at": info.started_at,
        }
    )


def decode_worker(raw: bytes | str) -> WorkerInfo:
    """The inverse of :func:`encode_worker`."""
    fields = json.loads(raw)
    return WorkerInfo(
        worker_id=str(fields["worker_id"]),
        host=str(fields["host"]),
        pid=int(fields["pid"]),
        connections=int(fields["connections"]),
        started_at=float(fields["started_at"]),
    )
