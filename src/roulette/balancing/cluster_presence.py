"""``roulette cluster`` announces itself to the balancer from its supervisor process.

The workers share one HTTP and one WebSocket port, so to HAProxy the whole cluster is one
server: capacity ``MAX_CONNECTIONS`` x the desired worker count, sockets in use summed from
the workers' heartbeats. The supervisor's loop is synchronous (``select``), so the presence
runs on its own event loop in one thread, owned by :class:`ClusterPresence` (started and
stopped by ``run_cluster``). When the supervisor starts its final drain the agent answers
``drain`` and the record says ``draining``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from roulette.balancing.presence import Presence, PresenceAddress
from roulette.balancing.registry import NodeRegistry
from roulette.config import Config

__all__ = ["ClusterPresence"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often the thread looks at the supervisor's draining flag."""


class ClusterPresence:
    """The cluster's registry record and agent check, in a thread.

    Args:
        config: the cluster's settings (Redis, ``LB_*``, ``MAX_CONNECTIONS``).
        address: the cluster's id and shared ports.
        workers: the desired worker count now.
        in_use: sockets held by all workers now.
        draining: True once the supervisor drains.
        shedding: True while a worker sheds load (the agent then answers ``drain``).
    """

    def __init__(
        self,
        config: Config,
        address: PresenceAddress,
        *,
        workers: Callable[[], int],
        in_use: Callable[[], int],
        draining: Callable[[], bool],
        shedding: Callable[[], bool] = lambda: False,
    ) -> None:
        self._config = config
        self._address = address
        self._workers = workers
        self._in_use = in_use
        self._draining = draining
        self._shedding = shedding
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lb-presence", daemon=True)

    def start(self) -> None:
        """Start announcing."""
        self._thread.start()

    def stop(self) -> None:
        """Withdraw the record and end the thread (bounded wait)."""
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # the cluster serves on without a balancer record; say why
            log.exception("lb_cluster_presence_failed")

    async def _main(self) -> None:
        from roulette.storage.redis import close, connect  # noqa: PLC0415 - needs Redis

        client = connect(self._config.redis)
        per_worker = self._config.limits.max_connections
        presence = Presence(
            self._config.lb,
            self._address,
            capacity=lambda: per_worker * max(1, self._workers()),
            in_use=self._in_use,
            shedding=self._shedding,
            registry=NodeRegistry(client),
            wall=time.time,
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(presence.run())
                while not self._stop.is_set():
                    if self._draining():
                        await presence.drain()
                    await asyncio.sleep(POLL_SECONDS)
                await presence.leave()
        finally:
            await close(client)
