"""The one logging set-up of every process (``serve``, ``cluster``, its workers, the CLI).

Two guards, because a credential reaches a log line from two directions: libraries log what
they see (httpx writes every request's full URL at INFO, and a hosted RPC URL carries its API
key), and our own lines may carry a URL or an exception's text. So the libraries that see
credentials or user data are held at a floor whatever ``LOG_LEVEL`` says, and every formatted
line — message, arguments and traceback — goes through :class:`~roulette.redaction.Redactor`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import TextIO

from roulette.errors import ConfigError
from roulette.redaction import Redactor

__all__ = ["FORMAT", "LIBRARY_FLOORS", "RedactingFormatter", "configure_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

LIBRARY_FLOORS: Mapping[str, int] = {
    # INFO: "HTTP Request: POST <full URL>" for every JSON-RPC call — the provider's key.
    "httpx": logging.WARNING,
    # DEBUG: connection and request traces of httpx's transport.
    "httpcore": logging.WARNING,
    # DEBUG: connection parameters; its errors are raised, not logged.
    "asyncpg": logging.WARNING,
    # DEBUG: every SQLite call with its bound parameters (token ids, addresses).
    "aiosqlite": logging.WARNING,
    # INFO/DEBUG is SQLAlchemy's echo: every statement with its parameters and result rows.
    "sqlalchemy.engine": logging.WARNING,
    "sqlalchemy.pool": logging.WARNING,
    # DEBUG: commands and connection details.
    "redis": logging.WARNING,
    # INFO: one line per request, query string included (``?token=…``).
    "uvicorn.access": logging.WARNING,
    # Level 9 (PICOWS_DEBUG_LL): raw handshake bytes, the Authorization header included.
    "picows": logging.INFO,
    # DEBUG: every frame of the load generator's and the tests' clients.
    "websockets": logging.INFO,
    # INFO: a line per migration on every start.
    "alembic": logging.WARNING,
}
"""The least severe level each library may log at, whatever ``LOG_LEVEL`` is."""


class RedactingFormatter(logging.Formatter):
    """The usual one-line format, with every secret in the finished text masked.

    Redacting the finished text (not ``record.msg``) also covers ``%``-arguments, exception
    messages and tracebacks, and lines of libraries we do not control.
    """

    def __init__(self, redactor: Redactor, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, redacted."""
        return self._redact(super().format(record))


def configure_logging(
    level: str, environment: Mapping[str, str], *, stream: TextIO | None = None
) -> logging.Handler:
    """Install the one root handler (replacing any) and the library floors.

    Args:
        level: ``LOG_LEVEL`` (``debug``, ``info``, ``warning``, ``error``, ``critical``).
        environment: the settings' raw environment; the values of its secret-bearing
            variables are masked wherever they appear.
        stream: where lines go (default ``sys.stderr``).

    Returns:
        The installed handler.

    Raises:
        ConfigError: ``level`` is not a level name.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"LOG_LEVEL={level!r} is invalid: use debug, info, warning or error")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(Redactor.for_environment(environment)))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Propagation skips the ancestors' levels, so a floor below the root's would let a
    # library's records through: each floor is at least the root's level.
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    logging.captureWarnings(True)  # warnings reach stderr through the same redaction
    # An uncaught exception would otherwise print its traceback (and message) raw.
    sys.excepthook = _log_uncaught
    return handler


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("roulette").critical("uncaught_exception", exc_info=(kind, error, traceback))
