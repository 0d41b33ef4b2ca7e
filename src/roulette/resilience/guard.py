"""Put a store behind a breaker: every coroutine method of it goes through :class:`Guard`.

The stores (lobby, nonces, moderation, token families) keep their own types; the guard is
a transparent proxy, so the composition root wraps them once and nothing else changes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from roulette.errors import Unavailable
from roulette.resilience.breaker import Breaker

__all__ = ["Guard", "guarded"]

T = TypeVar("T")


class Guard:
    """Run calls through a breaker; failures of ``failures`` types count against it.

    Args:
        breaker: the dependency's breaker.
        failures: exception types that mean the dependency failed (not the caller's mistake).
        code: the :class:`Unavailable` code raised while the breaker is open.
    """

    def __init__(
        self,
        breaker: Breaker,
        failures: tuple[type[BaseException], ...],
        code: str,
    ) -> None:
        self.breaker = breaker
        self._failures = failures
        self._code = code

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``await method(*args, **kwargs)`` unless the breaker is open.

        Raises:
            Unavailable: the breaker is open (``code``), or the call failed.
        """
        if not self.breaker.allow():
            raise Unavailable(f"{self.breaker.name} is unavailable; retry shortly", code=self._code)
        try:
            result = await method(*args, **kwargs)
        except self._failures:
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.release()  # not the dependency's fault
            raise
        self.breaker.success()
        return result


class _Proxy:
    def __init__(self, target: object, guard: Guard) -> None:
        self._target = target
        self._guard = guard

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        async def through_breaker(*args: Any, **kwargs: Any) -> Any:
            return await self._guard.call(value, *args, **kwargs)

        # Kept: __getattr__ runs only for names not found, so the next call skips the wrapping.
        setattr(self, name, through_breaker)
        return through_breaker


def guarded(target: T, guard: Guard) -> T:
    """``target`` with every coroutine method behind ``guard`` (same interface)."""
    proxy: Any = _Proxy(target, guard)
    return proxy  # type: ignore[no-any-return]
