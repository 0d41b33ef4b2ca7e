"""Health endpoints and the built-in dashboard.

    GET /health               public summary: 200 ok / 503 degraded, no internals
    GET /health/live          200 while the process serves HTTP (a liveness probe)
    GET /health/ready         200 when every dependency answers and the node takes new load
    GET /health/performance   operators: latency percentiles, errors, slow queries, workers
    GET /dashboard            the dashboard page (its data needs the operator token)
    GET /dashboard/data       operators: sampled series, 1m/5m/1h aggregates, events

Operators authenticate with ``Authorization: Bearer`` and ``MANAGEMENT_TOKEN`` or
``ADMIN_TOKEN``; with neither configured these routes are off (404).
"""

from __future__ import annotations

import hmac
import os
import time
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from roulette.api.deps import ServicesDep
from roulette.errors import Forbidden, NotFound, Unauthenticated
from roulette.observability.probes import probe_all
from roulette.observability.relay_latency import SAMPLE_EVERY
from roulette.observability.window import WINDOWS

__all__ = ["router"]

router = APIRouter(tags=["health"])


async def require_operator(request: Request, svc: ServicesDep) -> None:
    """Bearer ``MANAGEMENT_TOKEN`` or ``ADMIN_TOKEN`` (compared in constant time)."""
    tokens = [t for t in (svc.config.management_token, svc.config.admin_token) if t]
    if not tokens:
        raise NotFound("set MANAGEMENT_TOKEN or ADMIN_TOKEN to enable it", code="operator_disabled")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthenticated("send Authorization: Bearer <token>", code="unauthenticated")
    if not any(hmac.compare_digest(given.strip().encode(), t.encode()) for t in tokens):
        raise Forbidden("wrong operator token", code="forbidden")


Operator = Depends(require_operator)


@router.get("/health")
async def health(svc: ServicesDep, response: Response) -> dict[str, Any]:
    """200 when this node can serve (database and shared state answer), else 503."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = "ok" if await svc.database_ok() else "failing"
    except Exception:  # any failure of a dependency is a failing check, not a 500
        checks["database"] = "failing"
    try:
        await svc.lobby.stats()
        checks["state"] = "ok"
    except Exception:
        checks["state"] = "failing"
    healthy = all(v == "ok" for v in checks.values())
    response.status_code = 200 if healthy else 503
    return {
        "status": "ok" if healthy else "degraded",
        "checks": checks,
        "uptime": round(time.time() - svc.started_at, 1),
        # Breaker states and the shedding flag say how the node protects itself; they name
        # no host, address or figure, so the public summary may carry them.
        "breakers": {b.name: b.state.value for b in svc.breakers},
        "shedding": svc.shedding(),
        # Which worker answered: how clients and tests see the shared port's spread.
        "worker": svc.hub.worker_id,
    }


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and its event loop answers."""
    return {"status": "alive"}


@router.get("/health/ready")
async def ready(svc: ServicesDep, response: Response) -> dict[str, Any]:
    """Probe every dependency now; 503 when one fails or the node drains or sheds load."""
    v = svc.vitals
    results = await probe_all(v.checks, svc.config.monitor.probe_timeout_seconds)
    reasons = v.gate.reasons() + [f"{n}:down" for n, r in results.items() if not r.ok]
    if svc.shedding() and not v.gate.shedding:
        reasons.append("shedding:load")
    response.status_code = 200 if not reasons else 503
    return {
        "ready": not reasons,
        "node": svc.hub.worker_id,
        "reasons": reasons,
        "dependencies": {name: r.public() for name, r in results.items()},
    }


@router.get("/health/performance", dependencies=[Operator])
async def performance(svc: ServicesDep) -> dict[str, Any]:
    """Latency percentiles per route, SQL, errors, slow queries, alerts and per-worker figures."""
    v, now = svc.vitals, time.time()
    windows = {}
    for label, seconds in WINDOWS.items():
        windows[label] = {
            "http": v.http.total(seconds, now).summary(seconds),
            "routes": {
                k: s.summary(seconds) for k, s in sorted(v.http.by_key(seconds, now).items())
            },
            "sql": {k: s.summary(seconds) for k, s in sorted(v.sql.by_key(seconds, now).items())},
            "topErrors": [{"error": e, "count": n} for e, n in v.errors.top_events(seconds, now)],
            "slowQueries": [{"sql": q, "count": n} for q, n in v.sql.top_events(seconds, now)],
        }
    return {
        "windows": windows,
        "relay": _relay(svc, now),
        "alerts": {name: level.label for name, level in v.alerts.firing().items()},
        "notReady": v.gate.reasons(),
        "dependencies": {name: r.public() for name, r in v.probes.items()},
        "workers": await _workers(svc),
    }


def _relay(svc: ServicesDep, now: float) -> dict[str, Any]:
    rates = {w: a.get("relayed_per_second") for w, a in svc.vitals.history.aggregates(now).items()}
    svc.metrics_sync.sync()  # moves the pending latency samples in (and to Prometheus)
    latency = svc.hub.latency
    return {
        "relayedTotal": svc.hub.relayed,
        "perSecond": rates,
        "dropped": svc.counters.relay_dropped,
        # Timed samples (1 message in SAMPLE_EVERY), ms, by path: local (same worker) and
        # bridge (through another worker); percentiles of the newest samples in each window.
        "latencyMs": {label: latency.summary(sec, now) for label, sec in WINDOWS.items()},
        "latencySampleEvery": SAMPLE_EVERY,
    }


async def _workers(svc: ServicesDep) -> dict[str, Any]:
    this = {
        "worker": svc.hub.worker_id,
        "pid": os.getpid(),
        "connections": len(svc.hub),
        "loopLagMs": round(svc.vitals.loop_lag_ms, 3),
        "counters": svc.counters.as_dict(),
    }
    fleet: list[dict[str, Any]] = []
    if svc.workers is not None:
        try:
            alive = await svc.workers.alive()
        except Exception:  # Redis down: this worker's own figures still answer
            alive = []
        fleet = [
            {"worker": w.worker_id, "host": w.host, "pid": w.pid, "connections": w.connections}
            for w in alive
        ]
    return {"this": this, "fleet": fleet}


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard page: plain HTML, JS and SVG, no external resources."""
    page = resources.files("roulette.observability").joinpath("dashboard.html").read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/dashboard/data", dependencies=[Operator])
async def dashboard_data(svc: ServicesDep, since: float = 0.0) -> dict[str, Any]:
    """Series sampled after ``since`` (unix seconds; default the last hour), aggregates, events."""
    v, now = svc.vitals, time.time()
    since = max(since, now - WINDOWS["1h"])
    return {
        "now": now,
        "worker": svc.hub.worker_id,
        "series": v.history.series(since),
        "aggregates": v.history.aggregates(now),
        "events": v.history.events(since),
        "alerts": {name: level.label for name, level in v.alerts.firing().items()},
        "levels": {name: level.label for name, level in v.levels.items()},
        "notReady": v.gate.reasons(),
    }
