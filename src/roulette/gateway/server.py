"""The WebSocket listener (picows): the handshake checks, and the gateway's lifecycle.

The handshake refuses, before any frame: a foreign ``Origin`` (403), a missing or invalid
access token (401), a full or draining node (503), a wallet over its handshake budget (429).
Every 429 and 503 says when to come back (``Retry-After``, RFC 9110 §10.2.3). A handshake
without ``Origin`` comes from a non-browser client and is allowed (browsers always send it,
RFC 6455 §10.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket

from picows import (
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from roulette.auth.credentials import bearer_or_cookie
from roulette.auth.tokens import TokenClaims, TokenIssuer, TokenKind
from roulette.errors import DEFAULT_RETRY_AFTER_SECONDS, GoingAway, PeerError, Unauthenticated
from roulette.gateway.connection import Connection
from roulette.gateway.context import GatewayContext
from roulette.gateway.control import Controller
from roulette.matchmaking.socket_actions import StoreOp
from roulette.resilience.shedding import RETRY_AFTER_SECONDS
from roulette.supervised import supervised

__all__ = ["WORKER_HEADER", "Gateway", "bearer_or_cookie"]

log = logging.getLogger(__name__)

# Handed a Logger, picows builds each connection a child logging.Logger of its own (with its
# handler and filter lists and level cache: ~0.6 KiB, kept for the socket's life); handed an
# adapter, it uses it as is. Its few lines (info and debug) still go to "picows.server".
_PICOWS_LOG = logging.LoggerAdapter(logging.getLogger("picows.server"))

WS_PATHS = frozenset({b"/ws", b"/", b"/ws/"})

WORKER_HEADER = "X-Roulette-Worker"

LISTEN_BACKLOG = 4096
"""Handshakes the kernel queues for this listener (asyncio would call ``listen(100)``): a
cluster worker's own socket only listens here, and a reconnect storm must not overflow it."""

DEAD_FACTOR = 2.5
"""A socket silent this many ping intervals (no frame, no pong) is dropped."""


