"""Safety settings: TURN credentials, relay-only ICE, moderation thresholds, abuse controls.

Built once by :meth:`SafetySettings.from_env` (``config.py`` hands it the environment and the
chain settings, whose gated queues a default-queue gate must name); every error names the
variable and its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from roulette.chain.settings import ChainSettings
from roulette.envvars import EnvReader, int_at_least, nonnegative, parse_bool, positive, strings
from roulette.errors import ConfigError

__all__ = ["MAX_TURN_TTL_SECONDS", "SafetySettings"]

MAX_TURN_TTL_SECONDS = 3600.0
"""TURN credentials live at most an hour: a leaked one is useless soon after."""

_TURN_SCHEMES = ("turn:", "turns:")


@dataclass(frozen=True, slots=True)
class SafetySettings:
    """What protects users from each other: IP privacy, moderation, abuse limits.

    Attributes:
        turn_secret: the coturn ``static-auth-secret`` (``use-auth-secret``); None: no TURN.
        turn_urls: ``turn:``/``turns:`` URLs sent to clients with the credentials.
        turn_ttl_seconds: lifetime of issued TURN credentials (≤ 1 h).
        ice_relay_only: drop every ICE candidate that is not ``typ relay`` (needs TURN).
        skips_per_minute: ``next`` per wallet per minute (0: only the 2 s rule).
        new_wallet_cooldown_seconds: a wallet first seen this recently may not queue yet.
        report_suspend_threshold: distinct reporters that suspend a user pending review (0: off).
        report_window_seconds: the window those reports must fall in.
        reporter_min_age_seconds: reporters first seen more recently count only alongside
            established ones (see :func:`roulette.moderation.policy.should_suspend`).
        default_queue_gate: a ``GATED_QUEUES`` name whose gate the default queue applies too.
        csrf_origin_check: refuse cookie-authenticated unsafe requests from foreign origins.
    """

    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    turn_ttl_seconds: float = MAX_TURN_TTL_SECONDS
    ice_relay_only: bool = False
    skips_per_minute: int = 10
    new_wallet_cooldown_seconds: float = 0.0
    report_suspend_threshold: int = 3
    report_window_seconds: float = 3600.0
    reporter_min_age_seconds: float = 600.0
    default_queue_gate: str | None = None
    csrf_origin_check: bool = True

    @property
    def turn_enabled(self) -> bool:
        """True when credentials can be issued."""
        return self.turn_secret is not None and bool(self.turn_urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str], chain: ChainSettings) -> SafetySettings:
        """Read the settings from ``env`` (unset variables keep their defaults).

        Raises:
            ConfigError: a variable is malformed, relay-only is on without TURN, or the
                default-queue gate names no gated queue.
        """
        e = EnvReader(env)
        settings = cls(
            turn_secret=e.get("TURN_SECRET", _secret, None),
            turn_urls=e.get("TURN_URLS", _turn_urls, ()),
            turn_ttl_seconds=e.get("TURN_TTL_SECONDS", _turn_ttl, MAX_TURN_TTL_SECONDS),
            ice_relay_only=e.get("ICE_RELAY_ONLY", parse_bool, False),
            skips_per_minute=e.get("SKIPS_PER_MINUTE", int_at_least(0), 10),
            new_wallet_cooldown_seconds=e.get("NEW_WALLET_COOLDOWN_SECONDS", nonnegative, 0.0),
            report_suspend_threshold=e.get("REPORT_SUSPEND_THRESHOLD", int_at_least(0), 3),
            report_window_seconds=e.get("REPORT_WINDOW_SECONDS", positive, 3600.0),
            reporter_min_age_seconds=e.get("REPORTER_MIN_AGE_SECONDS", nonnegative, 600.0),
            default_queue_gate=e.get("DEFAULT_QUEUE_GATE", str, None) or None,
            csrf_origin_check=e.get("CSRF_ORIGIN_CHECK", parse_bool, True),
        )
        _check(settings, env, chain)
        return settings


def _check(settings: SafetySettings, env: Mapping[str, str], chain: ChainSettings) -> None:
    if (settings.turn_secret is None) != (not settings.turn_urls):
        raise ConfigError("TURN_SECRET and TURN_URLS are invalid: set both or neither")
    if settings.ice_relay_only and not settings.turn_enabled:
        raise ConfigError(
            f"ICE_RELAY_ONLY={env.get('ICE_RELAY_ONLY')!r} is invalid: relay-only calls "
            "need a TURN server (set TURN_SECRET and TURN_URLS)"
        )
    gate = settings.default_queue_gate
    if gate is not None and gate not in chain.gated_queues:
        raise ConfigError(
            f"DEFAULT_QUEUE_GATE={gate!r} is invalid: no GATED_QUEUES entry has that name"
        )


def _secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("a secret must be at least 16 characters")
    return raw


def _turn_urls(raw: str) -> tuple[str, ...]:
    urls = strings(raw)
    for url in urls:
        # RFC 7065: turn:host[:port][?transport=udp|tcp]; the host is what must be there.
        if not url.startswith(_TURN_SCHEMES) or not urlsplit(url).path.split("?")[0]:
            raise ValueError(f"{url!r} is not a turn: or turns: URL (RFC 7065)")
    return urls


def _turn_ttl(raw: str) -> float:
    value = positive(raw)
    if value > MAX_TURN_TTL_SECONDS:
        raise ValueError(f"must be <= {MAX_TURN_TTL_SECONDS:.0f} seconds")
    return value
