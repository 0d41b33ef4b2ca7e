"""What every socket of a worker shares: settings, the hub, the clock, the task owner."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roulette.balancing.forwarded import client_address
from roulette.config import Config
from roulette.gateway.hub import Hub
from roulette.identity import Address
from roulette.matchmaking.records import Session
from roulette.matchmaking.socket_actions import StoreOp
from roulette.matchmaking.socket_rules import SocketRules
from roulette.observability.counters import Counters
from roulette.protocol import messages as m
from roulette.relay.budgets import WalletBudgets
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.limits import MessageLimiter
from roulette.relay.turn import TurnIssuer

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection
    from roulette.gateway.debts import DebtCarrier

__all__ = ["GatewayContext", "IceFilter"]

IceFilter = Callable[[str, bytes], "bytes | None"]
"""Rewrites the ``data`` of a relayed signal of a kind, or drops it (None)."""


@dataclass(slots=True)
class GatewayContext:
    """Shared by the sockets of one worker; built once by the composition root."""

    config: Config
    hub: Hub
    metrics: Counters
    spawn_control: Callable[[Connection, StoreOp], None]
    ice_servers: list[dict[str, str | list[str]]] = field(default_factory=list)
    resume_secret: bytes = field(default=b"", repr=False)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    shedding: Callable[[], bool] = lambda: False
    """True while the node sheds load: new handshakes get 503 + Retry-After (issue 11)."""
    named_queues: bool = False
    """True when token-gated (named) queues are served (the chain features are on)."""
    rules: SocketRules = field(init=False)
    """What every socket's machine judges by; built once from ``config``."""
    budgets: WalletBudgets = field(init=False)
    """Message budgets per wallet, shared by its sockets (a reconnect does not refill them)."""
    handshakes_by_wallet: KeyedLimiter = field(init=False)
    handshakes_by_ip: KeyedLimiter = field(init=False)
    turn: TurnIssuer | None = None
    """Issues per-user TURN credentials for ``match-found`` (``TURN_SECRET``)."""
    ice_filter: IceFilter | None = None
    """``ICE_RELAY_ONLY``: rewrites a signal's data, or drops it (None); unset, no cost."""
    skips: KeyedLimiter | None = None
    """``next`` per wallet beyond the 2 s rule (``SKIPS_PER_MINUTE``); None: off."""
    debts: DebtCarrier | None = None
    """Carries the budgets' debts to the wallet's next socket on any worker; None: this
    worker's memory only (tests of one gateway)."""

    def __post_init__(self) -> None:
        config = self.config
        self.rules = SocketRules(
            chain_ids=config.chain_ids,
            named_queues=self.named_queues,
            idle_timeout_seconds=config.idle_timeout_seconds,
            reconnect_grace_seconds=config.reconnect_grace_seconds,
            next_interval_seconds=config.limits.next_interval_seconds,
        )
        limits, hardening = config.limits, config.hardening
        # Twice the sockets a node holds: every live wallet plus as many recently gone.
        self.budgets = WalletBudgets(self._fresh_limiter, max_wallets=2 * limits.max_connections)
        self.handshakes_by_wallet = KeyedLimiter(
            burst=hardening.handshake_wallet_burst,
            per_second=hardening.handshake_wallet_per_second,
        )
        self.handshakes_by_ip = KeyedLimiter(
            burst=hardening.handshake_ip_burst, per_second=hardening.handshake_ip_per_second
        )

    def new_limiter(self, address: Address) -> MessageLimiter:
        """The message rate limiter of ``address``: shared by its sockets, so a reconnect or a
        resume does not refill it (bursts of 60, 20/s sustained by default)."""
        return self.budgets.limiter_for(address)

    def _fresh_limiter(self) -> MessageLimiter:
        limits = self.config.limits
        return MessageLimiter(burst=limits.rate_burst, per_second=limits.rate_per_second)

    def admit_peer(self, peername: object, forwarded_for: str | None = None) -> bool:
        """Take one handshake from the client IP's budget.

        Args:
            peername: the socket's peer (``(host, port, ...)``).
            forwarded_for: the handshake's ``X-Forwarded-For``, believed only when the peer is
                one of ``TRUSTED_PROXIES`` (behind HAProxy every peer is the balancer).
        """
        host = str(peername[0]) if isinstance(peername, tuple) and peername else "unknown"
        headers = [forwarded_for] if forwarded_for else []
        client = client_address(host, headers, self.config.trusted_proxies)
        return self.handshakes_by_ip.allow(client, self.monotonic())

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
            webrtc_config=self._webrtc_config(session, me),
            max_seconds=self.config.session_max_seconds,
            resume_token=self.resume_token(session.id, me),
            peer_name=peer_name,
        )

    def _webrtc_config(self, session: Session, me: Address) -> m.WebRTCConfig:
        if self.turn is None:
            return m.WebRTCConfig(ice_servers=self.ice_servers)
        turn = self.turn.ice_server(f"{session.id}:{me}", now=self.wall())
        # Relay-only: the browser gathers no host or reflexive candidates at all (W3C WebRTC
        # §4.2.1 iceTransportPolicy); the server's filter covers clients that ignore it.
        policy = "relay" if self.ice_filter is not None else None
        return m.WebRTCConfig(ice_servers=[*self.ice_servers, turn], ice_transport_policy=policy)
