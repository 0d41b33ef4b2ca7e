"""The shared waiting helper: it waits for a condition, and fails with the condition's own error."""

from __future__ import annotations

import time

import pytest

from support.eventually import eventually, eventually_sync


async def test_it_returns_once_the_condition_holds() -> None:
    calls: list[int] = []

    async def ready() -> int:
        calls.append(1)
        assert len(calls) >= 3, "not yet"
        return len(calls)

    assert await eventually(ready, interval=0.001) == 3


async def test_it_raises_the_last_failure_after_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="never"):
        await eventually(_never, timeout=0.1)
    assert time.monotonic() - started < 1.0


async def _never() -> None:
    raise AssertionError("never")


def test_the_sync_form_treats_a_falsy_result_as_not_yet() -> None:
    values = iter([0, "", 5])
    assert eventually_sync(lambda: next(values), interval=0.001) == 5
