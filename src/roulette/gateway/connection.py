"""One WebSocket: reads frames, applies the limits, and carries out its machine's actions.

The protocol itself — which message is allowed in which phase, what a store answer or a notice
changes — is :class:`~roulette.matchmaking.socket_machine.SocketMachine`, pure. This class is
the thin loop around it: it feeds events in and carries actions out (send, close, timers, and
store operations, which the :class:`~roulette.gateway.control.Controller` runs in order).

Relayed signals and chat take a synchronous fast path (decode, ask the machine for the peer,
send to the peer's socket) with no event or action objects: it is the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final, cast

import msgspec
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from roulette.errors import (
    PayloadTooLarge,
    PeerError,
    PolicyViolation,
    ProtocolError,
    RateLimited,
    RouletteError,
    TooManyHandshakes,
    closing_code,
    public_message,
)
from roulette.gateway.frames import frame_fault, text_fault
from roulette.gateway.relay_frame import relay_head
from roulette.identity import Address, SessionId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.matchmaking.socket_actions import (
    Action,
    CancelTimer,
    Close,
    Send,
    SendError,
    SendMatch,
    StartTimer,
    Store,
    StoreOp,
)
from roulette.matchmaking.socket_machine import SocketMachine
from roulette.protocol import messages as m
from roulette.relay.limits import Verdict

if TYPE_CHECKING:
    from roulette.auth.tokens import TokenClaims
    from roulette.gateway.context import GatewayContext

__all__ = ["Connection"]

log = logging.getLogger(__name__)

_TEXT: Final = WSMsgType.TEXT
_CLOSE: Final = WSMsgType.CLOSE
_END: Final = b"}"

CLOSE_WAIT_SECONDS: Final = 2.0
"""How long a closing socket waits for the client's close frame before dropping TCP."""

_SIGNAL_TYPES: Final[dict[type[m.ClientMessage], str]] = {
    m.Offer: "offer",
    m.Answer: "answer",
    m.IceCandidate: "ice-candidate",
}


