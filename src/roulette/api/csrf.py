"""CSRF protection for cookie-authenticated requests: the ``Origin`` must be one we serve.

A browser attaches our cookies to a request that another site makes it send; it also says
which site that is, in ``Origin`` (sent with every cross-site request and every POST, Fetch
standard §3.1) or failing that ``Referer``. So a state-changing request that carries our auth
cookies is accepted only from an origin in ``ALLOWED_ORIGINS`` (OWASP CSRF cheat sheet,
"verifying origin with standard headers"). A request with ``Authorization`` is not at risk (a
page cannot set that header cross-site without a CORS preflight we never grant), and one with
neither cookies nor a header has no ambient authority to abuse.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AUTH_COOKIES", "OriginCheck", "is_forged_request"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""RFC 9110 §9.2.1: these change nothing, so a forged one gains nothing."""

AUTH_COOKIES = ("accessToken=", "refreshToken=")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def is_forged_request(
    method: str, headers: Mapping[str, str], allowed_origins: Collection[str]
) -> bool:
    """True when a request must be refused as a possible cross-site request forgery.

    Args:
        method: the HTTP method.
        headers: the request headers, names lowercased.
        allowed_origins: the exact origins we serve (``ALLOWED_ORIGINS``).
    """
    if method.upper() in SAFE_METHODS or "authorization" in headers:
        return False
    origin = headers.get("origin")
    if origin is not None:
        return origin not in allowed_origins  # "null" (sandboxed, file:) is never allowed
    referer = headers.get("referer")
    if referer is not None:
        return _origin_of(referer) not in allowed_origins
    cookie = headers.get("cookie", "")
    return any(name in cookie for name in AUTH_COOKIES)


class OriginCheck:
    """ASGI middleware: answer 403 ``csrf_origin`` to forged-looking requests."""

    def __init__(self, app: ASGIApp, allowed_origins: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            if is_forged_request(scope["method"], headers, self.allowed):
                body = {
                    "error": {
                        "code": "csrf_origin",
                        "message": "cookie-authenticated requests must come from an allowed Origin",
                    }
                }
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
