"""Who is connected to this worker, and delivery of session events and relayed frames to them.

The hub is the only place that maps an address to a live socket. Delivery to a local socket is
a direct, synchronous send (the fast path); the cluster adds delivery through other workers'
inboxes behind the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from roulette.matchmaking.records import Address, Session, SessionId

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection

__all__ = ["Hub"]


class Hub:
    """The registry of this worker's authenticated sockets, keyed by address."""

    __slots__ = ("_local", "relayed", "worker_id")

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self._local: dict[Address, Connection] = {}
        self.relayed = 0

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

    def relay(self, peer: Address, session_id: SessionId, frame: bytes) -> bool:
        """Send an already-encoded frame to ``peer`` if it is still in ``session_id``."""
        conn = self._local.get(peer)
        if conn is None or conn.session_id != session_id:
            return False
        conn.send_frame(frame)
        self.relayed += 1
        return True

    def matched(self, session: Session, names: Mapping[Address, str | None]) -> None:
        """Tell both users of a new (or resumed) session, with the peer's display name."""
        for address in (session.initiator, session.responder):
            conn = self._local.get(address)
            if conn is not None:
                conn.on_matched(session, names.get(session.peer_of(address)))

    def session_ended(self, session: Session, reasons: Mapping[Address, str]) -> None:
        """Tell each user of ``session`` that it ended, with the reason meant for them."""
        for address, reason in reasons.items():
            conn = self._local.get(address)
            if conn is not None:
                conn.on_session_ended(session.id, reason)

    def peer_disconnected(self, session: Session, gone: Address) -> None:
        """Tell the peer of ``gone`` that its socket closed (the session is over)."""
        conn = self._local.get(session.peer_of(gone))
        if conn is not None:
            conn.on_peer_disconnected(session.id)
