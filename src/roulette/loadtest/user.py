"""Virtual users: an active one and an idle one, each one asyncio coroutine.

The active user signs in, queues, signals, chats, stays, skips or leaves, and repeats; the
idle one signs in, connects and sends a heartbeat now and then.

Every wait is bounded by the run's deadline, and every failure is counted by kind and followed
by a pause and a fresh start, so one user's trouble never stops the others.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from roulette.loadtest import scenario as sc
from roulette.loadtest.client import (
    CLOSED,
    HANDSHAKE_TIMEOUT,
    ServerInfo,
    UserError,
    UserSocket,
    open_socket,
    sign_in,
)
from roulette.loadtest.stats import (
    CONNECTED,
    IN_SESSION,
    LOGIN_TIME,
    LOGINS,
    MATCHES,
    RECONNECTS,
    STALE,
    TIME_TO_MATCH,
    Recorder,
)
from roulette.loadtest.wallet import Wallet

__all__ = ["ActiveUser", "IdleUser", "UserContext"]

ANSWER_TIMEOUT: Final = 15.0
"""How long a peer may take to answer an offer (or send one) before it counts as an error."""
BACKOFF: Final = (1.0, 3.0)
"""Seconds to wait after a failure before starting again (uniform in this range)."""
REJOIN_PAUSE: Final = (0.5, 1.5)
"""Seconds before queueing again after the queue refused or lost this user (uniform)."""
DEADLINE_GRACE: Final = 0.25
"""Seconds past the deadline after which a still-running step (a slow sign-in) is cut."""
_SESSION_OVER: Final = frozenset({"session-ended", "peer-disconnected"})
_IDLE_CLOSE: Final = "ws_closed_1001"
"""The server closes a socket that never joins after IDLE_TIMEOUT_SECONDS (1001)."""


@dataclass(slots=True)
class UserContext:
    """What every user of one client process shares.

    Attributes:
        info: the service.
        recorder: the process's numbers.
        scenario: the active users' behaviour.
        deadline: the run's end, Unix seconds.
        heartbeat_interval: seconds between idle users' heartbeats.
        clock: wall-clock seconds (the same clock in every client process).
    """

    info: ServerInfo
    recorder: Recorder
    scenario: sc.Scenario
    deadline: float
    heartbeat_interval: float
    clock: Callable[[], float] = field(default=time.time)


class _SessionOver(Exception):
    """The peer ended the session, skipped or disconnected."""


class _User:
    """Sign-in, connection and bounded waits: what both kinds of users do."""

    def __init__(
        self, ctx: UserContext, wallet: Wallet, http: httpx.AsyncClient, source: str, seed: int
    ) -> None:
        self.ctx = ctx
        self.wallet = wallet
        self.http = http
        self.source = source
        self.rng = random.Random(seed)
        self.socket: UserSocket | None = None
        self.session_id: str | None = None
        self.connected = False

    def left(self) -> float:
        """Seconds until the run's deadline."""
        return self.ctx.deadline - self.ctx.clock()

    async def pause(self, seconds: float) -> None:
        """Sleep, but never past the deadline."""
        await asyncio.sleep(max(0.0, min(seconds, self.left())))

    async def run(self, start_at: float) -> None:
        """Start at ``start_at`` (Unix seconds) and act until the deadline."""
        await self.pause(start_at - self.ctx.clock())
        while self.left() > 0:
            try:
                # No step outlives the run; the grace lets deadline-bounded waits end first.
                async with asyncio.timeout(self.left() + DEADLINE_GRACE):
                    await self.connect()
                    await self.act()
            except TimeoutError:
                self.on_failure("timeout_step")
            except UserError as exc:
                self.on_failure(exc.kind)
                await self.pause(self.rng.uniform(*BACKOFF))
            except Exception as exc:  # a load-generator bug must not stop the other users
                self.on_failure(f"exception_{type(exc).__name__}")
                await self.pause(self.rng.uniform(*BACKOFF))
            finally:
                self.disconnect()

    async def act(self) -> None:
        """What the user does while connected."""
        raise NotImplementedError

    def on_failure(self, kind: str) -> None:
        """Count a failed step, unless the run ended under it."""
        if self.left() > 0:
            self.ctx.recorder.error(kind)

    async def connect(self) -> None:
        """Sign in over HTTP, open the WebSocket and wait for ``connected``."""
        started = self.ctx.clock()
        token = await sign_in(self.http, self.ctx.info, self.wallet)
        self.ctx.recorder.observe(LOGIN_TIME, self.ctx.clock() - started)
        self.ctx.recorder.count(LOGINS)
        self.socket = await open_socket(self.ctx.info, token, self.source, self.ctx.recorder)
        until = min(self.ctx.deadline, self.ctx.clock() + HANDSHAKE_TIMEOUT)
        if await self.wait_for({"connected"}, until) is None:
            raise UserError("timeout_connected")
        self.connected = True
        self.ctx.recorder.level(CONNECTED, 1)

    def disconnect(self) -> None:
        """Close the socket, if one is open."""
        if self.connected:
            self.connected = False
            self.ctx.recorder.level(CONNECTED, -1)
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self.session_id = None

    async def receive(self, until: float) -> dict[str, Any] | None:
        """The next control message, or None once ``until`` (Unix seconds) has passed.

        Raises:
            UserError: the socket closed (``ws_closed_<code>`` or ``ws_dropped``).
        """
        assert self.socket is not None
        timeout = until - self.ctx.clock()
        if timeout <= 0:
            return None
        try:
            async with asyncio.timeout(timeout):
                message = await self.socket.inbox.get()
        except TimeoutError:
            return None
        kind = message["type"]
        if kind == CLOSED:
            code = message.get("code")
            raise UserError(f"ws_closed_{code}" if code is not None else "ws_dropped")
        if kind == "error":
            if message.get("code") == "not_in_session":  # the session ended under our message
                self.ctx.recorder.count(STALE)
            else:
                self.ctx.recorder.error(f"server_{message.get('code')}")
        return message

    async def wait_for(self, kinds: Collection[str], until: float) -> dict[str, Any] | None:
        """The next message of one of ``kinds``; None at ``until``.

        Raises:
            _SessionOver: the current session ended first.
            UserError: the socket closed.
        """
        while (message := await self.receive(until)) is not None:
            kind = message["type"]
            if kind in kinds:
                return message
            session_id = self.session_id
            if kind in _SESSION_OVER and session_id and message.get("sessionId") == session_id:
                self.session_id = None
                raise _SessionOver
        return None