class Gateway:
    """Accepts sockets, owns their tasks, and shuts them down in order."""

    def __init__(self, ctx: GatewayContext, controller: Controller, issuer: TokenIssuer) -> None:
        self.ctx = ctx
        self.controller = controller
        self.issuer = issuer
        self.draining = False
        self._server: asyncio.Server | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        # Which worker took the socket: for operators and load balancers' logs, and for tests
        # that must place two users on two workers. An opaque id, nothing secret.
        self._headers = {WORKER_HEADER: ctx.hub.worker_id}

    # ------------------------------------------------------------ handshake

    def accept(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        """The picows listener factory: every check that can refuse a handshake."""
        path = request.path.split(b"?", 1)[0]
        if path not in WS_PATHS:
            return self._refuse(404, "not_found", "the WebSocket lives at /ws")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.ctx.config.allowed_origins:
            return self._refuse(403, "origin_not_allowed", f"origin {origin} is not allowed")
        refusal = self._capacity_refusal()
        if refusal is not None:
            return refusal
        try:
            claims = self._claims(request)
        except PeerError as exc:
            self.ctx.metrics.auth_failure += 1
            return self._refuse(exc.status, exc.code, exc.message)
        return self._over_wallet_budget(claims) or WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response(self._headers),
            Connection(self.ctx, claims, request.headers.get("X-Forwarded-For")),
        )

    def _capacity_refusal(self) -> WSUpgradeResponseWithListener | None:
        """503 when this node cannot take a socket now: draining, full or shedding load."""
        if self.draining:
            return self._refuse(503, "draining", "this node is shutting down; reconnect")
        if self.open_sockets >= self.ctx.config.limits.max_connections:
            return self._refuse(503, "node_full", "this node is full; try another")
        if self.ctx.shedding():
            return self._refuse(
                503, "overloaded", "this node is overloaded; retry shortly", RETRY_AFTER_SECONDS
            )
        return None

    def _over_wallet_budget(self, claims: TokenClaims) -> WSUpgradeResponseWithListener | None:
        """429 for a wallet in a reconnect loop (issue 10: 2,000 handshakes on a token in 6 s)."""
        limiter, now = self.ctx.handshakes_by_wallet, self.ctx.monotonic()
        if limiter.allow(claims.address, now):
            return None
        wait = limiter.retry_after(claims.address, now)
        return self._refuse(
            429, "rate_limited", "too many connections for this wallet; slow down", wait
        )

    @property
    def open_sockets(self) -> int:
        """Sockets past the handshake and not yet gone (authenticated or not)."""
        return self.ctx.metrics.connections_opened - self.ctx.metrics.connections_closed

    def _claims(self, request: WSUpgradeRequest) -> TokenClaims:
        token = bearer_or_cookie(
            request.headers.get("Authorization"), request.headers.get("Cookie")
        )
        if token is None:
            raise Unauthenticated("sign in first: no access token", code="unauthenticated")
        return self.issuer.verify(token, TokenKind.ACCESS, now=self.ctx.wall())

    def _refuse(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> WSUpgradeResponseWithListener:
        self.ctx.metrics.handshakes_refused += 1
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = {"Content-Type": "application/json"}
        if status in (429, 503):  # RFC 9110 §10.2.3: say when to come back
            wait = DEFAULT_RETRY_AFTER_SECONDS if retry_after is None else retry_after
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        response = WSUpgradeResponse.create_error_response(status, body, headers)
        return WSUpgradeResponseWithListener(response, None)

    # ------------------------------------------------------------ lifecycle

    def spawn_control(self, conn: Connection, op: StoreOp) -> None:
        """Run ``conn``'s store operations, from ``op`` on, in a task this gateway owns."""
        assert self._tasks is not None, "the gateway is not running"
        self._tasks.create_task(self.controller.drain(conn, op))

    async def serve(self, sock: socket.socket, started: asyncio.Event) -> None:
        """Serve on ``sock`` until cancelled or :meth:`shutdown`; owns every control task."""
        limits = self.ctx.config.limits
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            self._server = await ws_create_server(
                self.accept,
                sock=sock,
                max_frame_size=limits.max_message_bytes,
                read_buffer_init_size=limits.read_buffer_bytes,
                # One keepalive loop per worker, not picows' auto-ping task per socket.
                enable_auto_ping=False,
                # Measured (docs/performance.md): aiofastnet's transports cost ~7 KiB more per
                # idle socket for ~2% relay throughput; idle sockets are the common case.
                use_aiofastnet=False,
                websocket_handshake_timeout=5,
                backlog=LISTEN_BACKLOG,
                logger_name=_PICOWS_LOG,
            )
            tasks.create_task(supervised("keepalive", self._keepalive))
            if self.ctx.debts is not None:
                tasks.create_task(supervised("debts", self.ctx.debts.run))
            started.set()
            try:
                await self._stop.wait()
            finally:
                self._server.close()
                if self.ctx.debts is not None:
                    self.ctx.debts.stop()  # writes what is pending, then ends
        # Leaving the TaskGroup waited for the last control tasks (the sockets' Closed ops).
        self._tasks = None

    async def _keepalive(self) -> None:
        """Ping sockets silent for ``WS_PING_SECONDS``; drop those silent 2.5 times as long.

        A peer whose machine vanished never closes its TCP connection; without this its socket,
        its queue entry and its session would linger (RFC 6455 §5.5.2: ping, expect a pong).
        """
        ping_after = self.ctx.config.limits.ping_after_seconds
        dead_after = ping_after * DEAD_FACTOR
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), ping_after / 2)
            now = self.ctx.monotonic()
            for conn in self.ctx.hub:
                silent = now - conn.last_seen
                if silent >= dead_after:
                    conn.drop("no answer to pings")
                elif silent >= ping_after and conn.transport is not None:
                    conn.transport.send_ping()

    async def shutdown(self, grace: float) -> None:
        """Stop accepting, close every socket with 1001 (going away), wait up to ``grace`` s."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        conns = list(self.ctx.hub)
        for conn in conns:
            conn.close_for(GoingAway("server shutting down; reconnect"))
        waits = [c.transport.wait_disconnected() for c in conns if c.transport is not None]
        if waits:
            done, pending = await asyncio.wait(
                [asyncio.ensure_future(w) for w in waits], timeout=grace
            )
            for task in pending:
                task.cancel()
            log.info("gateway_drained closed=%d timed_out=%d", len(done), len(pending))
        self._stop.set()
