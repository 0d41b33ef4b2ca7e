"""The wire side of a virtual user: discover the service, sign in over HTTP, hold a WebSocket.

Relayed ICE candidates and chat lines are counted (and their latency measured) in the socket's
frame callback, so a busy user coroutine never delays the measurement; every other message is
queued for the user's coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec
from picows import (
    WSCloseCode,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from roulette.loadtest.scenario import sent_at_of
from roulette.loadtest.stats import HEARTBEAT_RTT, RELAY_LATENCY, RELAYED, SENT, Recorder
from roulette.loadtest.wallet import Wallet, siwe_message

__all__ = ["CLOSED", "ServerInfo", "UserError", "UserSocket", "discover", "open_socket", "sign_in"]

CLOSED: Final = "_closed"
"""The ``type`` of the message a :class:`UserSocket` queues when its connection is gone."""

INBOX_SIZE: Final = 64
"""Control messages waiting for a user's coroutine (relayed traffic never queues here)."""

HANDSHAKE_TIMEOUT: Final = 30.0
"""A loaded server may take a while to answer an upgrade; slower than this is an error."""

_RELAYED_TYPES: Final = frozenset({"offer", "answer", "ice-candidate", "chat"})
_COUNTED_ONLY: Final = frozenset({"ice-candidate", "chat"})


