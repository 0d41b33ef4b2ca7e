"""``GET /health/ready``: may a balancer send this node new clients? (HAProxy's HTTP check.)

200 while the node is ready; 503 with its state once it drains or stops, so the balancer takes
it out of rotation even if its agent check cannot be reached.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from roulette.balancing.nodes import NodeState

__all__ = ["readiness_router"]


def readiness_router(state: Callable[[], NodeState], node_id: str) -> APIRouter:
    """A router answering from ``state()`` (the node's presence); names the node answering."""
    router = APIRouter()

    @router.get("/health/ready", tags=["status"])
    async def ready() -> JSONResponse:
        now = state()
        status = 200 if now is NodeState.READY else 503
        return JSONResponse({"status": now.value, "node": node_id}, status_code=status)

    return router
