"""The HTTP listener's connection protocol: uvicorn's h11 protocol with a request deadline.

uvicorn closes a keep-alive connection idle *between* requests, but not one that never
finishes a request: a client sending one header byte per second, or nothing at all, held a
connection (and a file descriptor of the process's 20,000) for minutes (issue 10, hole 4).
Here every connection must deliver a complete request — headers and body — within a deadline
of connecting or of its previous response; otherwise it gets ``408 Request Timeout``
(RFC 9110 §15.5.9) and is closed. The size of an unfinished request is capped by h11
(``h11_max_incomplete_event_size``, set by the node), so a fast sender cannot buffer more.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from roulette.observability.metrics import HTTP_CONNECTIONS

__all__ = ["REQUEST_TIMEOUT_RESPONSE", "RequestDeadlineProtocol", "with_request_deadline"]

_TIMEOUT_BODY = b'{"error":{"code":"request_timeout","message":"request not received in time"}}'
REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)

_RECEIVING = (h11.IDLE, h11.SEND_BODY)
"""The client's h11 states in which its request is not complete yet."""


class RequestDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request is not in after a deadline."""

    deadline_seconds: ClassVar[float] = 10.0
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

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in _RECEIVING:
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()


def with_request_deadline(seconds: float) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.Config(http=…)`` with a deadline of ``seconds``."""
    return type("RequestDeadline", (RequestDeadlineProtocol,), {"deadline_seconds": seconds})
