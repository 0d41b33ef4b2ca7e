"""What every socket of a worker shares: settings, the hub, the clock, the task owner."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roulette.config import Config
from roulette.gateway.hub import Hub
from roulette.matchmaking.records import Address, Session
from roulette.observability.counters import Counters
from roulette.protocol import messages as m
from roulette.relay.limits import MessageLimiter

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection

__all__ = ["GatewayContext"]


@dataclass(slots=True)
class GatewayContext:
    """Shared by the sockets of one worker; built once by the composition root."""

    config: Config
    hub: Hub
    metrics: Counters
    spawn_control: Callable[[Connection], None]
    ice_servers: list[dict[str, str | list[str]]] = field(default_factory=list)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

    def new_limiter(self) -> MessageLimiter:
        """The per-socket message rate limiter (bursts of 60, 20/s sustained by default)."""
        limits = self.config.limits
        return MessageLimiter(burst=limits.rate_burst, per_second=limits.rate_per_second)

    def route(self, peer: Address, session: Session, frame: bytes) -> None:
        """Deliver a relayed frame to ``peer`` (local fast path)."""
        if not self.hub.relay(peer, session.id, frame):
            self.metrics.relay_dropped += 1

    def match_found(self, session: Session, me: Address, peer_name: str | None) -> m.MatchFound:
        """The ``match-found`` message for one user of ``session``."""
        return m.MatchFound(
            session_id=session.id,
            peer_id=session.peer_of(me),
            is_initiator=session.initiator == me,
            webrtc_config=m.WebRTCConfig(ice_servers=self.ice_servers),
            max_seconds=self.config.session_max_seconds,
            peer_name=peer_name,
        )
