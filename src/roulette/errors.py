"""The one error tree of the service, and its one mapping to HTTP statuses and close codes.

    RouletteError
    ├── ConfigError                 a bad setting at start-up (names the variable)
    ├── GoingAway                   WebSocket close 1001: shutting down, or idle too long
    ├── Replaced                    WebSocket close 4002: a newer socket of the wallet took over
    ├── PeerError                   the client's fault: 4xx, or an ``error`` message on the socket
    │   ├── ProtocolError           WebSocket close 1002 (RFC 6455 framing broken)
    │   ├── BadRequest              400 bad_request (malformed body or message)
    │   ├── Unauthenticated         401 / WebSocket close 4001
    │   ├── Forbidden               403 (foreign Origin, admin only, banned)
    │   ├── NotFound                404
    │   ├── Conflict                409 (already blocked, already queued)
    │   ├── PayloadTooLarge         413 / WebSocket close 1009 (RFC 6455 §7.4.1)
    │   ├── RateLimited             429 / ``error`` on the socket, socket stays open
    │   └── PolicyViolation         WebSocket close 1008 (sustained abuse)
    └── ServiceError                our fault or a dependency's: 5xx, close 1011 / 1013
        ├── Unavailable             503 / close 1013 (store down, node full, draining)
        └── InvalidState            a bug: we broke our own invariant

A ``PeerError`` never carries internal details; a ``ServiceError`` is shown to the peer only as
its code and a generic message (see :func:`public_message`).

:func:`close_code` is the only place a WebSocket close code is chosen: code that closes a socket
passes the error that is the reason, never a number.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "GoingAway",
    "InvalidState",
    "NotFound",
    "PayloadTooLarge",
    "PeerError",
    "PolicyViolation",
    "ProtocolError",
    "RateLimited",
    "Replaced",
    "RouletteError",
    "ServiceError",
    "Unauthenticated",
    "Unavailable",
    "close_code",
    "closing_code",
    "http_status",
    "public_message",
]

# RFC 6455 §7.4.1 codes; 4000-4999 are for applications (§7.4.2).
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHENTICATED = 4001
CLOSE_REPLACED = 4002


class RouletteError(Exception):
    """Base of every error the service raises on purpose.

    Args:
        message: a readable sentence for the log and, for peer errors, for the client.
        code: a snake_case machine code; defaults to the class's ``default_code``.
    """

    default_code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    close: ClassVar[int | None] = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigError(RouletteError):
    """A setting in the environment is missing or malformed."""

    default_code = "config_error"


class GoingAway(RouletteError):
    """The server closes a healthy socket: shutting down, or idle too long (close 1001)."""

    default_code = "going_away"
    status = 503
    close = CLOSE_GOING_AWAY


class Replaced(RouletteError):
    """A newer socket of the same wallet took over (application close 4002, §7.4.2)."""

    default_code = "replaced"
    status = 409
    close = CLOSE_REPLACED


class PeerError(RouletteError):
    """The client did something wrong; it may be told exactly what."""

    default_code = "bad_request"
    status = 400


class BadRequest(PeerError):
    """Malformed input: unparseable JSON, a missing field, a bad value."""


class ProtocolError(PeerError):
    """The peer broke RFC 6455 framing (close 1002, §7.4.1)."""

    default_code = "protocol_error"
    close = CLOSE_PROTOCOL_ERROR


class Unauthenticated(PeerError):
    """No valid credential: missing, expired, revoked or forged."""

    default_code = "unauthenticated"
    status = 401
    close = CLOSE_UNAUTHENTICATED


class Forbidden(PeerError):
    """Authenticated (or not needed) but not allowed."""

    default_code = "forbidden"
    status = 403
    close = CLOSE_POLICY_VIOLATION


class NotFound(PeerError):
    """The thing named does not exist (or is not the caller's to see)."""

    default_code = "not_found"
    status = 404


class Conflict(PeerError):
    """The request contradicts the current state."""

    default_code = "conflict"
    status = 409


class PayloadTooLarge(PeerError):
    """A body or message over its explicit size limit."""

    default_code = "payload_too_large"
    status = 413
    close = CLOSE_MESSAGE_TOO_BIG


class RateLimited(PeerError):
    """Too many requests; the client may retry later."""

    default_code = "rate_limited"
    status = 429


class PolicyViolation(PeerError):
    """Sustained abuse on a socket: it is closed with 1008."""

    default_code = "policy_violation"
    status = 429
    close = CLOSE_POLICY_VIOLATION


class ServiceError(RouletteError):
    """Our fault or a dependency's; details stay in our log."""

    default_code = "internal_error"
    status = 500
    close = CLOSE_INTERNAL_ERROR


class Unavailable(ServiceError):
    """A dependency is down or this node is full or draining; retry elsewhere or later."""

    default_code = "unavailable"
    status = 503
    close = CLOSE_TRY_AGAIN_LATER


class InvalidState(ServiceError):
    """We broke one of our own invariants (a bug, never the peer's fault)."""

    default_code = "invalid_state"


def http_status(error: BaseException) -> int:
    """The HTTP status for an error; anything unexpected is a 500."""
    return error.status if isinstance(error, RouletteError) else 500


def close_code(error: BaseException) -> int | None:
    """The WebSocket close code for an error, or None when the socket stays open.

    Unexpected exceptions close with 1011 (RFC 6455 §7.4.1, "unexpected condition").
    """
    if isinstance(error, RouletteError):
        return error.close
    return CLOSE_INTERNAL_ERROR


def closing_code(error: BaseException) -> int:
    """The close code when the socket must close because of ``error`` (1011 if it has none)."""
    code = close_code(error)
    return CLOSE_INTERNAL_ERROR if code is None else code


def public_message(error: BaseException) -> tuple[str, str]:
    """The ``(code, message)`` pair a client may see: our internals never leak."""
    if isinstance(error, PeerError | Unavailable):
        return error.code, error.message
    return "internal_error", "internal error; it has been logged"
