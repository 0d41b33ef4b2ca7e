"""One authenticated WebSocket: reads frames, applies the limits, calls the core, sends.

Relayed signals and chat take a synchronous fast path (decode, check the session, send to the
peer's socket). Everything that touches a store (join, next, end, close) is handed, in order,
to the :class:`~roulette.gateway.control.Controller`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final, cast

import msgspec
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from roulette.errors import CLOSE_MESSAGE_TOO_BIG, PeerError, RateLimited, public_message
from roulette.matchmaking.lifecycle import Event, Phase, next_phase
from roulette.matchmaking.records import Address, Session, SessionId
from roulette.protocol import messages as m
from roulette.relay.limits import Cooldown, Verdict

if TYPE_CHECKING:
    from roulette.auth.tokens import TokenClaims
    from roulette.gateway.context import GatewayContext

__all__ = ["Authenticate", "Closed", "Connection", "GraceExpired"]

log = logging.getLogger(__name__)

MAX_PENDING_CONTROL: Final = 16
"""Store operations queued per socket; a client that outruns its own store calls is abusive."""

_TEXT: Final = WSMsgType.TEXT

CLOSE_WAIT_SECONDS: Final = 2.0
"""How long a closing socket waits for the client's close frame before dropping TCP."""

_SIGNAL_TYPES: Final[dict[type[m.ClientMessage], str]] = {
    m.Offer: "offer",
    m.Answer: "answer",
    m.IceCandidate: "ice-candidate",
}


class Authenticate:
    """Internal control op: finish authentication (revocation and ban checks)."""

    __slots__ = ()


class Closed:
    """Internal control op: the socket is gone; release its queue entry and session."""

    __slots__ = ()


class GraceExpired:
    """Internal control op: the peer did not come back within the reconnect grace period."""

    __slots__ = ("epoch", "session_id")

    def __init__(self, session_id: SessionId, epoch: int) -> None:
        self.session_id = session_id
        self.epoch = epoch


ControlOp = (
    m.JoinQueue
    | m.LeaveQueue
    | m.Next
    | m.EndSession
    | m.Reconnect
    | Authenticate
    | Closed
    | GraceExpired
)


