"""Probe users for the reliability run: real wallets that sign in through the balancer, meet
each other on their own chain, and exchange numbered chat lines, logging what they saw.

The logs feed :mod:`roulette.lab.invariants`; a canary round (two fresh users who must meet and
exchange one line each way) measures when the service works again after a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import msgspec
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from roulette.lab.invariants import SessionLog
from roulette.loadtest.client import ServerInfo, UserError, discover, sign_in
from roulette.loadtest.wallet import Wallet

__all__ = ["ProbeUser", "canary_round", "connect_user"]

LINES: Final = 20
"""Numbered chat lines each side sends per session."""
LINE_GAP: Final = 0.05
REJOIN_PAUSE: Final = 0.5
"""Seconds before a probe queues again after its join was refused or its entry lost."""
SESSION_WAIT: Final = 20.0
"""Seconds a probe waits for a match, or for its peer's lines, before giving up the round."""
INBOX: Final = 256
_CLOSED: Final = "_closed"


class ProbeSocket(WSListener):
    """A WebSocket that queues every server message for its user (bounded)."""

    def __init__(self) -> None:
        """Not connected yet."""
        super().__init__()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=INBOX)
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        """Picows callback: the handshake succeeded."""
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Picows callback: queue text messages; answer a close."""
        if frame.msg_type is WSMsgType.TEXT:
            with contextlib.suppress(msgspec.DecodeError):
                self._put(msgspec.json.decode(frame.get_payload_as_bytes()))
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        """Picows callback: wake the user."""
        self._put({"type": _CLOSED})

    def _put(self, message: dict[str, Any]) -> None:
        if self.inbox.full():  # never expected with LINES far below INBOX; keep the newest
            self.inbox.get_nowait()
        self.inbox.put_nowait(message)

    def send(self, message: dict[str, Any]) -> None:
        """Send one protocol message (dropped once closing)."""
        if self.transport is not None and not self.transport.is_close_frame_sent:
            self.transport.send(WSMsgType.TEXT, msgspec.json.encode(message))

    def close(self) -> None:
        """Close normally."""
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.send_close(WSCloseCode.OK)
                self.transport.disconnect()


async def connect_user(
    http: httpx.AsyncClient, info: ServerInfo, wallet: Wallet
) -> tuple[str, ProbeSocket]:
    """Sign in and open the user's WebSocket; returns (access token, socket).

    Raises:
        UserError: sign-in or handshake failed.
    """
    token = await sign_in(http, info, wallet)
    try:
        transport, listener = await ws_connect(
            ProbeSocket,
            info.ws_url,
            extra_headers={"Authorization": f"Bearer {token}"},
            websocket_handshake_timeout=15.0,
        )
    except Exception as exc:  # picows raises handshake, timeout and OS errors alike
        raise UserError(f"handshake_{type(exc).__name__}") from exc
    if not isinstance(listener, ProbeSocket):  # seen while a node was cut off: a failed
        # handshake must send the probe round again, not end the whole reliability run
        with contextlib.suppress(Exception):  # and leaves no socket open behind it
            transport.disconnect()
        raise UserError("handshake_no_listener")
    return token, listener


def _join(chain_id: int) -> dict[str, Any]:
    return {"type": "join-queue", "chainId": chain_id, "preferences": {"interests": []}}


async def _next(sock: ProbeSocket, until: float) -> dict[str, Any] | None:
    timeout = until - time.monotonic()
    if timeout <= 0:
        return None
    try:
        async with asyncio.timeout(timeout):
            return await sock.inbox.get()
    except TimeoutError:
        return None


@dataclass
class ProbeUser:
    """One probe wallet that keeps meeting other probes until :attr:`stop` is set."""

    info: ServerInfo
    wallet: Wallet
    logs: list[SessionLog] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failures: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: httpx.AsyncClient) -> None:
        """Sessions until stopped; a dropped socket signs in again and re-queues."""
        while not self.stop.is_set():
            try:
                _, sock = await connect_user(http, self.info, self.wallet)
            except UserError:
                self.failures += 1
                await asyncio.sleep(0.5)
                continue
            try:
                while not self.stop.is_set() and await self._session(sock):
                    pass
            finally:
                sock.close()

    async def _session(self, sock: ProbeSocket) -> bool:
        """One round: queue, meet, exchange lines, end. False when the socket is gone."""
        ask: dict[str, Any] = _join(self.info.chain_id)
        while True:
            sock.send(ask)
            until = time.monotonic() + SESSION_WAIT
            while (message := await _next(sock, until)) is not None:
                kind = message["type"]
                if kind == _CLOSED:
                    return False
                if kind == "match-found":
                    return await self._exchange(sock, message)
                if kind in ("error", "queue-reset") and message.get("code") != "not_in_session":
                    break  # refused or forgotten during an outage: no match is coming
            else:
                sock.send({"type": "leave-queue"})
                return True
            if self.stop.is_set():
                return True
            # Ask again soon rather than wait out the round (skipping a session the server
            # still holds though our end of it failed).
            await asyncio.sleep(REJOIN_PAUSE)
            held = message.get("code") == "already_in_session"
            ask = {"type": "next"} if held else _join(self.info.chain_id)

    async def _exchange(self, sock: ProbeSocket, match: dict[str, Any]) -> bool:
        log = SessionLog(
            session=str(match["sessionId"]),
            user=self.wallet.address,
            peer=str(match["peerId"]),
            started=time.time(),
        )
        self.logs.append(log)
        sender = asyncio.create_task(self._send_lines(sock, log))
        alive = await self._receive(sock, log)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        log.ended = time.time()
        if alive and not log.told and match.get("isInitiator"):
            sock.send({"type": "end-session", "sessionId": log.session})
        if alive and not log.told:  # wait for the end to arrive (the other side ends it)
            alive = await self._await_end(sock, log)
        return alive

    async def _send_lines(self, sock: ProbeSocket, log: SessionLog) -> None:
        for seq in range(1, LINES + 1):
            sock.send({"type": "chat", "sessionId": log.session, "text": f"seq:{seq}"})
            log.sent = seq
            await asyncio.sleep(LINE_GAP)

    async def _receive(self, sock: ProbeSocket, log: SessionLog) -> bool:
        """Collect the peer's lines until all came, or we were told the session is over."""
        until = time.monotonic() + SESSION_WAIT
        while len(log.received) < LINES:
            message = await _next(sock, until)
            if message is None:
                return True
            if not self._note(message, log):
                return bool(message["type"] != _CLOSED)
        return True

    def _note(self, message: dict[str, Any], log: SessionLog) -> bool:
        """Record one message; False when the session (or the socket) is over."""
        kind = message["type"]
        if kind == _CLOSED:
            log.closed = True
            return False
        if kind == "match-found":
            self.violations.append(
                f"{self.wallet.address} matched into {message['sessionId']} while in {log.session}"
            )
        if message.get("sessionId") != log.session:
            return True
        if kind == "chat":
            with contextlib.suppress(ValueError, AttributeError):
                log.received.append(int(str(message["text"]).removeprefix("seq:")))
        elif kind in {"session-ended", "peer-disconnected"}:
            log.told = True
            return False
        return True

    async def _await_end(self, sock: ProbeSocket, log: SessionLog) -> bool:
        until = time.monotonic() + SESSION_WAIT
        while (message := await _next(sock, until)) is not None:
            if not self._note(message, log):
                return bool(message["type"] != _CLOSED)
        return True


