"""The HTTP API application: routers, the one error rendering, limits and latency metrics.

Every failure is ``{"error": {"code": "snake_case", "message": "…"}}``: 4xx for the client's
fault, 5xx only for ours (logged, never with internals in the body).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roulette import __version__
from roulette.api import (
    auth_routes,
    health_routes,
    moderation_routes,
    review_routes,
    status_routes,
)
from roulette.api.csrf import OriginCheck
from roulette.api.front import FrontedApp
from roulette.api.services import Services
from roulette.errors import (
    DEFAULT_RETRY_AFTER_SECONDS,
    PayloadTooLarge,
    RouletteError,
    http_status,
    public_message,
    retry_after,
)
from roulette.observability.metrics import ERRORS, HTTP_IN_FLIGHT, HTTP_LATENCY
from roulette.observability.vitals import Vitals

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape of the API."""
    return {"error": {"code": code, "message": message}}


def _count_error(request: Request, kind: str, code: str) -> None:
    """Errors by type and code (bounded: codes are the service's own snake_case names)."""
    ERRORS.labels(kind, code).inc()
    request.app.state.services.vitals.error(kind, code, time.time())


async def _on_roulette_error(request: Request, exc: Exception) -> JSONResponse:
    status = http_status(exc)
    if status >= 500:
        log.warning("request_failed path=%s error=%s", request.url.path, exc)
    code, message = public_message(exc)
    _count_error(request, "service" if status >= 500 else "peer", code)
    wait = retry_after(exc)
    headers = {"Retry-After": str(wait)} if wait is not None else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    _count_error(request, "peer", "validation_error")
    details = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()[:5]
    )
    return JSONResponse(error_body("validation_error", details or "invalid request"), 422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    known = {404: "not_found", 405: "method_not_allowed", 503: "overloaded"}  # 503: shedding
    code = known.get(exc.status_code, "http_error")
    _count_error(request, "peer", code)
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request_crashed path=%s", request.url.path)
    _count_error(request, "unexpected", "internal_error")
    return JSONResponse(error_body("internal_error", "internal error; it has been logged"), 500)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before the route reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise PayloadTooLarge(f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            error_body("payload_too_large", f"request body over {self.limit} bytes"), 413
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class RetryAfter:
    """Every 429 and 503 says when to come back (RFC 9110 §10.2.3, §15.5.20, §15.6.4).

    Routes that know (a rate limit's refill) set ``Retry-After`` themselves; any other 429 or
    503 (a failing health check, a framework error) gets the default.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (429, 503):
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", str(DEFAULT_RETRY_AFTER_SECONDS).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_retry_after)


class LatencyMetrics:
    """Observe every HTTP request in the latency histogram and the vitals, by route template."""

    def __init__(self, app: ASGIApp, vitals: Vitals) -> None:
        self.app = app
        self.vitals = vitals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, record_status)
        finally:
            HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            HTTP_LATENCY.labels(scope["method"], path, str(status)).observe(seconds)
            self.vitals.http_request(path, status, seconds * 1000.0, time.time())


def create_app(svc: Services, web_dir: Path | None = None) -> FastAPI:
    """The API of one node, serving ``web_dir`` (the browser client) at ``/`` if given."""
    app = FrontedApp(
        title="Web3 Chat Roulette",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = svc
    app.add_exception_handler(RouletteError, _on_roulette_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(BodyLimit, limit=svc.config.limits.max_body_bytes)
    app.add_middleware(RetryAfter)
    app.add_middleware(LatencyMetrics, vitals=svc.vitals)
    if svc.config.safety.csrf_origin_check:
        app.add_middleware(OriginCheck, allowed_origins=svc.config.allowed_origins)
    routers = (
        auth_routes.router,
        moderation_routes.router,
        moderation_routes.admin_router,
        review_routes.router,
        status_routes.router,
        health_routes.router,
        *svc.routers,
    )
    for router in routers:
        app.include_router(router)
    if web_dir is not None and web_dir.is_dir():
        app.mount("/", StaticFiles(directory=web_dir, html=True), name="web")
    app.open_lean_branch(routers)  # the sign-in routes, ahead of FastAPI's stack (issue 15)
    return app
