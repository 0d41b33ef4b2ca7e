"""The HTTP listener's connection protocol: uvicorn's h11 protocol with a request deadline and
a cap on how many connections may sit in an unfinished request.

uvicorn closes a keep-alive connection idle *between* requests, but not one that never
finishes a request: a client sending one header byte per second, or nothing at all, held a
connection (and a file descriptor of the process's 20,000) for minutes (issue 10, hole 4).
Here every connection must deliver a complete request — headers and body — within a deadline
of connecting or of its previous response; otherwise it gets ``408 Request Timeout``
(RFC 9110 §15.5.9) and is closed. The size of an unfinished request is capped by h11
(``h11_max_incomplete_event_size``, set by the node), so a fast sender cannot buffer more.

The deadline alone still lets a client open thousands of connections within it, so the
number of connections waiting for a request is capped too (per process). At the cap the
*oldest* waiting connection is closed (``503`` + ``Retry-After``, RFC 9110 §15.6.4) to make
room for the new one, rather than the new one being refused: refusing would hand the whole
port to whoever holds the cap's worth of slow connections, while an honest request finishes
within milliseconds of connecting and so is always among the newest, never the one evicted.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from roulette.observability.metrics import HTTP_CONNECTIONS

__all__ = [
    "EVICTED_RESPONSE",
    "REQUEST_TIMEOUT_RESPONSE",
    "RequestDeadlineProtocol",
    "with_request_deadline",
]


def _response(status: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: application/json\r\n%s"
        b"Content-Length: %d\r\n\r\n%s" % (status, extra, len(body), body)
    )


REQUEST_TIMEOUT_RESPONSE = _response(
    b"408 Request Timeout",
    b'{"error":{"code":"request_timeout","message":"request not received in time"}}',
)
EVICTED_RESPONSE = _response(
    b"503 Service Unavailable",
    b'{"error":{"code":"unavailable","message":"too many unfinished requests; retry"}}',
    b"Retry-After: 1\r\n",
)

_RECEIVING = (h11.IDLE, h11.SEND_BODY)
"""The client's h11 states in which its request is not complete yet."""


class RequestDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request is not in after a deadline,
    and the oldest waiting one when more than ``max_waiting`` wait at once."""

    deadline_seconds: ClassVar[float] = 10.0
    max_waiting: ClassVar[int] = 1024
    waiting: ClassVar[OrderedDict[RequestDeadlineProtocol, None]] = OrderedDict()
    """This process's connections waiting for a request, oldest first (one per class)."""
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        HTTP_CONNECTIONS.inc()  # once per connection, not per request: cheap enough
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state not in _RECEIVING:
            self._disarm()  # the request is in; the app's own time is not limited here

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # keep-alive: the next request has its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        HTTP_CONNECTIONS.dec()
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.deadline_seconds, self._expired)
        waiting = self.waiting
        waiting[self] = None
        while len(waiting) > self.max_waiting:
            oldest, _ = waiting.popitem(last=False)
            oldest._cut_off(EVICTED_RESPONSE)

    def _disarm(self) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self._cut_off(REQUEST_TIMEOUT_RESPONSE)

    def _cut_off(self, response: bytes) -> None:
        """Answer ``response`` (unless one is under way) and close, if still unfinished."""
        self._disarm()
        if self.transport.is_closing() or self.conn.their_state not in _RECEIVING:
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(response)
        self.transport.close()


def with_request_deadline(seconds: float, max_waiting: int = 1024) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.Config(http=…)``: a request deadline of ``seconds``
    and at most ``max_waiting`` connections waiting for a request at once."""
    attributes = {"deadline_seconds": seconds, "max_waiting": max_waiting, "waiting": OrderedDict()}
    return type("RequestDeadline", (RequestDeadlineProtocol,), attributes)
