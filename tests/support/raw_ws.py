"""A WebSocket client that sends any frame (binary, RSV bits, bad UTF-8, fragments): picows.

The ``websockets`` client refuses to send what a broken or hostile client would; this one
sends frames exactly as asked and records what comes back, including the close code.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

__all__ = ["RawSocket", "close_all_raw", "open_raw"]


class RawSocket(WSListener):
    """The client side of one raw connection: received messages, and the close code."""

    def __init__(self) -> None:
        self.transport: WSTransport | None = None
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None
        self.closed = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            self.messages.put_nowait(json.loads(frame.get_payload_as_bytes()))
        elif frame.msg_type is WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.close_code = code.value if isinstance(code, WSCloseCode) else int(code)
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed.set()

    def send(
        self, kind: WSMsgType, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> None:
        """Send one frame as given."""
        assert self.transport is not None
        self.transport.send(kind, payload, fin, rsv1)

    def send_text(self, payload: bytes) -> None:
        """One unfragmented text frame with these exact bytes (UTF-8 or not)."""
        self.send(WSMsgType.TEXT, payload)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next JSON message from the server."""
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message, which must be of type ``kind``."""
        message = await self.recv(timeout)
        assert message["type"] == kind, f"expected {kind}, got {message}"
        return message

    async def close_code_within(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closed the connection; its close code (None: no close frame)."""
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def aclose(self) -> None:
        """Drop the connection (no close handshake) and wait until it is gone."""
        if self.transport is not None:
            self.transport.disconnect(graceful=False)
            await asyncio.wait_for(self.transport.wait_disconnected(), 5)


_OPEN: list[RawSocket] = []


async def open_raw(ws_url: str, headers: dict[str, str], *, connected: bool = True) -> RawSocket:
    """Connect with ``headers`` (a bearer token) and wait for ``connected``.

    Every socket opened is closed by :func:`close_all_raw` (the ``raw_cleanup`` fixture).
    """
    _, listener = await ws_connect(RawSocket, ws_url, extra_headers=headers, use_aiofastnet=False)
    assert isinstance(listener, RawSocket)
    _OPEN.append(listener)
    if connected:
        await listener.expect("connected")
    return listener


async def close_all_raw() -> None:
    """Close every raw socket still open (test teardown)."""
    while _OPEN:
        await _OPEN.pop().aclose()
