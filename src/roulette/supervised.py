"""One failure policy for every background loop: log, count, back off, restart.

A loop (the sweeper, membership, the bridge's sender and receiver, the tip re-check, the
cluster heartbeat) handles the failures it expects itself — a store that is briefly
:class:`~roulette.errors.Unavailable` — and lets anything else escape. :func:`supervised`
catches what escapes, logs it with its traceback, counts it in
``roulette_task_restarts_total{task}`` and runs the loop again after a pause that doubles up
to a cap, so one bug in one loop neither ends the process (a TaskGroup would cancel every
sibling) nor spins a core. A loop that returns normally is finished; cancellation passes
through untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from prometheus_client import Counter

__all__ = ["RESTARTS", "Backoff", "supervised"]

log = logging.getLogger(__name__)

RESTARTS: Final = Counter(
    "roulette_task_restarts",
    "Background loops restarted after an unexpected exception, by loop name.",
    ["task"],
)

FIRST_DELAY_SECONDS: Final = 0.1
MAX_DELAY_SECONDS: Final = 5.0
STABLE_SECONDS: Final = 30.0
"""A loop that ran this long before failing starts again from the first delay."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """The pause before the n-th consecutive restart (pure: no clock, no sleep)."""

    first: float = FIRST_DELAY_SECONDS
    cap: float = MAX_DELAY_SECONDS

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` (≥ 1) failures in a row."""
        return float(min(self.cap, self.first * 2.0 ** max(0, failures - 1)))


async def supervised(
    name: str,
    loop: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff = Backoff(),
    clock: Callable[[], float] | None = None,
) -> None:
    """Run ``loop()`` until it returns; restart it after every unexpected exception.

    Args:
        name: the loop's label in logs and in ``roulette_task_restarts_total``.
        loop: a coroutine function; a fresh coroutine is made for every (re)start.
        backoff: pauses between restarts.
        clock: monotonic seconds (the event loop's clock by default).
    """
    now = clock or asyncio.get_running_loop().time
    failures = 0
    while True:
        started = now()
        try:
            await loop()
        except Exception:
            if now() - started >= STABLE_SECONDS:
                failures = 0
            failures += 1
            RESTARTS.labels(task=name).inc()
            delay = backoff.delay(failures)
            log.exception("task_crashed task=%s restart_in=%.2fs", name, delay)
            await asyncio.sleep(delay)
            continue
        return
