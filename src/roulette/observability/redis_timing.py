"""Redis call latency: every command, script call and pipeline of one client is timed.

redis-py has no timing hook, so the client's ``execute_command`` and ``pipeline`` are wrapped
on the instance (the Redis stores never see a difference). The command name labels the
histogram; names are capped (:data:`MAX_COMMANDS`) so the label set stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

from roulette.observability.metrics import REDIS_LATENCY

__all__ = ["MAX_COMMANDS", "time_calls"]

MAX_COMMANDS = 64
_seen: set[str] = set()


def _name(command: object) -> str:
    raw = command.decode() if isinstance(command, bytes) else str(command)
    name = raw.split(" ", 1)[0].upper()[:32]
    if name not in _seen and len(_seen) >= MAX_COMMANDS:
        return "OTHER"
    _seen.add(name)
    return name


def time_calls(client: Any) -> None:
    """Time every call ``client`` (a redis-py asyncio ``Redis`` or ``RedisCluster``) makes."""
    execute_command = client.execute_command
    pipeline = client.pipeline

    async def timed_command(*args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return await execute_command(*args, **options)
        finally:
            name = _name(args[0]) if args else "OTHER"
            REDIS_LATENCY.labels(name).observe(time.perf_counter() - started)

    def timed_pipeline(*args: Any, **options: Any) -> Any:
        pipe = pipeline(*args, **options)
        execute = pipe.execute

        async def timed_execute(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return await execute(*a, **k)
            finally:
                REDIS_LATENCY.labels("PIPELINE").observe(time.perf_counter() - started)

        pipe.execute = timed_execute
        return pipe

    client.execute_command = timed_command
    client.pipeline = timed_pipeline
