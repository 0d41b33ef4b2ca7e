"""Checks for tests that take a dependency away under a live server (issue 9, Deliver 5): the
answer is a 503 with the dependency's code, and the server logged no unmapped exception."""

from __future__ import annotations

import httpx

from support.server import RunningServer

__all__ = ["CRASH_LINES", "assert_no_crash", "assert_unavailable"]

CRASH_LINES = ("request_crashed", "control_crashed", "Traceback")
"""What the server logs for an exception it did not map (a 500 or ``internal_error``)."""


def assert_unavailable(response: httpx.Response, code: str) -> None:
    """503 with ``code`` and a ``Retry-After`` (RFC 9110 §10.2.3) of at least a second."""
    what = f"{response.request.method} {response.request.url.path}: {response.text}"
    assert response.status_code == 503, what
    assert response.json()["error"]["code"] == code, what
    assert int(response.headers["Retry-After"]) >= 1, what


def assert_no_crash(server: RunningServer) -> None:
    """The server's log shows no exception that escaped the error mapping."""
    log = server.log()
    for line in CRASH_LINES:
        assert line not in log, f"{line!r} in the server log:\n{log[-4000:]}"