async def canary_round(url: str, chain_id: int, rng: random.Random, limit: float) -> bool:
    """Two fresh users sign in through ``url``, meet on ``chain_id`` and exchange a line each
    way within ``limit`` seconds; True when all of it worked."""
    try:
        async with asyncio.timeout(limit), httpx.AsyncClient(timeout=limit) as http:
            info = await discover(http, url)
            info = ServerInfo(info.http_url, info.ws_url, info.domain, chain_id)
            users = [await connect_user(http, info, Wallet.generate(rng)) for _ in range(2)]
            try:
                return await _meet([sock for _, sock in users], chain_id)
            finally:
                for _, sock in users:
                    sock.close()
    except (TimeoutError, UserError, httpx.HTTPError):
        return False


async def _until(sock: ProbeSocket, kind: str) -> str | None:
    """The ``sessionId`` of the next message of ``kind``; None if the socket closed or the
    server refused something first (a refused join never matches: waiting out the round's
    timeout would add it to the measured recovery)."""
    while (message := await sock.inbox.get())["type"] != kind:
        if message["type"] in (_CLOSED, "error"):
            return None
    return str(message["sessionId"])


class _RoundFailed(Exception):
    """A canary socket closed or was refused: the round failed (its peers stop waiting)."""


async def _all_until(socks: list[ProbeSocket], kind: str) -> list[str] | None:
    """:func:`_until` on every socket at once; None as soon as one of them fails."""

    async def one(sock: ProbeSocket) -> str:
        found = await _until(sock, kind)
        if found is None:
            raise _RoundFailed(kind)
        return found

    failed = False
    try:
        async with asyncio.TaskGroup() as tasks:
            waits = [tasks.create_task(one(sock)) for sock in socks]
    except* _RoundFailed:
        failed = True
    return None if failed else [wait.result() for wait in waits]


async def _meet(socks: list[ProbeSocket], chain_id: int) -> bool:
    for sock in socks:
        sock.send(_join(chain_id))
    sessions = await _all_until(socks, "match-found")
    if sessions is None or sessions[0] != sessions[1]:
        return False
    for sock in socks:
        sock.send({"type": "chat", "sessionId": sessions[0], "text": "canary"})
    if await _all_until(socks, "chat") is None:
        return False
    for sock in socks:
        sock.send({"type": "end-session", "sessionId": sessions[0]})
    return True
