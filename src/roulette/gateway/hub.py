"""Who is connected to this worker, and delivery to users wherever they are connected.

The hub is the only place that maps an address to a live socket. A user on this worker gets
a direct, synchronous send (the fast path); a user on another worker gets an envelope through
the :class:`~roulette.gateway.bridge.Bridge` to that worker's inbox, where its hub delivers it
with the same local methods. Sessions say which worker holds each user.

Two things make the cross-worker path safe under faults (issue 9):

* Control notices arrive at least once (see :mod:`~roulette.gateway.bridge`), so each is
  applied once: a notice is known by (kind, address, session id, epoch), and one already
  applied — or a match or resume for a session that already ended here — is ignored.
* A wallet has one live socket in the whole fleet (issue 10, hole 3): a socket that signs in
  tells every other worker, stamped with when it did, and an older socket of the wallet
  there closes with 4002 as a replaced one does here; an envelope from an older socket is
  answered with the newer one's stamp, so whatever the order of arrival the newest wins.
* The route to a peer is the newest one by epoch (defect 7): a session's copy held by a
  socket may predate the peer's resume on another worker (both users resuming at once), so
  the hub remembers the newest route it has seen per session — from a resume, a match, or
  the epoch and worker every relayed frame carries — and relays along that.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Final

import msgspec

from roulette.errors import Replaced, closing_code
from roulette.gateway.bridge import MAX_FRAMES_PER_ENVELOPE, Bridge, Envelope, Kind
from roulette.gateway.early_frames import EarlyFrames
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.observability.match_wait import MatchWaits
from roulette.observability.relay_latency import SAMPLE_MASK, RelayLatency
from roulette.storage.ports import Bus, ControlLog

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection

__all__ = ["Hub"]

_encode_session = msgspec.msgpack.Encoder().encode
_decode_session: Final = msgspec.msgpack.Decoder(Session).decode

MAX_REMEMBERED: Final = 16_384
"""Applied notices, ended sessions and routes remembered, each (oldest forgotten first)."""

NoticeKey = tuple[int, str, str, int]


class _Recent(OrderedDict[object, object]):
    """A bounded insertion-ordered map: the oldest entries go first."""

    def remember(self, key: object, value: object = None) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > MAX_REMEMBERED:
            self.popitem(last=False)


class Hub:
    """The registry of this worker's authenticated sockets, keyed by address."""

    __slots__ = (
        "_applied",
        "_early",
        "_ended",
        "_local",
        "_relay_seqs",
        "_routes",
        "_tick",
        "bridge",
        "duplicates",
        "latency",
        "relayed",
        "waits",
        "worker_id",
        "workers",
    )

    def __init__(
        self,
        worker_id: str,
        bus: Bus | None = None,
        *,
        control: ControlLog | None = None,
        frames_per_envelope: int = MAX_FRAMES_PER_ENVELOPE,
    ) -> None:
        """A hub for ``worker_id``; with a ``bus`` (several workers), a bridge to the others
        (``frames_per_envelope``: see :class:`Bridge`).

        The bridge delivers what arrives for this worker to this hub, so the hub builds it:
        nothing is attached after construction.
        """
        self.worker_id = worker_id
        self._local: dict[Address, Connection] = {}
        self.relayed = 0
        self.duplicates = 0
        self.bridge = (
            Bridge(
                bus,
                worker_id,
                self.deliver,
                control=control,
                frames_per_envelope=frames_per_envelope,
            )
            if bus is not None
            else None
        )
        self._applied = _Recent()
        self._ended = _Recent()
        self._routes = _Recent()
        self._relay_seqs = _Recent()
        """Sender worker -> the last relay envelope number applied from it."""
        self._early = EarlyFrames()
        self._tick = 0
        self.latency = RelayLatency()  # issue 12: 1 relayed message in 64 is timed
        self.waits = MatchWaits()  # issue 12: time to match of this worker's users
        self.workers: frozenset[str] = frozenset()
        """Every live worker as of the last heartbeat (membership keeps it current)."""

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

    def claim(self, conn: Connection, stamp_us: int) -> None:
        """Make ``conn`` (registered here) its wallet's only socket in the fleet: an older one
        on another worker closes with 4002. ``stamp_us``: when it signed in (µs, wall clock)."""
        conn.claimed_us = stamp_us
        bridge = self.bridge
        if bridge is None:
            return
        envelope = Envelope(Kind.REPLACED, conn.address, text=self.worker_id, number=stamp_us)
        for worker in self.workers:
            if worker != self.worker_id:
                bridge.send(worker, envelope)

    def announce(self, workers: frozenset[str], since_us: int) -> int:
        """Send the claims made here since ``since_us`` to ``workers``, just learned of.

        A worker that joined a moment ago was not yet among :attr:`workers` when a socket here
        claimed its wallet, so an older socket it holds would live on; returns how many sent.
        """
        bridge = self.bridge
        if bridge is None:
            return 0
        sent = 0
        for conn in self._local.values():
            if conn.claimed_us < since_us:
                continue
            envelope = Envelope(
                Kind.REPLACED, conn.address, text=self.worker_id, number=conn.claimed_us
            )
            for worker in workers - {self.worker_id}:
                bridge.send(worker, envelope)
                sent += 1
        return sent

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

    # ------------------------------------------------------------ routes

    def route(self, session: Session) -> Session:
        """The newest copy of ``session`` this worker has seen (by epoch)."""
        known = self._routes.get(session.id)
        if isinstance(known, Session) and known.epoch > session.epoch:
            return known
        return session

    def learn_route(self, session: Session) -> None:
        """Remember ``session`` as a route if it is newer than what is known."""
        if session.id in self._ended:
            return
        known = self._routes.get(session.id)
        if not isinstance(known, Session) or session.epoch >= known.epoch:
            self._routes.remember(session.id, session)

    def _learn_sender(self, held: Session, peer: Address, epoch: int, worker: str) -> None:
        """A relayed frame from ``peer`` says where it is at ``epoch`` (``held``: our copy)."""
        known = self.route(held)
        if not worker or known is None or epoch <= known.epoch or not known.has(peer):
            return
        if peer == known.initiator:
            newer = replace(known, epoch=epoch, initiator_worker=WorkerId(worker))
        else:
            newer = replace(known, epoch=epoch, responder_worker=WorkerId(worker))
        self._routes.remember(held.id, newer)

    # ------------------------------------------------------------ outgoing

    def relay(self, peer: Address, session: Session, frame: bytes) -> bool:
        """Send an encoded frame to ``peer`` if it is still in ``session`` (newest route)."""
        self._tick += 1
        if not self._tick & SAMPLE_MASK:
            return self._relay_timed(peer, session, frame)
        known = self._routes.get(session.id)  # self.route(session), inlined: every message
        if isinstance(known, Session) and known.epoch > session.epoch:
            session = known
        worker = session.worker_of(peer)
        bridge = self.bridge
        if bridge is not None and worker != self.worker_id:  # self._away(worker), inlined
            bridge.relay(worker, peer, session.id, session.epoch, frame)
            return True
        return self._relay_here(peer, session.id, frame)

    def _relay_timed(self, peer: Address, session: Session, frame: bytes) -> bool:
        """:meth:`relay`, timed from the frame's arrival at the sender's socket (a sample)."""
        sender = self._local.get(session.peer_of(peer))
        now = time.monotonic()
        arrived = sender.last_seen if sender is not None else now
        if not 0.0 <= now - arrived < 60.0:  # another clock (tests): time the hub's part only
            arrived = now
        session = self.route(session)
        worker = session.worker_of(peer)
        bridge = self._away(worker)
        if bridge is not None:
            sent_us = int((time.time() - (now - arrived)) * 1_000_000)  # arrival, wall clock
            bridge.relay(worker, peer, session.id, session.epoch, frame, sent_us=sent_us)
            return True
        if not self._relay_here(peer, session.id, frame):
            return False
        self.latency.record("local", time.monotonic() - arrived)
        return True

    def matched(self, session: Session, names: Mapping[Address, str | None]) -> None:
        """Tell both users of a new session, with the peer's display name."""
        self.learn_route(session)
        body = b""
        for address in (session.initiator, session.responder):
            name = names.get(session.peer_of(address))
            bridge = self._away(session.worker_of(address))
            if bridge is None:
                conn = self._local.get(address)
                if conn is not None:
                    conn.on_matched(session, name)
                    self.waits.matched(address, session.started_at)
                    self._release_early(address, session.id)
                continue
            body = body or _encode_session(session)
            envelope = Envelope(Kind.MATCHED, address, session.id, body, name or "")
            bridge.send(session.worker_of(address), envelope)

    def resumed(self, session: Session, returning: Address) -> None:
        """Tell the peer of ``returning`` that it is back (on ``session``'s new worker)."""
        self.learn_route(session)
        self._release_early(returning, session.id)
        session = self.route(session)
        peer = session.peer_of(returning)
        bridge = self._away(session.worker_of(peer))
        if bridge is None:
            self._resumed_here(peer, session)
        else:
            envelope = Envelope(Kind.RESUMED, peer, session.id, _encode_session(session))
            bridge.send(session.worker_of(peer), envelope)

    def session_ended(self, session: Session, reasons: Mapping[Address, str]) -> None:
        """Tell each user of ``session`` that it ended, with the reason meant for them."""
        session = self.route(session)
        self._forget(session.id)
        for address, reason in reasons.items():
            bridge = self._away(session.worker_of(address))
            if bridge is None:
                self._ended_here(address, session.id, reason)
            else:
                envelope = Envelope(
                    Kind.ENDED, address, session.id, text=reason, number=session.epoch
                )
                bridge.send(session.worker_of(address), envelope)

    def peer_disconnected(self, session: Session, gone: Address) -> None:
        """Tell the peer of ``gone`` that its socket closed."""
        session = self.route(session)
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
        """Carry out an envelope another worker sent for a user of this one (once)."""
        address = Address(envelope.address)
        kind = envelope.kind
        if kind is Kind.RELAY:
            self._relay_in(address, envelope)
        elif kind is Kind.KICK:
            self._kick_here(address, envelope.number, envelope.text)
        elif kind is Kind.REPLACED:
            self._replaced_here(address, envelope.number, envelope.text)
        else:
            self._control_in(address, envelope)

    def _relay_in(self, address: Address, envelope: Envelope) -> None:
        if envelope.seq:  # a batch retried after a failed publish may arrive twice
            last = self._relay_seqs.get(envelope.text, 0)
            if not isinstance(last, int) or envelope.seq <= last:
                self.duplicates += 1
                return
            self._relay_seqs.remember(envelope.text, envelope.seq)
        session_id = SessionId(envelope.session_id)
        conn = self._local.get(address)
        held = conn.session if conn is not None else None
        # An epoch no newer than our copy's teaches nothing (the route known is at least as
        # new): the common case, decided here without the route lookup.
        if held is not None and held.id == session_id and envelope.number > held.epoch:
            self._learn_sender(held, held.peer_of(address), envelope.number, envelope.text)
        delivered = self._relay_here(address, session_id, envelope.body)
        if not delivered:
            self._hold_early(address, session_id, envelope.body)
        for frame in envelope.more:  # the frames relayed after it, in order
            if not self._relay_here(address, session_id, frame):
                self._hold_early(address, session_id, frame)
        if delivered and envelope.sent_us:  # a timed sample: observed once written out
            self.latency.record("bridge", time.time() - envelope.sent_us / 1_000_000)

    def _control_in(self, address: Address, envelope: Envelope) -> None:
        kind, session_id = envelope.kind, SessionId(envelope.session_id)
        session = _decode_session(envelope.body) if kind in (Kind.MATCHED, Kind.RESUMED) else None
        epoch = session.epoch if session is not None else envelope.number
        if not self._first_time((int(kind), address, session_id, epoch)):
            return
        if kind is Kind.ENDED:
            self._forget(session_id)
            self._ended_here(address, session_id, envelope.text)
        elif kind is Kind.PEER_GONE:
            self._gone_here(address, session_id, envelope.number)
        elif session is not None and session_id not in self._ended:
            self.learn_route(session)
            if kind is Kind.MATCHED:
                conn = self._local.get(address)
                if conn is not None:
                    conn.on_matched(session, envelope.text or None)
                    self.waits.matched(address, session.started_at)
            else:
                self._resumed_here(address, session)
            self._release_early(address, session_id)

    def _first_time(self, key: NoticeKey) -> bool:
        """True the first time a control notice is seen (at-least-once delivery)."""
        if key in self._applied:
            self.duplicates += 1
            return False
        self._applied.remember(key)
        return True

    def _forget(self, session_id: SessionId) -> None:
        self._ended.remember(session_id)
        self._routes.pop(session_id, None)
        self._early.drop(session_id)

    def _hold_early(self, address: Address, session_id: SessionId, frame: bytes) -> None:
        """Keep a frame that overtook its session's match or resume (two paths, no order)."""
        if session_id not in self._ended:
            self._early.hold(address, session_id, frame)

    def _release_early(self, address: Address, session_id: SessionId) -> None:
        for frame in self._early.take(address, session_id):
            self._relay_here(address, session_id, frame)

    def _relay_here(self, peer: Address, session_id: SessionId, frame: bytes) -> bool:
        conn = self._local.get(peer)
        if conn is None:
            return False
        held = conn.session  # not conn.session_id: one property less on the hot path
        if held is None or held.id != session_id:
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

    def _replaced_here(self, address: Address, stamp_us: int, worker: str) -> None:
        """A socket of ``address`` signed in on ``worker`` at ``stamp_us``: the older goes.

        Idempotent (a notice may arrive twice; a closed socket is no longer here), and ordered
        by (stamp, worker), the same on every worker, so exactly one socket survives.
        """
        conn = self._local.get(address)
        if conn is None:
            return
        if (conn.claimed_us, self.worker_id) > (stamp_us, worker):
            bridge = self.bridge  # ours is newer: the other must go (clocks skewed, or late)
            if bridge is not None:
                envelope = Envelope(
                    Kind.REPLACED, address, text=self.worker_id, number=conn.claimed_us
                )
                bridge.send(worker, envelope)
            return
        # Unregistered first, so its close frees nothing: the newer socket took the wallet's
        # queue place over (its worker left the queue for it) and may resume its session.
        del self._local[address]
        held = conn.session
        replaced = Replaced("replaced by a newer connection")
        conn.close(closing_code(replaced), replaced.message)
        if held is not None:
            self._tell_peer_gone(held, address)

    def _tell_peer_gone(self, held: Session, gone: Address) -> None:
        """``peer-disconnected`` for the session as ``gone``'s socket held it: at its epoch,
        so the peer ignores it if the newer socket resumed the session meanwhile."""
        peer = held.peer_of(gone)
        worker = self.route(held).worker_of(peer)
        bridge = self._away(worker)
        if bridge is None:
            self._gone_here(peer, held.id, held.epoch)
        else:
            bridge.send(worker, Envelope(Kind.PEER_GONE, peer, held.id, number=held.epoch))
