"""Public status endpoints (health, metrics, client config) and the signed-in stats view."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response

from roulette.api.deps import CurrentClaims, ServicesDep
from roulette.observability.metrics import render_metrics

__all__ = ["router"]

router = APIRouter(tags=["status"])


@router.get("/health")
async def health(svc: ServicesDep, response: Response) -> dict[str, Any]:
    """200 when this node can serve (database and shared state answer), else 503."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = "ok" if await svc.database_ok() else "failing"
    except Exception as exc:  # any failure of a dependency is a failing check, not a 500
        checks["database"] = f"failing: {type(exc).__name__}"
    try:
        await svc.lobby.stats()
        checks["state"] = "ok"
    except Exception as exc:
        checks["state"] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    response.status_code = 200 if healthy else 503
    return {
        "status": "ok" if healthy else "degraded",
        "checks": checks,
        "uptime": round(time.time() - svc.started_at, 1),
        "worker": svc.hub.worker_id,
        "breakers": {b.name: b.state(time.monotonic()).value for b in svc.breakers},
        "shedding": svc.shedding(),
    }


@router.get("/metrics")
async def metrics(svc: ServicesDep) -> Response:
    """Prometheus text exposition (format 0.0.4)."""
    body, content_type = await render_metrics(svc, svc.metrics_sync)
    return Response(content=body, media_type=content_type)


@router.get("/config")
async def client_config(request: Request, svc: ServicesDep) -> dict[str, Any]:
    """What a client needs to connect: the WebSocket URL, chains and ICE servers."""
    return {
        "websocketUrl": websocket_url(request, svc),
        "chainIds": list(svc.config.chain_ids),
        "iceServers": ice_servers(svc.config.stun_servers),
        "siweDomain": svc.config.siwe_domain,
        "testWalletMode": svc.config.test_wallet_mode,
        "sessionMaxSeconds": svc.config.session_max_seconds,
    }


@router.get("/api/webrtc/stats")
async def webrtc_stats(claims: CurrentClaims, svc: ServicesDep) -> dict[str, Any]:
    """Live numbers of the service (any signed-in user may see them)."""
    stats = await svc.lobby.stats()
    return {
        "activeSessions": stats.active_sessions,
        "queued": sum(stats.queued.values()),
        "queues": {str(chain): n for chain, n in sorted(stats.queued.items())},
        "connections": len(svc.hub),
        "matchesTotal": svc.counters.matches,
        "relayedMessagesTotal": svc.hub.relayed,
        "uptime": round(time.time() - svc.started_at, 1),
    }


def ice_servers(stun: tuple[str, ...]) -> list[dict[str, str | list[str]]]:
    """``RTCIceServer`` entries for the configured STUN URLs."""
    return [{"urls": list(stun)}] if stun else []


def websocket_url(request: Request, svc: ServicesDep) -> str:
    """The configured public URL, or the gateway port on the host the client used.

    Using the request's own host keeps the ``accessToken`` cookie (scoped to a host, not a
    port, RFC 6265 §8.5) valid for the WebSocket handshake.
    """
    if svc.config.public_ws_url:
        return svc.config.public_ws_url
    host = request.url.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{host}:{svc.config.ws_port}/ws"
