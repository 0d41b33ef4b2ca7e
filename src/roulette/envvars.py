"""Typed reads of environment variables, each error naming the variable and its value.

Pure: it reads a mapping handed to it (``config.py`` hands it ``os.environ``), so every part
of the settings — the node's and the chain features' — parses values the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from roulette.errors import BadRequest, ConfigError
from roulette.redaction import masked_setting

__all__ = [
    "EnvReader",
    "int_at_least",
    "nonnegative",
    "parse_bool",
    "parse_port",
    "positive",
    "strings",
]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvReader:
    """Typed reads of one mapping; unset (or blank) variables keep their defaults."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """``parse`` of the variable's stripped value, or ``default`` when it is unset.

        Raises:
            ConfigError: the value does not parse; the message names the variable and value.
        """
        raw = self.env.get(name)
        if raw is None:
            return default
        try:
            return parse(raw.strip())
        except (ValueError, TypeError, KeyError, BadRequest) as exc:
            reason = exc.message if isinstance(exc, BadRequest) else exc
            # The message reaches stderr and logs: a secret's value is never echoed back.
            shown = masked_setting(name, raw)
            raise ConfigError(f"{name}={shown!r} is invalid: {reason}") from exc


def parse_bool(raw: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case)."""
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("expected true or false")


def parse_port(raw: str) -> int:
    """A TCP port, 0..65535."""
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("a port is 0..65535")
    return value


def positive(raw: str) -> float:
    """A number > 0."""
    value = float(raw)
    if not value > 0:
        raise ValueError("must be > 0")
    return value


def nonnegative(raw: str) -> float:
    """A number >= 0."""
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be >= 0")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """A parser of whole numbers >= ``low``."""

    def parse(raw: str) -> int:
        value = int(raw)
        if value < low:
            raise ValueError(f"must be >= {low}")
        return value

    return parse


def strings(raw: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())
