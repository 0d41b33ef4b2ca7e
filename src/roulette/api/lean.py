"""Lean routes: FastAPI declares and documents them, a small binder serves them (issue 15).

FastAPI serves a request by solving the endpoint's dependency graph, validating the body
with pydantic and encoding the result with ``jsonable_encoder``: about as much CPU as all
the work of a sign-in. The sign-in routes are hot (a storm after a deploy), so their route
class replaces that step with a binder written for the route: it reads the arguments the
endpoint declares (the services, a ``Response`` for cookies, a msgspec-decoded body, a
cookie) and calls the same endpoint function. The contract does not change: the path, the
OpenAPI operation (built by FastAPI from the same signature), the errors (raised to the
same exception handlers), the middlewares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import msgspec
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response

from roulette.api.deps import check_auth_limits
from roulette.api.services import Services

__all__ = ["Binder", "LeanRoute", "json_body", "lean", "lean_route"]

Binder = Callable[[Request, Services, Response], Awaitable[dict[str, Any]]]
"""The endpoint's keyword arguments, from the request, the services and the sub-response."""

T = TypeVar("T")
E = TypeVar("E", bound=Callable[..., Awaitable[dict[str, object]]])

_ENCODE = msgspec.json.Encoder().encode


class LeanRoute(APIRoute):
    """A route whose requests skip FastAPI's dependency solving: the auth rate limit (and
    load shedding) runs first, then :attr:`binder` reads the arguments, the endpoint runs,
    and its ``dict`` result is encoded by msgspec with the cookies it set. The app's lean
    branch (``api/front.py``) calls its handler ahead of FastAPI's stack."""

    binder: Binder
    early_shed: bool = True
    """Whether the early sign-in shedding threshold applies (``deps.check_auth_limits``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint, binder, early_shed = self.endpoint, self.binder, self.early_shed

        async def handle(request: Request) -> Response:
            svc: Services = request.app.state.services
            await check_auth_limits(request, svc, early_shed=early_shed)
            # As FastAPI does: the endpoint sets cookies on a sub-response, merged below.
            sub = Response()
            del sub.headers["content-length"]
            result = await endpoint(**await binder(request, svc, sub))
            response = Response(_ENCODE(result), media_type="application/json")
            response.raw_headers.extend(sub.raw_headers)
            return response

        return handle


def lean_route(binder: Binder, *, early_shed: bool = True) -> type[LeanRoute]:
    """The route class of a lean route served by ``binder``."""
    attributes = {"binder": staticmethod(binder), "early_shed": early_shed}
    return type("LeanRoute", (LeanRoute,), attributes)


def lean(
    router: APIRouter,
    method: str,
    path: str,
    binder: Binder,
    *,
    early_shed: bool = True,
    **options: Any,
) -> Callable[[E], E]:
    """Register the decorated endpoint on ``router`` as a lean route (``options``: those of
    ``add_api_route``, e.g. ``dependencies`` to document)."""

    def register(endpoint: E) -> E:
        route_class = lean_route(binder, early_shed=early_shed)
        router.add_api_route(
            path, endpoint, methods=[method], route_class_override=route_class, **options
        )
        return endpoint

    return register


async def json_body(request: Request, decoder: msgspec.json.Decoder[T]) -> T:
    """The request body decoded and validated by ``decoder``.

    Raises:
        RequestValidationError: not a JSON media type (FastAPI's strict rule: no
            ``Content-Type`` is not JSON either), or a body the decoder refuses (422).
    """
    if not _is_json(request.headers.get("content-type")):
        raise _invalid("a JSON body (application/json) is required")
    try:
        return decoder.decode(await request.body())
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        raise _invalid(str(error)) from error


def _is_json(content_type: str | None) -> bool:
    # application/json or application/<anything>+json, parameters (charset) aside (RFC 6839).
    if not content_type:
        return False
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _invalid(problem: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body",), "msg": problem, "type": "value_error"}])
