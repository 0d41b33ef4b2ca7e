"""Readiness probes: really ask each dependency (SQL ``SELECT 1``, Redis ``PING``, an RPC call).

Each probe is bounded by a timeout and reports its round trip; a failure is a result, never
an exception, so one dead dependency cannot break the health endpoints or the monitor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from roulette.observability.metrics import DEPENDENCY_PROBE, DEPENDENCY_UP

__all__ = ["Check", "ProbeResult", "probe_all"]

Check = Callable[[], Awaitable[object]]
"""Awaits one round trip to a dependency; raises (or returns False) when it fails."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One dependency's answer."""

    name: str
    ok: bool
    latency_ms: float
    error: str | None
    at: float

    def public(self) -> dict[str, object]:
        """JSON for ``/health/ready`` (the error is a class name, never a message)."""
        return {"ok": self.ok, "latencyMs": round(self.latency_ms, 3), "error": self.error}


async def _probe(name: str, check: Check, limit: float) -> ProbeResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        async with asyncio.timeout(limit):
            answer = await check()
        if answer is False:
            error = "failed"
    except TimeoutError:
        error = "timeout"
    except Exception as exc:  # any failure of a dependency is a failing probe
        error = type(exc).__name__
    latency = time.perf_counter() - started
    DEPENDENCY_PROBE.labels(name).observe(latency)
    DEPENDENCY_UP.labels(name).set(0 if error else 1)
    return ProbeResult(name, error is None, latency * 1000.0, error, time.time())


async def probe_all(checks: Mapping[str, Check], limit: float) -> dict[str, ProbeResult]:
    """Probe every dependency at once; each result within ``limit`` seconds."""
    names = sorted(checks)
    results = await asyncio.gather(*(_probe(n, checks[n], limit) for n in names))
    return dict(zip(names, results, strict=True))
