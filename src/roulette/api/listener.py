"""The HTTP listener's connection protocol: uvicorn's httptools protocol with a request
deadline, a cap on how many connections may sit in an unfinished request, and a cap on the
size of an unfinished request head.

httptools (llhttp, C) rather than h11 (pure Python): h11 cost about 0.4 ms of server CPU a
sign-in (issue 15). llhttp has no limit of its own on a request head, and httptools buffers a
header until it is complete, so the head's size is capped here (h11 did it with
``max_incomplete_event_size``): a connection that has sent more than ``max_head_bytes``
without finishing its head gets ``431 Request Header Fields Too Large`` (RFC 6585 §5) and is
closed. The cap counts what arrives while the head is unfinished, as h11's did: a whole head
in one read is bounded by the read itself.

uvicorn closes a keep-alive connection idle *between* requests, but not one that never
finishes a request: a client sending one header byte per second, or nothing at all, held a
connection (and a file descriptor of the process's 20,000) for minutes (issue 10, hole 4).
Here every connection must deliver a complete request — headers and body — within a deadline
of connecting or of its previous response; otherwise it gets ``408 Request Timeout``
(RFC 9110 §15.5.9) and is closed.

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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roulette.observability.metrics import HTTP_CONNECTIONS

__all__ = [
    "EVICTED_RESPONSE",
    "HEAD_TOO_LARGE_RESPONSE",
    "MAX_HEAD_BYTES",
    "REQUEST_TIMEOUT_RESPONSE",
    "RequestDeadlineProtocol",
    "with_request_deadline",
]

MAX_HEAD_BYTES = 16_384
"""Largest unfinished request head a connection may send (then 431 and close)."""


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
HEAD_TOO_LARGE_RESPONSE = _response(
    b"431 Request Header Fields Too Large",
    b'{"error":{"code":"headers_too_large","message":"request head too large"}}',
)


class RequestDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request is not in after a
    deadline, the oldest waiting one when more than ``max_waiting`` wait at once, and one
    whose unfinished head passes ``max_head_bytes``.

    The connection *owes* a request while one is arriving (begun, not complete) or while none
    is unanswered; the deadline runs exactly then.
    """

    deadline_seconds: ClassVar[float] = 10.0
    max_waiting: ClassVar[int] = 1024
    max_head_bytes: ClassVar[int] = MAX_HEAD_BYTES
    waiting: ClassVar[OrderedDict[RequestDeadlineProtocol, None]] = OrderedDict()
    """This process's connections waiting for a request, oldest first (one per class)."""
    _deadline: asyncio.TimerHandle | None = None
    _arriving = False
    """A request has begun and is not complete (httptools' message begin .. complete)."""
    _unanswered = 0
    """Requests whose head is in and whose response is not complete yet."""
    _in_head = True
    """No request head is complete since the last one: what arrives now is head."""
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        HTTP_CONNECTIONS.inc()  # once per connection, not per request: cheap enough
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._cut_off(HEAD_TOO_LARGE_RESPONSE)

    def on_message_begin(self) -> None:
        self._arriving = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._unanswered += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arriving = False
        self._in_head = True
        if self._unanswered:
            self._disarm()  # the request is in; the app's own time is not limited here
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._unanswered -= 1
        super().on_response_complete()
        if not self.transport.is_closing() and self._owes_request():
            self._arm()  # keep-alive: the next request has its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        HTTP_CONNECTIONS.dec()
        self._disarm()
        super().connection_lost(exc)

    def _owes_request(self) -> bool:
        return self._arriving or not self._unanswered

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
        if self.transport.is_closing() or not self._owes_request():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(response)
        self.transport.close()


def with_request_deadline(
    seconds: float, max_waiting: int = 1024, max_head_bytes: int = MAX_HEAD_BYTES
) -> type[HttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=…)``: a request deadline of ``seconds``,
    at most ``max_waiting`` connections waiting for a request at once, and request heads
    of at most ``max_head_bytes`` while unfinished."""
    attributes = {
        "deadline_seconds": seconds,
        "max_waiting": max_waiting,
        "max_head_bytes": max_head_bytes,
        "waiting": OrderedDict(),
    }
    return type("RequestDeadline", (RequestDeadlineProtocol,), attributes)
