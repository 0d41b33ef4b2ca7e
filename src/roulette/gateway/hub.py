"""Who is connected to this worker, and delivery to users wherever they are connected.

The hub is the only place that maps an address to a live socket. A user on this worker gets
a direct, synchronous send (the fast path); a user on another worker gets an envelope through
the :class:`~roulette.gateway.bridge.Bridge` to that worker's inbox, where its hub delivers it
with the same local methods. Sessions say which worker holds each user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Final

import msgspec

from roulette.gateway.bridge import Bridge, Envelope, Kind
from roulette.matchmaking.records import Address, Session, SessionId, WorkerId

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection

__all__ = ["Hub"]

_encode_session = msgspec.msgpack.Encoder().encode
_decode_session: Final = msgspec.msgpack.Decoder(Session).decode


class Hub:
    """The registry of this worker's authenticated sockets, keyed by address."""

    __slots__ = ("_local", "bridge", "relayed", "worker_id")

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self._local: dict[Address, Connection] = {}
        self.relayed = 0
        self.bridge: Bridge | None = None

    def __len__(self) -> int:
        return len(self._local)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._local.values()))

    def get(self, address: Address) -> Connection | None:
        """The live socket of ``address`` on this worker."""
        return self._local.get(address)

    def register(self, conn: Connection) -> Connection | None:
        """Make ``conn`` the socket of its address; returns the one it replaces, if any."""
        previous = self._local.get(conn.address)
        self._local[conn.address] = conn
        return previous if previous is not conn else None

    def unregister(self, conn: Connection) -> bool:
        """Forget ``conn``; False when a newer socket of the same address replaced it."""
        if self._local.get(conn.address) is conn:
            del self._local[conn.address]
            return True
        return False

    def _away(self, worker: WorkerId) -> Bridge | None:
        """The bridge when ``worker`` is another worker (None: deliver here)."""
        bridge = self.bridge
        return bridge if bridge is not None and worker != self.worker_id else None

    # ------------------------------------------------------------ outgoing

    def relay(self, peer: Address, session: Session, frame: bytes) -> bool:
        """Send an encoded frame to ``peer`` if it is still in ``session``."""
        bridge = self._away(session.worker_of(peer))
        if bridge is not None:
            bridge.send(session.worker_of(peer), Envelope(Kind.RELAY, peer, session.id, frame))
            return True
        return self._relay_here(peer, session.id, frame)

    def matched(self, session: Session, names: Mapping[Address, str | None]) -> None:
        """Tell both users of a new session, with the peer's display name."""
        body = b""
        for address in (session.initiator, session.responder):
            name = names.get(session.peer_of(address))
            bridge = self._away(session.worker_of(address))
            if bridge is None:
                conn = self._local.get(address)
                if conn is not None:
                    conn.on_matched(session, name)
                continue
            body = body or _encode_session(session)
            envelope = Envelope(Kind.MATCHED, address, session.id, body, name or "")
            bridge.send(session.worker_of(address), envelope)

    def resumed(self, session: Session, returning: Address) -> None:
        """Tell the peer of ``returning`` that it is back (on ``session``'s new worker)."""
        peer = session.peer_of(returning)
        bridge = self._away(session.worker_of(peer))
        if bridge is None:
            self._resumed_here(peer, session)
        else:
            envelope = Envelope(Kind.RESUMED, peer, session.id, _encode_session(session))
            bridge.send(session.worker_of(peer), envelope)

    def session_ended(self, session: Session, reasons: Mapping[Address, str]) -> None:
        """Tell each user of ``session`` that it ended, with the reason meant for them."""
        for address, reason in reasons.items():
            bridge = self._away(session.worker_of(address))
            if bridge is None:
                self._ended_here(address, session.id, reason)
            else:
                envelope = Envelope(Kind.ENDED, address, session.id, text=reason)
                bridge.send(session.worker_of(address), envelope)

    def peer_disconnected(self, session: Session, gone: Address) -> None:
        """Tell the peer of ``gone`` that its socket closed."""
        peer = session.peer_of(gone)
        bridge = self._away(session.worker_of(peer))
        if bridge is None:
            self._gone_here(peer, session.id, session.epoch)
        else:
            envelope = Envelope(Kind.PEER_GONE, peer, session.id, number=session.epoch)
            bridge.send(session.worker_of(peer), envelope)

    def kick(self, address: Address, code: int, reason: str, workers: list[str]) -> None:
        """Close ``address``'s socket wherever it is (``workers``: every live worker)."""
        self._kick_here(address, code, reason)
        if self.bridge is not None:
            for worker in workers:
                if worker != self.worker_id:
                    self.bridge.send(worker, Envelope(Kind.KICK, address, text=reason, number=code))

    # ------------------------------------------------------------ incoming

    def deliver(self, envelope: Envelope) -> None:
        """Carry out an envelope another worker sent for a user of this one."""
        address = Address(envelope.address)
        kind = envelope.kind
        if kind is Kind.RELAY:
            self._relay_here(address, SessionId(envelope.session_id), envelope.body)
        elif kind is Kind.MATCHED:
            conn = self._local.get(address)
            if conn is not None:
                conn.on_matched(_decode_session(envelope.body), envelope.text or None)
        elif kind is Kind.ENDED:
            self._ended_here(address, SessionId(envelope.session_id), envelope.text)
        elif kind is Kind.PEER_GONE:
            self._gone_here(address, SessionId(envelope.session_id), envelope.number)
        elif kind is Kind.RESUMED:
            self._resumed_here(address, _decode_session(envelope.body))
        else:
            self._kick_here(address, envelope.number, envelope.text)

    def _relay_here(self, peer: Address, session_id: SessionId, frame: bytes) -> bool:
        conn = self._local.get(peer)
        if conn is None or conn.session_id != session_id:
            return False
        conn.send_frame(frame)
        self.relayed += 1
        return True

    def _ended_here(self, address: Address, session_id: SessionId, reason: str) -> None:
        conn = self._local.get(address)
        if conn is not None:
            conn.on_session_ended(session_id, reason)

    def _gone_here(self, address: Address, session_id: SessionId, epoch: int) -> None:
        conn = self._local.get(address)
        if conn is not None:
            conn.on_peer_disconnected(session_id, epoch)

    def _resumed_here(self, address: Address, session: Session) -> None:
        conn = self._local.get(address)
        if conn is not None:
            conn.on_peer_resumed(session)

    def _kick_here(self, address: Address, code: int, reason: str) -> None:
        conn = self._local.get(address)
        if conn is not None:
            conn.close(code, reason)
