"""The in-process bus and worker registry: one process is one worker, and the reference the
Redis bus and registry are tested against (the same contract suite runs on both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

from roulette.storage.ports import WorkerInfo

__all__ = ["MemoryBus", "MemoryWorkerRegistry"]


class MemoryBus:
    """Inboxes inside one process (implements :class:`~roulette.storage.ports.Bus`).

    Each iterator of :meth:`subscribe` has its own bounded queue. A reader that falls
    ``max_queue`` payloads behind loses what does not fit (counted in :attr:`dropped`)
    rather than making every publisher wait: at most once, as the port allows, and what
    Redis does to a subscriber that outgrows its output buffer, minus the disconnect.

    Args:
        max_queue: payloads buffered per subscriber.
    """

    def __init__(self, *, max_queue: int = 10_000) -> None:
        self._max_queue = max_queue
        self._readers: dict[str, set[asyncio.Queue[bytes]]] = {}
        self.dropped = 0
        """Payloads lost because a reader's queue was full."""

    async def publish(self, inbox: str, payloads: Sequence[bytes]) -> None:
        """Hand ``payloads``, in order, to every current reader of ``inbox``."""
        for queue in self._readers.get(inbox, ()):
            for payload in payloads:
                try:
                    queue.put_nowait(payload)
                except asyncio.QueueFull:
                    self.dropped += 1

    def subscribe(self, inbox: str) -> AsyncIterator[bytes]:
        """Every payload published to ``inbox`` once the iterator has started, in order."""
        return self._deliveries(inbox)

    async def _deliveries(self, inbox: str) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=self._max_queue)
        readers = self._readers.setdefault(inbox, set())
        readers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            readers.discard(queue)
            if not readers:
                del self._readers[inbox]  # inboxes of gone workers must not pile up


class MemoryWorkerRegistry:
    """Worker membership inside one process (implements :class:`~ports.WorkerRegistry`).

    Args:
        clock: the monotonic clock TTLs run on (the port passes no ``now``).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._workers: dict[str, tuple[WorkerInfo, float]] = {}
        self._boot: str | None = None

    async def beat(self, info: WorkerInfo, *, ttl: float) -> None:
        """Announce ``info`` as alive for ``ttl`` seconds."""
        self._workers[info.worker_id] = (info, self._clock() + ttl)

    async def leave(self, worker_id: str) -> None:
        """Remove the worker at once (graceful shutdown)."""
        self._workers.pop(worker_id, None)

    async def alive(self) -> list[WorkerInfo]:
        """Every worker whose last beat has not expired, by worker id; forgets the others."""
        now = self._clock()
        for worker_id in [w for w, (_, until) in self._workers.items() if until <= now]:
            del self._workers[worker_id]
        return [info for _, (info, _) in sorted(self._workers.items())]

    async def boot(self, candidate: str) -> str:
        """The boot id: ``candidate`` the first time (this process's store never empties)."""
        if self._boot is None:
            self._boot = candidate
        return self._boot

    def forget_everything(self) -> None:
        """Lose every membership and the boot id, as a Redis restarted empty would."""
        self._workers.clear()
        self._boot = None
