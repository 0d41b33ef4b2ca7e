"""The store operations of a socket — join, leave, next, end, close — run one at a time.

Each operation is a thin loop: ask the stores (one atomic step each), then tell the hub what
happened so it can notify both users of a session.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from picows import WSCloseCode

from roulette.errors import (
    CLOSE_UNAUTHENTICATED,
    BadRequest,
    Conflict,
    NotFound,
    PeerError,
    ServiceError,
)
from roulette.gateway.connection import Authenticate, Closed, Connection, ControlOp, GraceExpired
from roulette.gateway.context import GatewayContext
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Address, QueueEntry, Session, SessionId, WorkerId
from roulette.protocol import messages as m
from roulette.storage.ports import (
    Lobby,
    Moderation,
    Paired,
    Queued,
    SessionHistory,
    TokenFamilies,
)

__all__ = ["CLOSE_REPLACED", "Admit", "Controller", "GateCheck", "NameLookup", "new_session_id"]

NameLookup = Callable[[Address], Awaitable[str | None]]
"""A display name for an address (ENS), best effort."""

GateCheck = Callable[[Address, str, float], Awaitable[None]]
"""Raise unless the address may enter the named (token-gated) queue now."""

Admit = Callable[[Address, str | None, float], Awaitable[None]]
"""Raise unless the address may enter a queue (by name; None: the default one) now."""

NAME_LOOKUP_SECONDS = 0.5
"""Display names are decoration: a match never waits longer than this for them."""

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4002
"""Application close code (RFC 6455 §7.4.2): a newer socket of the same wallet took over."""


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

    async def drain(self, conn: Connection) -> None:
        """Run ``conn``'s pending operations in order; errors go back to that client only."""
        try:
            while conn.pending:
                op = conn.pending.pop(0)
                try:
                    await self.handle(conn, op)
                except PeerError as exc:
                    conn.send_error(exc)
                except ServiceError as exc:
                    log.warning("control_failed op=%s error=%s", type(op).__name__, exc)
                    conn.send_error(exc)
                except Exception:
                    log.exception("control_crashed op=%s", type(op).__name__)
                    conn.send_error(RuntimeError())
        finally:
            conn.busy = False

    async def handle(self, conn: Connection, op: ControlOp) -> None:
        """Dispatch one operation."""
        if isinstance(op, Authenticate):
            await self._authenticate(conn)
        elif isinstance(op, Closed):
            await self._closed(conn)
        elif conn.phase is Phase.CLOSED:
            return
        elif isinstance(op, m.JoinQueue):
            await self.join(conn, op)
        elif isinstance(op, m.LeaveQueue):
            await self._leave(conn)
        elif isinstance(op, m.Next):
            await self._next(conn)
        elif isinstance(op, m.EndSession):
            await self._end(conn, SessionId(op.session_id))
        elif isinstance(op, GraceExpired):
            await self._grace_expired(conn, op)
        else:
            await self._reconnect(conn, op)

    async def _authenticate(self, conn: Connection) -> None:
        now = self.ctx.wall()
        if not await self.families.is_active(conn.claims.family_id, now=now):
            self.ctx.metrics.auth_failure += 1
            conn.close(CLOSE_UNAUTHENTICATED, "token revoked")
            return
        if await self.moderation.is_banned(conn.address):
            conn.close(WSCloseCode.POLICY_VIOLATION, "banned")
            return
        if conn.phase is not Phase.AUTHENTICATING:
            return  # closed while we were checking
        previous = self.ctx.hub.register(conn)
        if previous is not None:
            previous.close(CLOSE_REPLACED, "replaced by a newer connection")
            await self._release(conn.address, previous.session_id)
        conn.on_authenticated()

    async def join(self, conn: Connection, join: m.JoinQueue) -> None:
        """Queue the user, or pair them at once with a waiting candidate."""
        if conn.phase is Phase.PAIRED:
            if not conn.peer_gone or conn.session_id is None:
                raise Conflict(
                    "already in a session; send next or end-session", code="already_in_session"
                )
            await self._end(conn, conn.session_id)  # the peer is gone: no need to wait for it
        if join.chain_id not in self.ctx.config.chain_ids:
            raise BadRequest(f"chain {join.chain_id} is not served here", code="chain_not_allowed")
        if join.queue is not None:
            if self.gate is None:
                raise BadRequest(f"no queue named {join.queue!r}", code="unknown_queue")
            await self.gate(conn.address, join.queue, self.ctx.wall())
        if self.admit is not None:
            await self.admit(conn.address, join.queue, self.ctx.wall())
        if await self.moderation.is_banned(conn.address):
            conn.close(WSCloseCode.POLICY_VIOLATION, "banned")
            return
        entry = QueueEntry(
            address=conn.address,
            chain_id=join.chain_id,
            interests=frozenset(i.lower() for i in join.preferences.interests),
            enqueued_at=self.ctx.wall(),
            worker=WorkerId(self.ctx.hub.worker_id),
            excluded=await self.moderation.exclusions(conn.address),
            queue=join.queue,
        )
        outcome = await self._join_lobby(conn, entry)
        if isinstance(outcome, Paired):
            conn.on_queued(join, 1)
            await self.announce(outcome.session)
        else:
            conn.on_queued(join, outcome.position)

    async def _join_lobby(self, conn: Connection, entry: QueueEntry) -> Queued | Paired:
        try:
            return await self.lobby.join(entry, now=entry.enqueued_at, session_id=new_session_id())
        except Conflict:
            # A session of this wallet's previous socket, waiting for a resume the user chose
            # not to make: end it (the peer learns) and join as asked.
            stale = await self.lobby.session_of(conn.address)
            if stale is None or conn.phase is Phase.PAIRED:
                raise
            ended = await self.lobby.end_session(stale.id, by=conn.address)
            if ended is not None:
                await self.finish(ended, {ended.peer_of(conn.address): "peer-left"})
            return await self.lobby.join(entry, now=entry.enqueued_at, session_id=new_session_id())

    async def audit_queue(self) -> int:
        """Tell local users the shared queue lost (a Redis failover) to join again.

        Returns how many were told. A user counts as lost when the lobby has neither a queue
        entry nor a session for them while their socket believes it is queued.
        """
        told = 0
        for conn in self.ctx.hub:
            if conn.phase is not Phase.QUEUED or conn.busy:
                continue  # busy: a join or next of its own is in flight
            if await self.lobby.position(conn.address) is not None:
                continue
            if await self.lobby.session_of(conn.address) is not None:
                continue  # matched a moment ago; match-found is on its way
            if conn.phase is Phase.QUEUED:
                conn.on_queue_lost()
                told += 1
        return told

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
        self.ctx.hub.session_ended(session, reasons)
        await self._remember(session, next(iter(reasons.values()), "ended"))

    async def _remember(self, session: Session, reason: str) -> None:
        try:
            await self.history.record_end(session, ended_at=self.ctx.wall(), reason=reason)
        except Exception:  # the history is for moderation; the live flow must go on
            log.exception("history_write_failed session=%s", session.id)

    async def _leave(self, conn: Connection) -> None:
        if conn.phase is Phase.QUEUED:
            await self.lobby.leave(conn.address)
            conn.on_left_queue()

    async def _next(self, conn: Connection) -> None:
        session_id = conn.session_id
        if session_id is not None:
            ended = await self.lobby.end_session(session_id, by=conn.address)
            if ended is not None:
                await self.finish(
                    ended, {conn.address: "next", ended.peer_of(conn.address): "peer-next"}
                )
            else:  # the peer ended it a moment ago; our notice is on its way
                conn.on_session_ended(session_id, "peer-next")
        join = conn.last_join or m.JoinQueue(chain_id=self.ctx.config.chain_ids[0])
        await self.join(conn, join)

    async def _end(self, conn: Connection, session_id: SessionId) -> None:
        ended = await self.lobby.end_session(session_id, by=conn.address)
        if ended is None:
            raise BadRequest(f"you are not in session {session_id!r}", code="not_in_session")
        await self.finish(ended, {conn.address: "ended", ended.peer_of(conn.address): "peer-ended"})

    async def _closed(self, conn: Connection) -> None:
        was_current = self.ctx.hub.unregister(conn)
        held_session, authenticated = conn.session_id, conn.phase is not Phase.AUTHENTICATING
        conn.on_closed()
        if was_current and authenticated:
            await self._release(conn.address, held_session)

    async def _release(self, address: Address, session_id: SessionId | None) -> None:
        """Free what a gone socket held: its queue entry; its session after the grace period.

        With a grace period the session stays live so the user may resume it from a new
        socket (``reconnect``); the peer hears ``peer-disconnected`` now, and its own socket
        ends the session if nobody comes back in time.
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
            self.ctx.metrics.sessions_ended += 1
            self.ctx.hub.peer_disconnected(ended, address)
            await self._remember(ended, "disconnected")

    async def _grace_expired(self, conn: Connection, op: GraceExpired) -> None:
        session = await self.lobby.session(op.session_id)
        if session is None or session.epoch != op.epoch or conn.session_id != op.session_id:
            return  # already ended, or resumed since
        ended = await self.lobby.end_session(op.session_id, by=None)
        if ended is not None:
            await self.finish(ended, {conn.address: "peer-timeout"})

    async def _reconnect(self, conn: Connection, op: m.Reconnect) -> None:
        """Take over this wallet's session from a dropped socket (any worker)."""
        expected = self.ctx.resume_token(op.session_id, conn.address)
        if not hmac.compare_digest(expected, op.resume_token):
            raise BadRequest("invalid resume token", code="invalid_resume_token")
        if conn.phase is Phase.PAIRED:
            raise Conflict("already in a session", code="already_in_session")
        session = await self.lobby.rebind(
            SessionId(op.session_id), conn.address, WorkerId(self.ctx.hub.worker_id)
        )
        if session is None:
            raise NotFound("that session is over; join the queue", code="session_not_found")
        conn.on_resumed(session)
        self.ctx.hub.resumed(session, conn.address)
