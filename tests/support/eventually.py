"""Wait for a condition instead of sleeping a fixed time and hoping it holds by then.

``await eventually(check)`` awaits ``check()`` until it returns without raising
``AssertionError`` (and, if it returns a value, a truthy one), every ``interval`` seconds, for
at most ``timeout`` seconds; then the last failure is raised. A loaded machine only makes the
test slower, never wrong; a fast one never waits longer than needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually", "eventually_sync"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """The first result of ``check`` that passes; the last failure after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await check()
            assert value is None or value, f"{check} returned {value!r}"
            return value
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(interval)


def eventually_sync(check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """:func:`eventually` for synchronous tests (those that drive a browser or a process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            assert value is None or value, f"{check} returned {value!r}"
            return value
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)
