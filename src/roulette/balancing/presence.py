"""A node's presence towards the balancer: its registry record, agent check and drain.

Owned by the node's task group: :meth:`Presence.run` serves the agent port and re-announces
the node every third of its TTL until :meth:`Presence.leave`. On SIGTERM the node calls
:meth:`Presence.drain` first: the agent answers ``drain``, ``/health/ready`` turns 503 and the
record says ``draining``, and the node waits ``LB_DRAIN_SECONDS`` (HAProxy's next checks see
it) before it closes its sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roulette.balancing.agent import AgentServer, AgentView
from roulette.balancing.nodes import NodeRecord, NodeState
from roulette.balancing.settings import LbSettings
from roulette.errors import Unavailable

if TYPE_CHECKING:  # the registry imports redis-py, not needed by a node without Redis
    from roulette.balancing.registry import NodeRegistry

__all__ = ["Presence", "PresenceAddress"]

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5
"""The pause after a failed announcement (a third of the TTL after one that succeeded)."""


@dataclass(frozen=True, slots=True)
class PresenceAddress:
    """Where the balancer reaches this node."""

    node_id: str
    host: str
    http_port: int
    ws_port: int


class Presence:
    """The node's state and its announcements.

    Args:
        settings: the ``LB_*`` settings.
        address: the node's id and listeners.
        capacity: sockets the node may hold now (``MAX_CONNECTIONS`` x workers).
        in_use: sockets it holds now.
        registry: where to announce (None: no shared state; only the agent and readiness).
        wall: the wall clock (records carry an expiry on it).
        shedding: True while the node sheds load (the agent then answers ``drain``).
    """

    def __init__(
        self,
        settings: LbSettings,
        address: PresenceAddress,
        *,
        capacity: Callable[[], int],
        in_use: Callable[[], int],
        registry: NodeRegistry | None,
        wall: Callable[[], float],
        shedding: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settings = settings
        self._address = address
        self._capacity = capacity
        self._in_use = in_use
        self._registry = registry
        self._wall = wall
        self._shedding = shedding
        self._agent = AgentServer(self.view)
        self._agent_port = 0
        self._stopped = asyncio.Event()
        self.state = NodeState.READY

    @property
    def registered(self) -> bool:
        """Whether this node announces itself (it has shared state to announce in)."""
        return self._registry is not None

    def view(self) -> AgentView:
        """What the agent check reports now."""
        return AgentView(self.state, self._in_use(), self._capacity(), self._shedding())

    def record(self) -> NodeRecord:
        """The registry record now."""
        return NodeRecord(
            node_id=self._address.node_id,
            host=self._address.host,
            http_port=self._address.http_port,
            ws_port=self._address.ws_port,
            agent_port=self._agent_port,
            capacity=self._capacity(),
            in_use=self._in_use(),
            state=self.state,
            expires_at=self._wall() + self._settings.node_ttl_seconds,
        )

    async def run(self) -> None:
        """Serve the agent port and announce until :meth:`leave`."""
        self._agent_port = await self._agent.start(self._address.host, self._settings.agent_port)
        log.info("lb_agent_listening port=%d", self._agent_port)
        try:
            while not self._stopped.is_set():
                # After a failed announcement, try again soon: the record is running out.
                every = self._settings.node_ttl_seconds / 3
                pause = every if await self._announce() else min(every, RETRY_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), pause)
        finally:
            await self._agent.close()

    async def drain(self) -> None:
        """Stop taking new clients; wait until the balancer has seen it (when registered)."""
        if self.state is not NodeState.READY:
            return
        self.state = NodeState.DRAINING
        log.info("lb_draining seconds=%s", self._settings.drain_seconds)
        if self._registry is not None:
            await self._announce()
            await asyncio.sleep(self._settings.drain_seconds)

    async def leave(self) -> None:
        """Withdraw the record and stop :meth:`run`."""
        self.state = NodeState.STOPPING
        self._stopped.set()
        if self._registry is not None:
            try:
                await self._registry.withdraw(self._address.node_id)
            except Unavailable:
                log.warning("lb_withdraw_failed node=%s", self._address.node_id)

    async def _announce(self) -> bool:
        """Write the record; False when Redis could not be reached."""
        if self._registry is None or not self._agent_port:
            return True
        try:
            await self._registry.announce(self.record(), ttl=self._settings.node_ttl_seconds)
        except Unavailable:
            # The record expires by itself; HAProxy's own checks keep judging the node.
            log.warning("lb_announce_failed node=%s", self._address.node_id)
            return False
        return True