class ActiveUser(_User):
    """Queues, meets a stranger, signals and chats, stays a while, skips or leaves; repeats."""

    last_next = 0.0
    """When this user last sent ``next`` (Unix seconds)."""
    joined_at = 0.0
    """When this user last asked to be queued (``join-queue`` or ``next``)."""
    skipping = False
    """The server holds a session this user saw end: ``next`` until it is matched again."""

    async def act(self) -> None:
        """Sessions, one after the other, until the deadline or a sign-out."""
        rejoin = True
        while self.left() > 0:
            if rejoin:
                self._send(
                    {
                        "type": "join-queue",
                        "chainId": self.ctx.info.chain_id,
                        "preferences": {"interests": []},
                    }
                )
                self.joined_at = self.ctx.clock()
            match = await self.wait_for({"match-found", "queue-reset", "error"}, self.ctx.deadline)
            if match is None:
                return
            if match["type"] != "match-found":
                rejoin = await self._not_matched(match)
                continue
            self.skipping = False
            action = await self._hold(match)
            if self.left() <= 0:
                return
            rejoin = await self._leave(action)
            if action is sc.EndAction.RELOGIN:
                return

    async def _not_matched(self, message: dict[str, Any]) -> bool:
        """What a user waiting for a match does when told something else (a store outage:
        the join refused, the queue lost, a session the server kept though its end failed);
        returns whether to send ``join-queue`` again. Waiting on would strand it until the
        end of the run, as a real client would not."""
        code = message.get("code")
        if code == "not_in_session":
            return False  # the answer to a last message of the previous session: still queued
        await self.pause(self.rng.uniform(*REJOIN_PAUSE))
        # A session the server still holds is ended with ``next`` (which also queues), asked
        # again while it fails; ``next`` at most once per the server's interval.
        self.skipping |= code == "already_in_session"
        if not self.skipping:
            return True
        since = self.ctx.clock() - self.last_next
        await self.pause(sc.NEXT_INTERVAL_SECONDS + 0.05 - since)
        self._send({"type": "next"})
        self.last_next = self.joined_at = self.ctx.clock()
        return False

    def _send(self, message: dict[str, Any]) -> None:
        assert self.socket is not None
        self.socket.send(message)

    async def _hold(self, match: dict[str, Any]) -> sc.EndAction | None:
        """One session, from ``match-found`` to this user's decision; None if the peer left."""
        self.session_id = match["sessionId"]
        self.ctx.recorder.observe(TIME_TO_MATCH, self.ctx.clock() - self.joined_at)
        if match.get("isInitiator"):
            self.ctx.recorder.count(MATCHES)
        self.ctx.recorder.level(IN_SESSION, 1)
        try:
            await self._negotiate(bool(match.get("isInitiator")))
            await self._trickle()
            await self._chat_and_stay()
        except _SessionOver:
            return None
        finally:
            self.ctx.recorder.level(IN_SESSION, -1)
        return self.ctx.scenario.choose_end(self.rng)

    async def _negotiate(self, initiator: bool) -> None:
        """Offer and wait for the answer, or wait for the offer and answer it."""
        scenario, rng = self.ctx.scenario, self.rng
        if initiator:
            offer = sc.session_description(rng, "offer", scenario.sdp_bytes)
            self._send({"type": "offer", "sessionId": self.session_id, "data": offer})
        expected = "answer" if initiator else "offer"
        until = min(self.ctx.deadline, self.ctx.clock() + ANSWER_TIMEOUT)
        if await self.wait_for({expected}, until) is None:
            if self.left() > 0:
                raise UserError(f"timeout_{expected}")
            return
        if not initiator:
            answer = sc.session_description(rng, "answer", scenario.sdp_bytes)
            self._send({"type": "answer", "sessionId": self.session_id, "data": answer})

    async def _trickle(self) -> None:
        """Send this session's ICE candidates, a few milliseconds apart."""
        for index in range(self.ctx.scenario.candidate_count(self.rng)):
            candidate = sc.ice_candidate(self.rng, index, sent_at=self.ctx.clock())
            self._send({"type": "ice-candidate", "sessionId": self.session_id, "data": candidate})
            await self.pause(self.ctx.scenario.candidate_gap(self.rng))
            if self.session_id is None:
                return

    async def _chat_and_stay(self) -> None:
        """Stay a think time, sending a few chat lines spread over it."""
        scenario = self.ctx.scenario
        since_next = self.ctx.clock() - self.last_next
        stay = scenario.stay_seconds(self.rng, since_last_next=since_next)
        lines = scenario.chat_count(self.rng)
        for line in range(lines + 1):
            await self.wait_for((), min(self.ctx.deadline, self.ctx.clock() + stay / (lines + 1)))
            if self.left() <= 0 or line == lines:
                return
            text = sc.chat_line(self.rng)
            self._send({"type": "chat", "sessionId": self.session_id, "text": text})

    async def _leave(self, action: sc.EndAction | None) -> bool:
        """End the session as decided; returns whether the next round must send join-queue."""
        if action is sc.EndAction.NEXT:
            self._send({"type": "next"})
            self.session_id = None
            self.last_next = self.joined_at = self.ctx.clock()
            return False
        if action is sc.EndAction.END:
            self._send({"type": "end-session", "sessionId": self.session_id})
        elif action is sc.EndAction.RELOGIN:
            self.disconnect()  # the peer gets peer-disconnected; we come back signed in anew
        self.session_id = None
        await self.pause(self.ctx.scenario.think(self.rng))
        return True


class IdleUser(_User):
    """Connects and stays, sending a heartbeat now and then (the connection-count workload)."""

    async def act(self) -> None:
        """Heartbeat every ``heartbeat_interval`` (jittered) until the deadline."""
        interval = self.ctx.heartbeat_interval
        until = self.ctx.clock() + self.rng.uniform(0, interval)  # spread the first beats
        while self.left() > 0:
            await self.wait_for((), min(until, self.ctx.deadline))
            if self.left() <= 0:
                return
            assert self.socket is not None
            self.socket.send_heartbeat()
            until = self.ctx.clock() + self.rng.uniform(0.8 * interval, 1.2 * interval)

    def on_failure(self, kind: str) -> None:
        """A socket that never joins is closed after IDLE_TIMEOUT_SECONDS: reconnect, no error."""
        if kind == _IDLE_CLOSE:
            self.ctx.recorder.count(RECONNECTS)
        else:
            super().on_failure(kind)
