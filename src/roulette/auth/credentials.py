"""Where a request carries its access token: one parser for HTTP requests and WebSocket
handshakes alike (RFC 6750 §2.1 bearer header first, then the ``accessToken`` cookie)."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

__all__ = ["bearer_or_cookie"]


def bearer_or_cookie(authorization: str | None, cookie_header: str | None) -> str | None:
    """The access token of a request: ``Authorization: Bearer`` wins over the cookie."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    if cookie_header:
        try:
            jar = SimpleCookie(cookie_header)
        except CookieError:
            return None
        morsel = jar.get("accessToken")
        return morsel.value if morsel is not None else None
    return None