class UserError(Exception):
    """A virtual user's step failed; ``kind`` is the error's name in the report."""

    def __init__(self, kind: str) -> None:
        """Name the failure.

        Args:
            kind: the error's name in the report, e.g. ``http_503`` or ``ws_closed_1008``.
        """
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``GET /config`` tells a client about the service.

    Attributes:
        http_url: the HTTP base URL (the SIWE ``URI`` lies within it).
        ws_url: the absolute WebSocket URL.
        domain: the exact EIP-4361 ``domain`` the server expects.
        chain_id: the chain users sign in with and queue on.
    """

    http_url: str
    ws_url: str
    domain: str
    chain_id: int


async def discover(http: httpx.AsyncClient, url: str) -> ServerInfo:
    """Read the service's public configuration.

    Args:
        http: the client to ask with.
        url: the service's HTTP base URL.

    Returns:
        The service's coordinates.

    Raises:
        UserError: ``config_unreachable`` when the service does not answer properly.
    """
    try:
        response = await http.get(f"{url}/config")
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise UserError("config_unreachable") from exc
    ws_url = str(body["websocketUrl"])
    if not urlsplit(ws_url).scheme:  # a path on the HTTP origin
        ws_url = urljoin(url.replace("http", "ws", 1) + "/", ws_url.lstrip("/"))
    domain = str(body.get("siweDomain") or urlsplit(url).netloc)
    return ServerInfo(url, ws_url, domain, int(body["chainIds"][0]))


async def sign_in(http: httpx.AsyncClient, info: ServerInfo, wallet: Wallet) -> str:
    """Sign in with Ethereum (EIP-4361 message, EIP-191 signature) and return the access token.

    Args:
        http: the client (bound to this user's source address).
        info: the service.
        wallet: the user's wallet.

    Returns:
        The ``accessToken`` the server set.

    Raises:
        UserError: ``http_<status>`` or ``http_<ExceptionName>`` on failure.
    """
    try:
        nonce = await http.get(f"{info.http_url}/auth/siwe/nonce")
        _check_status(nonce)
        message = siwe_message(
            wallet.address,
            domain=info.domain,
            uri=info.http_url,
            chain_id=info.chain_id,
            nonce=nonce.json()["nonce"],
            issued_at=datetime.now(UTC),
        )
        body = {"message": message, "signature": wallet.sign_personal(message)}
        request = http.build_request("POST", f"{info.http_url}/auth/siwe/verify", json=body)
        # Without the cookies of an earlier sign-in (a reconnect): a cookie-carrying POST with
        # no Origin is refused as a possible CSRF (api/csrf.py), as it should be.
        request.headers.pop("cookie", None)
        verified = await http.send(request)
        _check_status(verified)
    except httpx.HTTPError as exc:
        raise UserError(f"http_{type(exc).__name__}") from exc
    for header in verified.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "accessToken":
            return rest.split(";", 1)[0]
    raise UserError("http_no_access_token")


def _check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise UserError(f"http_{response.status_code}")


class UserSocket(WSListener):
    """One user's WebSocket: measures relayed traffic, queues the rest for the user."""

    def __init__(self, recorder: Recorder, clock: Callable[[], float] = time.time) -> None:
        """A socket that is not connected yet.

        Args:
            recorder: where the socket counts what it sees.
            clock: wall-clock seconds (the same clock in every client process).
        """
        super().__init__()
        self.recorder = recorder
        self.clock = clock
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=INBOX_SIZE)
        self.transport: WSTransport | None = None
        self.close_code: int | None = None
        self.heartbeat_sent_at: float | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        """Picows callback: the handshake succeeded."""
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Picows callback: measure relayed traffic, queue the rest, answer a close."""
        if frame.msg_type is WSMsgType.TEXT:
            self._on_text(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value  # an IntEnum at run time
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        """Picows callback: the connection is gone; wake the user with a ``_closed`` message."""
        self._enqueue({"type": CLOSED, "code": self.close_code})

    def _on_text(self, payload: bytes) -> None:
        try:
            message = msgspec.json.decode(payload)
            kind = message["type"]
        except (msgspec.DecodeError, KeyError, TypeError):
            self.recorder.error("invalid_json_from_server")
            return
        if kind in _RELAYED_TYPES:
            self.recorder.count(RELAYED)
            if kind == "ice-candidate" and (sent_at := sent_at_of(message.get("data"))):
                self.recorder.observe(RELAY_LATENCY, self.clock() - sent_at)
            if kind in _COUNTED_ONLY:
                return
        elif kind == "heartbeat-ack":
            if self.heartbeat_sent_at is not None:
                self.recorder.observe(HEARTBEAT_RTT, self.clock() - self.heartbeat_sent_at)
                self.heartbeat_sent_at = None
            return
        self._enqueue(message)

    def _enqueue(self, message: dict[str, Any]) -> None:
        if self.inbox.full():  # the user fell far behind; keep the newest (a close matters)
            self.recorder.error("inbox_overflow")
            self.inbox.get_nowait()
        self.inbox.put_nowait(message)

    @property
    def is_open(self) -> bool:
        """True until the connection is closing or gone."""
        return self.transport is not None and not self.transport.is_close_frame_sent

    def send(self, message: dict[str, Any]) -> None:
        """Send one protocol message (dropped once closing)."""
        if self.transport is not None and not self.transport.is_close_frame_sent:
            self.transport.send(WSMsgType.TEXT, msgspec.json.encode(message))
            self.recorder.count(SENT)

    def send_heartbeat(self) -> None:
        """Send ``heartbeat``; the ``heartbeat-ack`` round trip goes into the histogram."""
        self.heartbeat_sent_at = self.clock()
        self.send({"type": "heartbeat"})

    def close(self) -> None:
        """Close normally (1000) and drop the connection."""
        if self.transport is not None:
            with contextlib.suppress(Exception):
                if not self.transport.is_close_frame_sent:
                    self.transport.send_close(WSCloseCode.OK)
                self.transport.disconnect()


async def open_socket(info: ServerInfo, token: str, source: str, recorder: Recorder) -> UserSocket:
    """Open the user's WebSocket from ``source`` with its bearer token.

    Args:
        info: the service.
        token: the access token.
        source: the local (loopback) address to bind.
        recorder: where the socket counts what it sees.

    Returns:
        The connected socket (``connected`` is still to come in its inbox).

    Raises:
        UserError: ``handshake_<status>``, ``connect_<errno name>`` or ``timeout_handshake``.
    """
    try:
        _, listener = await ws_connect(
            lambda: UserSocket(recorder),
            info.ws_url,
            extra_headers={"Authorization": f"Bearer {token}"},
            local_addr=(source, 0),
            read_buffer_init_size=2048,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            max_frame_size=1 << 20,
        )
    except WSHandshakeError as exc:
        status = int(exc.response.status) if exc.response is not None else 0
        raise UserError(f"handshake_{status or 'invalid'}") from exc
    except TimeoutError as exc:
        raise UserError("timeout_handshake") from exc
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise UserError(f"connect_{name}") from exc
    assert isinstance(listener, UserSocket)
    return listener
