"""The store operations of a socket — join, leave, next, end, close — run one at a time.

Each operation is a thin loop: ask the stores (one atomic step each), tell the hub what
happened so it can notify both users of a session, and feed the answer to the socket's
:class:`~roulette.matchmaking.socket_machine.SocketMachine`, which says what the client hears
and which operation runs next. The machine admitted the operation against its phase table
before it got here, so nothing below runs for a socket that is not authenticated.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from roulette.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PeerError,
    Replaced,
    RouletteError,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from roulette.gateway.connection import Connection
from roulette.gateway.context import GatewayContext
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import QueueEntry, Session
from roulette.matchmaking.socket_actions import (
    Action,
    Authenticate,
    End,
    GraceExpired,
    Join,
    Leave,
    Next,
    Reconnect,
    Release,
    StoreOp,
)
from roulette.observability.metrics import HANDSHAKE_DURATION, SESSION_LENGTH
from roulette.protocol import messages as m
from roulette.storage.ports import (
    Lobby,
    Moderation,
    Paired,
    SessionHistory,
    TokenFamilies,
)

__all__ = ["Admit", "Controller", "GateCheck", "NameLookup", "new_session_id"]

NameLookup = Callable[[Address], Awaitable[str | None]]
"""A display name for an address (ENS), best effort."""

GateCheck = Callable[[Address, str, float], Awaitable[None]]
"""Raise unless the address may enter the named (token-gated) queue now."""

Admit = Callable[[Address, str | None, float], Awaitable[None]]
"""Raise unless the address may enter a queue (by name; None: the default one) now."""

NAME_LOOKUP_SECONDS = 0.5
"""Display names are decoration: a match never waits longer than this for them."""

log = logging.getLogger(__name__)

JoinOutcome = tuple[str, int | Session]
"""What a join did, as the machine reads it: ``("queued", position)`` or ``("paired", s)``."""


class _Fatal(Exception):
    """An operation found a reason to close the socket (banned while joining)."""

    def __init__(self, error: RouletteError) -> None:
        super().__init__(error.message)
        self.error = error


def new_session_id() -> SessionId:
    """A fresh, unguessable session id."""
    return SessionId(secrets.token_urlsafe(12))


@dataclass(slots=True)
class Controller:
    """Carries out the store operations the sockets of one worker ask for."""

    ctx: GatewayContext
    lobby: Lobby
    moderation: Moderation
    families: TokenFamilies
    history: SessionHistory
    names: NameLookup | None = None
    gate: GateCheck | None = None
    admit: Admit | None = None
    """New-wallet cool-down and the default queue's gate (roulette.runtime.safety)."""

    async def drain(self, conn: Connection, op: StoreOp | None) -> None:
        """Run ``op``, then every operation ``conn``'s machine starts after it, in order."""
        while op is not None:
            op = conn.carry_out(await self.step(conn, op))

    async def step(self, conn: Connection, op: StoreOp) -> list[Action]:
        """Run one operation; errors go back to that client only (as the machine decides)."""
        machine = conn.machine
        try:
            return await self.run(conn, op)
        except _Fatal as exc:
            return machine.failed(op, exc.error, fatal=True)
        except PeerError as exc:
            return machine.failed(op, exc)
        except ServiceError as exc:
            log.warning("control_failed op=%s error=%s", type(op).__name__, exc)
            return machine.failed(op, exc)
        except Exception:
            log.exception("control_crashed op=%s", type(op).__name__)
            return machine.failed(op, ServiceError("internal error; it has been logged"))

    async def run(self, conn: Connection, op: StoreOp) -> list[Action]:
        """Dispatch one operation; returns the machine's answer to it."""
        if isinstance(op, Authenticate):
            return await self._authenticate(conn, op)
        if isinstance(op, End):
            return await self._end(conn, op)
        if isinstance(op, Reconnect):
            return await self._reconnect(conn, op)
        return conn.machine.answered(op, await self._outcome(conn, op))

    async def _outcome(
        self, conn: Connection, op: Release | Join | Leave | Next | GraceExpired
    ) -> object:
        if isinstance(op, Release):
            await self._closed(conn, op)
            return None
        if isinstance(op, Leave):
            return await self.lobby.leave(conn.address)
        if isinstance(op, GraceExpired):
            return await self._grace_expired(conn, op)
        if isinstance(op, Join) and op.end_first is not None:
            await self._end_stale(conn, op.end_first)
        elif isinstance(op, Next):
            await self._next_end(conn, op.session_id)
        return await self._join(conn, op.join)

    async def _authenticate(self, conn: Connection, op: Authenticate) -> list[Action]:
        machine = conn.machine
        now, started = self.ctx.wall(), self.ctx.monotonic()
        if not await self.families.is_active(conn.claims.family_id, now=now):
            self.ctx.metrics.auth_failure += 1
            raise Unauthenticated("token revoked")
        if await self.moderation.is_banned(conn.address):
            raise Forbidden("banned")
        if self.ctx.debts is not None:  # start as far in debt as the wallet's last socket
            await self.ctx.debts.inherit(conn.address, conn.limiter, self.ctx.skips)
        if machine.phase is not Phase.AUTHENTICATING:
            return machine.answered(op)  # closed while we were checking
        previous = self.ctx.hub.register(conn)
        self.ctx.hub.claim(conn, int(self.ctx.wall() * 1_000_000))
        if previous is not None:
            previous.close_for(Replaced("replaced by a newer connection"))
            await self._release(conn.address, previous.session_id)
        elif self.ctx.hub.bridge is not None:
            # An older socket on another worker is closed without freeing anything (it cannot
            # know what this one does next): its queue entry goes now, before this client
            # may join again; its session waits for a resume (its worker tells the peer).
            await self._leave_quietly(conn.address)
        HANDSHAKE_DURATION.observe(self.ctx.monotonic() - started)
        return machine.authenticated(self.ctx.wall()) + machine.answered(op)

    async def _leave_quietly(self, address: Address) -> None:
        """Best effort: a store outage must not refuse a sign-in (a join would fail anyway)."""
        try:
            await self.lobby.leave(address)
        except ServiceError as exc:
            log.warning("sign_in_leave_failed address=%s error=%s", address, exc)

    async def _join(self, conn: Connection, join: m.JoinQueue) -> JoinOutcome:
        """Queue the user, or pair them at once with a waiting candidate."""
        if join.queue is not None:
            if self.gate is None:
                raise BadRequest(f"no queue named {join.queue!r}", code="unknown_queue")
            await self.gate(conn.address, join.queue, self.ctx.wall())
        if self.admit is not None:
            await self.admit(conn.address, join.queue, self.ctx.wall())
        if await self.moderation.is_banned(conn.address):
            raise _Fatal(Forbidden("banned"))
        entry = QueueEntry(
            address=conn.address,
            chain_id=join.chain_id,
            interests=frozenset(i.lower() for i in join.preferences.interests),
            enqueued_at=self.ctx.wall(),
            worker=WorkerId(self.ctx.hub.worker_id),
            excluded=await self.moderation.exclusions(conn.address),
            queue=join.queue,
        )
        return await self._join_lobby(conn, entry)

    async def _join_lobby(self, conn: Connection, entry: QueueEntry) -> JoinOutcome:
        self.ctx.hub.waits.joined(conn.address, entry.enqueued_at)  # time to match (issue 12)
        try:
            outcome = await self.lobby.join(
                entry, now=entry.enqueued_at, session_id=new_session_id()
            )
        except Conflict:
            session = await self.lobby.session_of(conn.address)
            if session is None:
                raise
            since = conn.machine.authenticated_at
            if since is not None and session.started_at >= since:
                # Made from this socket's own queue entry by another user's join while ours
                # was in flight; its match-found is on its way (or here already).
                return ("paired", session)
            # A session of this wallet's previous socket, waiting for a resume the user chose
            # not to make: end it (the peer learns) and join as asked.
            ended = await self.lobby.end_session(session.id, by=conn.address)
            if ended is not None:
                await self.finish(ended, {ended.peer_of(conn.address): "peer-left"})
            outcome = await self.lobby.join(
                entry, now=entry.enqueued_at, session_id=new_session_id()
            )
        if isinstance(outcome, Paired):
            await self.announce(outcome.session)  # the machine answers the join on match-found
            return ("paired", outcome.session)
        return ("queued", outcome.position)

    async def announce(self, session: Session) -> None:
        """Tell both users of a new session, with their peers' display names if known."""
        self.ctx.metrics.matches += 1
        self.ctx.hub.matched(session, await self._names(session))

    async def _names(self, session: Session) -> Mapping[Address, str | None]:
        if self.names is None:
            return {}
        pair = (session.initiator, session.responder)
        try:
            async with asyncio.timeout(NAME_LOOKUP_SECONDS):
                found = await asyncio.gather(*(self.names(a) for a in pair))
        except Exception:  # best effort: a name is never worth failing a match
            return {}
        return dict(zip(pair, found, strict=True))

    async def finish(self, session: Session, reasons: Mapping[Address, str]) -> None:
        """Record a session that ended and tell its users why (each their own reason)."""
        self.ctx.metrics.sessions_ended += 1
        SESSION_LENGTH.observe(max(0.0, self.ctx.wall() - session.started_at))
        self.ctx.hub.session_ended(session, reasons)
        await self._remember(session, next(iter(reasons.values()), "ended"))

    async def _remember(self, session: Session, reason: str) -> None:
        try:
            await self.history.record_end(session, ended_at=self.ctx.wall(), reason=reason)
        except Unavailable as error:  # the database is down: expected, no traceback
            log.warning("history_write_failed session=%s error=%s", session.id, error)
        except Exception:  # the history is for moderation; the live flow must go on
            log.exception("history_write_failed session=%s", session.id)

    async def _next_end(self, conn: Connection, session_id: SessionId | None) -> None:
        if session_id is None:
            return
        ended = await self.lobby.end_session(session_id, by=conn.address)
        if ended is not None:
            self.ctx.metrics.skips += 1
            await self.finish(
                ended, {conn.address: "next", ended.peer_of(conn.address): "peer-next"}
            )
        else:  # the peer ended it a moment ago; our notice is on its way
            conn.apply(conn.machine.ended(session_id, "peer-next"))

    async def _end(self, conn: Connection, op: End) -> list[Action]:
        ended = await self.lobby.end_session(op.session_id, by=conn.address)
        if ended is None:
            # The store has no such session (it ended unheard, or the store forgot it): the
            # socket must not stay in it.
            conn.apply(conn.machine.ended(op.session_id, "ended"))
        else:
            await self.finish(
                ended, {conn.address: "ended", ended.peer_of(conn.address): "peer-ended"}
            )
        return conn.machine.answered(op)

    async def _end_stale(self, conn: Connection, session_id: SessionId) -> None:
        """End the session whose peer is gone before joining (no need to wait for it)."""
        ended = await self.lobby.end_session(session_id, by=conn.address)
        if ended is None:
            conn.apply(conn.machine.ended(session_id, "peer-timeout"))
        else:
            await self.finish(
                ended, {conn.address: "ended", ended.peer_of(conn.address): "peer-ended"}
            )

    async def _closed(self, conn: Connection, op: Release) -> None:
        was_current = self.ctx.hub.unregister(conn)
        if op.authenticated:
            conn.note_debts()  # the wallet's next socket, on any worker, starts in this debt
        if was_current and op.authenticated:
            await self._release(conn.address, op.session_id)

    async def _release(self, address: Address, session_id: SessionId | None) -> None:
        """Free what a gone socket held: its queue entry; its session after the grace period.

        With a grace period the session stays live so the user may resume it from a new
        socket (``reconnect``); the peer hears ``peer-disconnected`` now, and its own socket
        ends the session if nobody comes back in time. With no grace period the session ends
        now and the peer hears ``session-ended {reason: "peer-disconnected"}``.
        """
        await self.lobby.leave(address)
        if session_id is None:
            return
        if self.ctx.config.reconnect_grace_seconds > 0:
            session = await self.lobby.session(session_id)
            if session is not None:
                self.ctx.hub.peer_disconnected(session, address)
            return
        ended = await self.lobby.end_session(session_id, by=address)
        if ended is not None:
            await self.finish(ended, {ended.peer_of(address): "peer-disconnected"})

    async def _grace_expired(self, conn: Connection, op: GraceExpired) -> bool:
        """End the session unless resumed; False when the store no longer had it."""
        session = await self.lobby.session(op.session_id)
        if session is None:
            return False
        if session.epoch != op.epoch:
            return True  # resumed since
        ended = await self.lobby.end_session(op.session_id, by=None)
        if ended is None:
            return False
        await self.finish(ended, {conn.address: "peer-timeout"})
        return True

    async def _reconnect(self, conn: Connection, op: Reconnect) -> list[Action]:
        """Take over this wallet's session from a dropped socket (any worker)."""
        request = op.request
        expected = self.ctx.resume_token(request.session_id, conn.address)
        # As bytes: compare_digest refuses str outside ASCII (a TypeError, not a refusal).
        if not hmac.compare_digest(expected.encode(), request.resume_token.encode()):
            raise BadRequest("invalid resume token", code="invalid_resume_token")
        session = await self.lobby.rebind(
            SessionId(request.session_id), conn.address, WorkerId(self.ctx.hub.worker_id)
        )
        if session is None:
            raise NotFound("that session is over; join the queue", code="session_not_found")
        if conn.machine.phase is Phase.QUEUED:
            # One queue entry or session per user: the resumed session replaces the entry.
            await self.lobby.leave(conn.address)
        actions = conn.machine.answered(op, session)
        self.ctx.hub.resumed(session, conn.address)
        return actions