class Connection(WSListener):
    """One socket: its transport, its limits, its timers, and its :class:`SocketMachine`."""

    __slots__ = (
        "_forwarded",
        "_fragments",
        "_head",
        "_head_kind",
        "_head_session",
        "_timers",
        "address",
        "claimed_us",
        "claims",
        "ctx",
        "last_seen",
        "limiter",
        "machine",
        "transport",
    )

    def __init__(
        self, ctx: GatewayContext, claims: TokenClaims, forwarded_for: str | None = None
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.claims = claims
        self.address: Address = claims.address
        self.machine = SocketMachine(claims.address, ctx.rules)
        # Per wallet, shared by its sockets: a reconnect or a resume does not refill it.
        self.limiter = ctx.new_limiter(claims.address)
        self.transport: WSTransport | None = None
        self._fragments: bytearray | None = None
        # At most two timers (idle, grace); created on first use to keep idle sockets small.
        self._timers: dict[str, asyncio.TimerHandle] | None = None
        self.last_seen = ctx.monotonic()
        self.claimed_us = 0
        """When this socket became its wallet's one (µs, wall clock); 0: not yet."""
        # The handshake's X-Forwarded-For, read once at connect (believed only from
        # TRUSTED_PROXIES) so that the per-IP handshake budget counts the client, not HAProxy.
        self._forwarded = forwarded_for
        # The last relayed frame's head (relay_frame) and what it was for: kind, session id.
        self._head = b""
        self._head_kind = ""
        self._head_session = ""

    # ------------------------------------------------------------ the machine's state

    @property
    def phase(self) -> Phase:
        """Where the socket is in its life."""
        return self.machine.phase

    @property
    def session(self) -> Session | None:
        """The live session, if any."""
        return self.machine.session

    @property
    def session_id(self) -> SessionId | None:
        """The id of the live session, if any."""
        return self.machine.session_id

    @property
    def peer(self) -> Address | None:
        """The other user of the live session."""
        return self.machine.peer

    @property
    def peer_gone(self) -> bool:
        """True while the peer's socket is closed and the grace period runs."""
        return self.machine.peer_gone

    @property
    def busy(self) -> bool:
        """True while one of this socket's store operations runs."""
        return self.machine.busy

    # ------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        # picows keeps the upgrade request and our answer for the socket's life
        # (WSTransport.request, .response). Every header was read by now (the token, cookies,
        # Origin, X-Forwarded-For), and a browser's (User-Agent, cookies, ...) weigh ~1 KiB.
        transport.request.headers.clear()
        transport.response.headers.clear()
        # A reader that lets this much pile up is too slow: pause_writing() disconnects it.
        transport.underlying_transport.set_write_buffer_limits(
            high=self.ctx.config.limits.outbound_buffer_bytes
        )
        self.ctx.metrics.connections_opened += 1
        peername = transport.underlying_transport.get_extra_info("peername")
        forwarded, self._forwarded = self._forwarded, None
        if not self.ctx.admit_peer(peername, forwarded):
            self.close_for(TooManyHandshakes("too many handshakes from your address; retry later"))
            return
        self.apply(self.machine.opened())

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if transport.is_close_frame_sent and kind is not _CLOSE:
            return  # closing: RFC 6455 §5.5.1, nothing more is processed after our close
        self.last_seen = now = self.ctx.monotonic()  # any frame, pongs too, proves liveness
        if (
            kind is _TEXT
            and frame.fin
            and self._fragments is None
            and not (frame.rsv1 or frame.rsv2 or frame.rsv3)
        ):  # a whole plain text frame, nearly all of them: frame_fault has nothing to say
            self._on_message(frame.get_payload_as_bytes(), now)
            return
        fault = frame_fault(frame, self._fragments is not None)  # RFC 6455 §5.2, §5.4
        if fault is not None:
            self.close_for(fault)
            return
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
        self.ctx.metrics.connections_closed += 1
        self.apply(self.machine.closed())

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
            self.close_for(ProtocolError("continuation without a first frame"))
            return
        self._fragments += frame.get_payload_as_memoryview()
        limit = self.ctx.config.limits.max_message_bytes
        if len(self._fragments) > limit:
            self.close_for(PayloadTooLarge(f"message over {limit} bytes"))
            return
        if frame.fin:
            payload, self._fragments = bytes(self._fragments), None
            self._on_message(payload, self.last_seen)

    def _on_message(self, payload: bytes, now: float) -> None:
        fault = text_fault(payload)  # RFC 6455 §8.1: never relay text that is not UTF-8
        if fault is not None:
            self.close_for(fault)
            return
        verdict = self.limiter.record(now)
        if verdict is not Verdict.ALLOW:
            self._on_rate_limited(verdict)
            return
        if self.ctx.debts is not None and self.limiter.report_due(now):
            self.note_debts()  # a heavy sender: its next socket may sign in before this ends
        try:
            msg = m.decode_client(payload)
        except PeerError as exc:
            self.send_error(exc)
            return
        kind = type(msg)
        signal = _SIGNAL_TYPES.get(kind)
        if signal is not None:
            self._relay_signal(msg, signal)  # type: ignore[arg-type]
        elif kind is m.Chat:
            self._relay_chat(msg)  # type: ignore[arg-type]
        elif kind is m.Heartbeat:
            self.send(m.HeartbeatAck())
        elif kind is m.Next and not self._skip_allowed(now):
            self.send_error(RateLimited("too many skips; wait a minute", code="skip_limited"))
        else:
            self.apply(self.machine.message(msg, now))  # type: ignore[arg-type]

    def _skip_allowed(self, now: float) -> bool:
        skips = self.ctx.skips  # per wallet, so a new socket does not get a new budget
        if skips is None:
            return True
        if not skips.allow(self.address, now):
            return False
        self.note_debts()
        return True

    def note_debts(self) -> None:
        """Share what this wallet owes its budgets now (written behind our back)."""
        if self.ctx.debts is not None:
            self.ctx.debts.note(self.address, self.limiter, self.ctx.skips)

    def _on_rate_limited(self, verdict: Verdict) -> None:
        self.ctx.metrics.rate_limited += 1
        if verdict is Verdict.CLOSE:
            self.close_for(PolicyViolation("message rate abuse"))
        else:
            self.send_error(RateLimited("too many messages; slow down", code="rate_limited"))

    # ------------------------------------------------------------ the relay fast path

    def _relay_signal(self, msg: m.Offer | m.Answer | m.IceCandidate, kind: str) -> None:
        # SocketMachine.relay_peer, inlined: this runs for every relayed message.
        machine = self.machine
        session, peer = machine.session, machine.peer
        if session is None or peer is None or session.id != msg.session_id:
            self._not_in_session(msg.session_id)
            return
        data = msg.data
        if self.ctx.ice_filter is not None:  # ICE_RELAY_ONLY (roulette.relay.ice)
            filtered = self.ctx.ice_filter(kind, bytes(data))
            if filtered is None:
                return
            data = msgspec.Raw(filtered)
        if kind is not self._head_kind or session.id != self._head_session:
            self._head = relay_head(kind, session.id, self.address)
            self._head_kind, self._head_session = kind, session.id
        frame = b"".join((self._head, data, _END))  # == m.encode(RelayOut(...)), cheaper
        if not self.ctx.hub.relay(peer, session, frame):
            self.ctx.metrics.relay_dropped += 1

    def _relay_chat(self, msg: m.Chat) -> None:
        # SocketMachine.relay_peer, inlined: this runs for every relayed message.
        machine = self.machine
        session, peer = machine.session, machine.peer
        if session is None or peer is None or session.id != msg.session_id:
            self._not_in_session(msg.session_id)
            return
        frame = m.encode(m.ChatOut(session_id=session.id, sender=self.address, text=msg.text))
        if not self.ctx.hub.relay(peer, session, frame):
            self.ctx.metrics.relay_dropped += 1

    def _not_in_session(self, session_id: str) -> None:
        self.send(m.Error(code="not_in_session", message=f"you are not in session {session_id!r}"))

    # ------------------------------------------------------------ actions

    def apply(self, actions: list[Action]) -> None:
        """Carry out the machine's actions; a store operation starts a control task.

        (The controller's own loop uses :meth:`carry_out` and runs the operation itself.)
        """
        op = self.carry_out(actions)
        if op is not None:
            self.ctx.spawn_control(self, op)

    def carry_out(self, actions: list[Action]) -> StoreOp | None:
        """Carry out ``actions`` except a store operation, which is returned to run."""
        op: StoreOp | None = None
        for action in actions:
            if isinstance(action, Send):
                self.send(action.message)
            elif isinstance(action, SendMatch):
                self.send(self.ctx.match_found(action.session, self.address, action.peer_name))
            elif isinstance(action, SendError):
                self.send_error(action.error)
            elif isinstance(action, Close):
                self.close_for(action.error)
            elif isinstance(action, Store):
                op = action.op
            elif isinstance(action, StartTimer):
                self._start_timer(action.kind, action.seconds)
            elif isinstance(action, CancelTimer):
                self._cancel_timer(action.kind)
        return op

    def _start_timer(self, kind: str, seconds: float) -> None:
        timers = self._timers
        if timers is None:
            timers = self._timers = {}
        old = timers.pop(kind, None)
        if old is not None:
            old.cancel()
        timers[kind] = asyncio.get_running_loop().call_later(seconds, self._fire, kind)

    def _cancel_timer(self, kind: str) -> None:
        if self._timers is not None:
            handle = self._timers.pop(kind, None)
            if handle is not None:
                handle.cancel()

    def _fire(self, kind: str) -> None:
        if self._timers is not None:
            self._timers.pop(kind, None)
        self.apply(self.machine.timer(kind))

    # ------------------------------------------------------------ notices (from the hub)

    def on_matched(self, session: Session, peer_name: str | None = None) -> None:
        """A session with ``session.peer_of(self.address)`` began."""
        self.apply(self.machine.matched(session, peer_name))

    def on_peer_resumed(self, session: Session) -> None:
        """The peer came back (maybe on another worker): relay to where it is now."""
        self.apply(self.machine.peer_resumed(session))

    def on_session_ended(self, session_id: SessionId, reason: str) -> None:
        """The session ended (skip, end, time limit, ban, the peer never came back)."""
        self.apply(self.machine.ended(session_id, reason))

    def on_peer_disconnected(self, session_id: SessionId, epoch: int) -> None:
        """The peer's socket closed: wait for it to resume, or end after the grace period."""
        self.apply(self.machine.peer_disconnected(session_id, epoch))

    def on_queue_lost(self) -> None:
        """The shared queue no longer holds this user: ask the client to join again."""
        self.apply(self.machine.queue_lost())

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

    def close_for(self, error: RouletteError) -> None:
        """Close the socket because of ``error``, with the code :func:`close_code` maps it to."""
        self.close(closing_code(error), error.message)

    def close(self, code: int, reason: str) -> None:
        """Close with a code already chosen by :func:`~roulette.errors.close_code` (or a peer
        worker's kick, which carries one)."""
        if self.transport is None or self.transport.is_close_frame_sent:
            return
        # picows accepts any int; its stub only names the RFC 6455 codes.
        close_code_ = cast(WSCloseCode, code)
        self.transport.send_close(close_code_, reason.encode()[:120])  # §5.5: payload ≤ 125
        # RFC 6455 §7.1.1: wait for the client's close before dropping TCP; dropping at once
        # with unread input makes the kernel send RST, and the client never sees our code.
        asyncio.get_running_loop().call_later(CLOSE_WAIT_SECONDS, self.transport.disconnect)

    def drop(self, reason: str) -> None:
        """Drop a peer that stopped answering: no close handshake, it would not answer it."""
        log.info("socket_dropped address=%s reason=%s", self.address, reason)
        if self.transport is not None:
            self.transport.disconnect(graceful=False)
