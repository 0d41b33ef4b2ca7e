"""The lean branch: lean routes served ahead of FastAPI's stack (issue 15).

A sign-in is two requests (nonce, verify), and each crossed FastAPI's and Starlette's layers
— the error, telemetry and body-limit wrappers, the exception middleware, the exit stack, the
router's matching, ``request_response`` — about as much CPU as the sign-in's own work. The
app answers a lean route's exact method and path here instead, through the *same* pieces:
the app's own user middlewares (CSRF origin, latency metrics, ``Retry-After``, body limit;
the classes and arguments it was given, in its order), its exception handlers (a 500 by
Starlette's ``ServerErrorMiddleware``, outermost, as in the app), and the route's handler.
Responses, errors and metrics are those of the full stack; the OpenAPI document is FastAPI's,
built from the same routes. Anything else — another method, a trailing slash, a root path —
goes down the full stack.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from roulette.api.lean import LeanRoute

__all__ = ["FrontedApp"]

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


class FrontedApp(FastAPI):
    """FastAPI, with its lean routes answered by a short branch ahead of its stack.

    Call :meth:`open_lean_branch` once its middlewares and handlers are set and its routers
    included.
    """

    lean_branches: Mapping[tuple[str, str], ASGIApp] = {}
    """(method, path) of each lean route: its branch."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            branch = self.lean_branches.get((scope["method"], scope["path"]))
            if branch is not None:
                scope["app"] = self  # as Starlette does: handlers read the app's state
                await branch(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def open_lean_branch(self, routers: Iterable[APIRouter]) -> None:
        """Build the branch of every lean route of ``routers``, included in this app without
        a prefix (FastAPI's own stack is left as it is)."""
        error_handler: Any = None
        handlers: dict[Any, Handler] = {}
        for key, value in self.exception_handlers.items():  # split as FastAPI's stack does
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        branches: dict[tuple[str, str], ASGIApp] = {}
        for route in (route for router in routers for route in router.routes):
            if not isinstance(route, LeanRoute) or route.param_convertors:
                continue
            branch: ASGIApp = _Endpoint(route, handlers)
            for cls, args, kwargs in reversed(self.user_middleware):
                branch = cls(branch, *args, **kwargs)
            branch = ServerErrorMiddleware(branch, handler=error_handler, debug=self.debug)
            for method in route.methods or ():
                branches[(method, route.path)] = branch
        self.lean_branches = branches


class _Endpoint:
    """One lean route as a bare ASGI app: its handler, its errors rendered by the app's
    handlers (Starlette's ``ExceptionMiddleware`` rule: by status, then by class)."""

    def __init__(self, route: LeanRoute, handlers: Mapping[Any, Handler]) -> None:
        self.route = route
        self.handle = route.get_route_handler()
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route  # the latency metrics label by route template
        request = Request(scope, receive, send)
        try:
            response = await self.handle(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.handlers:
            return self.handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None