class Connection(WSListener):
    """The state of one socket and its reactions to frames and session events."""

    __slots__ = (
        "_fragments",
        "_grace_timer",
        "_idle_timer",
        "address",
        "busy",
        "claims",
        "ctx",
        "last_join",
        "last_seen",
        "limiter",
        "next_cooldown",
        "peer",
        "peer_gone",
        "pending",
        "phase",
        "session",
        "transport",
    )

    def __init__(self, ctx: GatewayContext, claims: TokenClaims) -> None:
        super().__init__()
        self.ctx = ctx
        self.claims = claims
        self.address: Address = claims.address
        self.phase = Phase.AUTHENTICATING
        self.session: Session | None = None
        self.peer: Address | None = None
        self.last_join: m.JoinQueue | None = None
        self.limiter = ctx.new_limiter()
        self.next_cooldown = Cooldown(ctx.config.limits.next_interval_seconds)
        # A list, not a deque: an empty deque allocates a 64-slot block, and at most
        # MAX_PENDING_CONTROL ops ever wait here (memory per idle socket is the scarce thing).
        self.pending: list[ControlOp] = []
        self.busy = False
        self.transport: WSTransport | None = None
        self._fragments: bytearray | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self.peer_gone = False
        self.last_seen = ctx.monotonic()

    # ------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        # A reader that lets this much pile up is too slow: pause_writing() disconnects it.
        transport.underlying_transport.set_write_buffer_limits(
            high=self.ctx.config.limits.outbound_buffer_bytes
        )
        self._idle_timer = asyncio.get_running_loop().call_later(
            self.ctx.config.idle_timeout_seconds, self._on_idle
        )
        self.ctx.metrics.connections_opened += 1
        self.submit(Authenticate())

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if transport.is_close_frame_sent and kind is not WSMsgType.CLOSE:
            return  # closing: RFC 6455 §5.5.1, nothing more is processed after our close
        self.last_seen = now = self.ctx.monotonic()  # any frame, pongs too, proves liveness
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            if frame.fin:
                self._on_message(frame.get_payload_as_bytes(), now)
            else:
                self._fragments = bytearray(frame.get_payload_as_memoryview())
        elif kind is WSMsgType.CONTINUATION:
            self._on_continuation(frame)
        elif kind is WSMsgType.CLOSE:
            # RFC 6455 §5.5.1: answer a close with a close, then drop the TCP connection.
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._cancel_idle_timer()
        self._cancel_grace_timer()
        self.ctx.metrics.connections_closed += 1
        self.submit(Closed())

    def pause_writing(self) -> None:
        # The kernel buffer and our outbound buffer are full: a slow reader. Dropping it keeps
        # memory flat; a close frame could not get through anyway.
        log.info("slow_reader_disconnected address=%s", self.address)
        self.ctx.metrics.slow_readers += 1
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    # ------------------------------------------------------------ frames → messages

    def _on_continuation(self, frame: WSFrame) -> None:
        if self._fragments is None:
            self.close(WSCloseCode.PROTOCOL_ERROR, "continuation without a first frame")
            return
        self._fragments += frame.get_payload_as_memoryview()
        if len(self._fragments) > self.ctx.config.limits.max_message_bytes:
            self.close(CLOSE_MESSAGE_TOO_BIG, "message over 65536 bytes")
            return
        if frame.fin:
            payload, self._fragments = bytes(self._fragments), None
            self._on_message(payload, self.last_seen)

    def _on_message(self, payload: bytes, now: float) -> None:
        verdict = self.limiter.record(now)
        if verdict is not Verdict.ALLOW:
            self._on_rate_limited(verdict)
            return
        try:
            msg = m.decode_client(payload)
        except PeerError as exc:
            self.send_error(exc)
            return
        kind = type(msg)
        if kind in _SIGNAL_TYPES:
            self._relay_signal(msg, _SIGNAL_TYPES[kind])  # type: ignore[arg-type]
        elif kind is m.Chat:
            self._relay_chat(msg)  # type: ignore[arg-type]
        elif kind is m.Heartbeat:
            self.send(m.HeartbeatAck())
        elif kind is m.Next and not self.next_cooldown.allow(now):
            self.send_error(RateLimited("next at most once per 2 s", code="rate_limited"))
        elif kind is m.Next and not self._skip_allowed(now):
            self.send_error(RateLimited("too many skips; wait a minute", code="skip_limited"))
        else:
            self.submit(msg)  # type: ignore[arg-type]

    def _skip_allowed(self, now: float) -> bool:
        skips = self.ctx.skips  # per wallet, so a new socket does not get a new budget
        return skips is None or skips.allow(self.address, now)

    def _on_rate_limited(self, verdict: Verdict) -> None:
        self.ctx.metrics.rate_limited += 1
        if verdict is Verdict.CLOSE:
            self.close(WSCloseCode.POLICY_VIOLATION, "message rate abuse")
        else:
            self.send_error(RateLimited("too many messages; slow down", code="rate_limited"))

    # ------------------------------------------------------------ the relay fast path

    def _relay_signal(self, msg: m.Offer | m.Answer | m.IceCandidate, kind: str) -> None:
        session = self.session
        if session is None or msg.session_id != session.id or self.peer is None:
            self._not_in_session(msg.session_id)
            return
        data = msg.data
        if self.ctx.ice_filter is not None:  # ICE_RELAY_ONLY (roulette.relay.ice)
            filtered = self.ctx.ice_filter(kind, bytes(data))
            if filtered is None:
                return
            data = msgspec.Raw(filtered)
        frame = m.encode(
            m.RelayOut(type=kind, sessionId=session.id, sender=self.address, data=data)
        )
        if not self.ctx.hub.relay(self.peer, session, frame):
            self.ctx.metrics.relay_dropped += 1

    def _relay_chat(self, msg: m.Chat) -> None:
        session = self.session
        if session is None or msg.session_id != session.id or self.peer is None:
            self._not_in_session(msg.session_id)
            return
        frame = m.encode(m.ChatOut(session_id=session.id, sender=self.address, text=msg.text))
        if not self.ctx.hub.relay(self.peer, session, frame):
            self.ctx.metrics.relay_dropped += 1

    def _not_in_session(self, session_id: str) -> None:
        self.send(m.Error(code="not_in_session", message=f"you are not in session {session_id!r}"))

    # ------------------------------------------------------------ control ops

    def submit(self, op: ControlOp) -> None:
        """Queue a store operation; they run one at a time, in order, per socket."""
        if len(self.pending) >= MAX_PENDING_CONTROL and not isinstance(op, Closed):
            self.close(WSCloseCode.POLICY_VIOLATION, "too many pending requests")
            return
        self.pending.append(op)
        if not self.busy:
            self.busy = True
            self.ctx.spawn_control(self)

    # ------------------------------------------------------------ session events

    @property
    def session_id(self) -> SessionId | None:
        """The id of the live session, if any."""
        return self.session.id if self.session is not None else None

    def move(self, event: Event) -> None:
        """Apply one lifecycle transition (see :mod:`roulette.matchmaking.lifecycle`)."""
        self.phase = next_phase(self.phase, event)

    def on_authenticated(self) -> None:
        """The token's family is live and the address is not banned."""
        self.move(Event.AUTHENTICATED)
        self.send(m.Connected(address=self.address))

    def on_queued(self, join: m.JoinQueue, position: int) -> None:
        """The user waits in a queue."""
        self._cancel_idle_timer()
        self.last_join = join
        self.move(Event.QUEUED)
        self.send(m.QueueJoined(chain_id=join.chain_id, position=position))

    def on_left_queue(self) -> None:
        """The user left the queue on request."""
        self.move(Event.LEFT_QUEUE)
        self.send(m.QueueLeft())

    def on_queue_lost(self) -> None:
        """The shared queue no longer holds this user: ask the client to join again."""
        self.move(Event.LEFT_QUEUE)
        self.send(m.QueueReset(reason="state-lost"))

    def on_matched(self, session: Session, peer_name: str | None = None) -> None:
        """A session with ``session.peer_of(self.address)`` began (or resumed)."""
        if self.phase is Phase.CLOSED:
            return
        self._cancel_idle_timer()
        self._cancel_grace_timer()
        self.move(Event.MATCHED)
        self.session, self.peer, self.peer_gone = session, session.peer_of(self.address), False
        self.send(self.ctx.match_found(session, self.address, peer_name))

    def on_resumed(self, session: Session) -> None:
        """This socket took over its user's session after a reconnect."""
        self._cancel_idle_timer()
        self.move(Event.MATCHED)
        self.session, self.peer, self.peer_gone = session, session.peer_of(self.address), False
        self.send(m.SessionResumed(session_id=session.id, peer_id=self.peer))

    def on_peer_resumed(self, session: Session) -> None:
        """The peer came back (maybe on another worker): relay to where it is now."""
        if self.session_id != session.id:
            return
        self._cancel_grace_timer()
        self.session, self.peer_gone = session, False
        self.send(m.SessionResumed(session_id=session.id, peer_id=session.peer_of(self.address)))

    def on_session_ended(self, session_id: SessionId, reason: str) -> None:
        """The session ended (skip, end, time limit, ban, the peer never came back)."""
        if self.session_id == session_id:
            self._cancel_grace_timer()
            self.session, self.peer, self.peer_gone = None, None, False
            self.move(Event.SESSION_ENDED)
        self.send(m.SessionEnded(session_id=session_id, reason=reason))

    def on_peer_disconnected(self, session_id: SessionId, epoch: int) -> None:
        """The peer's socket closed: wait for it to resume, or end after the grace period."""
        if self.session_id != session_id or self.peer_gone:
            return
        self.peer_gone = True
        self.send(m.PeerDisconnected(session_id=session_id))
        grace = self.ctx.config.reconnect_grace_seconds
        self._grace_timer = asyncio.get_running_loop().call_later(
            grace, self.submit, GraceExpired(session_id, epoch)
        )

    def on_closed(self) -> None:
        """The socket is gone; nothing more is sent or relayed to it."""
        self._cancel_grace_timer()
        self.session, self.peer = None, None
        self.move(Event.CLOSED)

    # ------------------------------------------------------------ output

    def send(self, message: m.ServerMessage) -> None:
        """Encode and send one server message."""
        self.send_frame(m.encode(message))

    def send_frame(self, frame: bytes) -> None:
        """Send an encoded text frame (picows drops it once our close frame is out)."""
        transport = self.transport
        if transport is not None:
            transport.send(_TEXT, frame)

    def send_error(self, error: BaseException) -> None:
        """Tell the client what went wrong; the socket stays open."""
        code, message = public_message(error)
        self.send(m.Error(code=code, message=message))

    def close(self, code: int | WSCloseCode, reason: str) -> None:
        """Close the socket with an RFC 6455 close code (or one of ours, 4000-4999)."""
        if self.transport is None or self.transport.is_close_frame_sent:
            return
        # picows accepts any int; its stub only names the RFC 6455 codes.
        close_code = cast(WSCloseCode, code)
        self.transport.send_close(close_code, reason.encode()[:120])  # §5.5: payload ≤ 125
        # RFC 6455 §7.1.1: wait for the client's close before dropping TCP; dropping at once
        # with unread input makes the kernel send RST, and the client never sees our code.
        asyncio.get_running_loop().call_later(CLOSE_WAIT_SECONDS, self.transport.disconnect)

    def drop(self, reason: str) -> None:
        """Drop a peer that stopped answering: no close handshake, it would not answer it."""
        log.info("socket_dropped address=%s reason=%s", self.address, reason)
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    def _on_idle(self) -> None:
        self._idle_timer = None
        if self.phase in (Phase.AUTHENTICATING, Phase.IDLE) and self.session is None:
            self.close(WSCloseCode.GOING_AWAY, "idle: never joined a queue")

    def _cancel_grace_timer(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
