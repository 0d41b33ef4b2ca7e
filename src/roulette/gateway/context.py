"""What every socket of a worker shares: settings, the hub, the clock, the task owner."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    resume_secret: bytes = field(default=b"", repr=False)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    shedding: Callable[[], bool] = lambda: False
    """True while the node sheds load: new handshakes get 503 + Retry-After (issue 11)."""

    def new_limiter(self) -> MessageLimiter:
        """The per-socket message rate limiter (bursts of 60, 20/s sustained by default)."""
        limits = self.config.limits
        return MessageLimiter(burst=limits.rate_burst, per_second=limits.rate_per_second)

    def resume_token(self, session_id: str, address: Address) -> str:
        """Proof, for a reconnecting socket, that ``address`` was in ``session_id``."""
        mac = hmac.new(self.resume_secret, f"{session_id}:{address}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def match_found(self, session: Session, me: Address, peer_name: str | None) -> m.MatchFound:
        """The ``match-found`` message for one user of ``session``."""
        return m.MatchFound(
            session_id=session.id,
            peer_id=session.peer_of(me),
            is_initiator=session.initiator == me,
            webrtc_config=m.WebRTCConfig(ice_servers=self.ice_servers),
            max_seconds=self.config.session_max_seconds,
            resume_token=self.resume_token(session.id, me),
            peer_name=peer_name,
        )
