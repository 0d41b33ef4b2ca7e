"""The monitor's settings: thresholds, alert channels and recovery, parsed from a mapping.

``config.py`` hands the environment to :meth:`MonitorSettings.from_env`, as it does for the
chain settings; this module never reads ``os.environ`` itself. The default thresholds are the
ones ``deploy/prometheus/rules/roulette.yml`` ships (a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roulette.alert_rule import Level, Rule
from roulette.envvars import EnvReader, int_at_least, nonnegative, parse_bool, parse_port, positive

__all__ = ["DEFAULT_THRESHOLDS", "EmailSettings", "MonitorSettings", "WebhookSettings"]

# (alert name, sample key, env prefix, default warning, default critical, summary)
DEFAULT_THRESHOLDS: tuple[tuple[str, str, str, float, float, str], ...] = (
    ("response_time_p95", "http_p95_ms", "ALERT_RESPONSE_P95_MS", 500.0, 2000.0,
     "HTTP response time p95 (ms) over the last minute"),
    ("error_rate", "http_error_percent", "ALERT_ERROR_RATE_PERCENT", 5.0, 20.0,
     "share of HTTP responses that are 5xx over the last minute (%)"),
    ("memory", "memory_percent", "ALERT_MEMORY_PERCENT", 85.0, 95.0,
     "memory in use on the host (%)"),
    ("cpu", "cpu_percent", "ALERT_CPU_PERCENT", 80.0, 95.0,
     "CPU in use on the host (%)"),
    ("event_loop_lag", "loop_lag_ms", "ALERT_LOOP_LAG_MS", 100.0, 500.0,
     "event-loop lag of this process (ms)"),
    ("sockets", "sockets_percent", "ALERT_SOCKETS_PERCENT", 80.0, 95.0,
     "open WebSockets against MAX_CONNECTIONS (%)"),
)  # fmt: skip

DEPENDENCIES = ("database", "redis", "chain_rpc")
"""Each becomes a ``<name>_down`` alert, critical at once (sample ``<name>_down`` = 1.0)."""

_LEVELS = {"warning": Level.WARNING, "critical": Level.CRITICAL}


def _level(raw: str) -> Level:
    if raw.lower() not in _LEVELS:
        raise ValueError("warning or critical")
    return _LEVELS[raw.lower()]


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value < 1.0:
        raise ValueError("a fraction 0 <= x < 1")
    return value


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """A Slack-compatible incoming webhook; the body is signed with HMAC-SHA256."""

    url: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """SMTP submission (RFC 6409) with STARTTLS (RFC 3207) and AUTH (RFC 4954)."""

    host: str
    port: int = 587
    sender: str = "roulette@localhost"
    recipients: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ca_file: Path | None = None
    min_level: Level = Level.CRITICAL


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """Everything the health monitor needs."""

    enabled: bool = True
    interval_seconds: float = 5.0
    cooldown_seconds: float = 300.0
    hysteresis: float = 0.1
    rules: tuple[Rule, ...] = field(default_factory=lambda: _rules(EnvReader({}), 0.1))
    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None
    queue_size: int = 100
    retries: int = 3
    retry_delay_seconds: float = 1.0
    recovery_enabled: bool = True
    probe_timeout_seconds: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MonitorSettings:
        """Parse ``MONITORING_ENABLED``, ``MONITOR_*``, ``ALERT_*`` and ``SMTP_*``.

        Raises:
            ConfigError: a variable is malformed; the message names it and its value.
        """
        e = EnvReader(env)
        hysteresis = e.get("ALERT_HYSTERESIS", _fraction, 0.1)
        return cls(
            enabled=e.get("MONITORING_ENABLED", parse_bool, True),
            interval_seconds=e.get("MONITOR_INTERVAL_SECONDS", positive, 5.0),
            cooldown_seconds=e.get("ALERT_COOLDOWN_SECONDS", nonnegative, 300.0),
            hysteresis=hysteresis,
            rules=_rules(e, hysteresis),
            webhook=_webhook(e),
            email=_email(e),
            queue_size=e.get("ALERT_QUEUE_SIZE", int_at_least(1), 100),
            retries=e.get("ALERT_RETRIES", int_at_least(0), 3),
            retry_delay_seconds=e.get("ALERT_RETRY_DELAY_SECONDS", nonnegative, 1.0),
            recovery_enabled=e.get("AUTO_RECOVERY_ENABLED", parse_bool, True),
            probe_timeout_seconds=e.get("HEALTH_PROBE_TIMEOUT_SECONDS", positive, 2.0),
        )


def _rules(e: EnvReader, hysteresis: float) -> tuple[Rule, ...]:
    rules = [
        Rule(
            name,
            metric,
            e.get(f"{prefix}_WARNING", nonnegative, warning),
            e.get(f"{prefix}_CRITICAL", nonnegative, critical),
            hysteresis,
            summary,
        )
        for name, metric, prefix, warning, critical, summary in DEFAULT_THRESHOLDS
    ]
    rules += [
        Rule(f"{dep}_down", f"{dep}_down", None, 1.0, 0.0, f"{dep} does not answer its probe")
        for dep in DEPENDENCIES
    ]
    return tuple(rules)


def _webhook(e: EnvReader) -> WebhookSettings | None:
    url = e.get("ALERT_WEBHOOK_URL", _http_url, None)
    if not url:
        return None
    return WebhookSettings(url, e.get("ALERT_WEBHOOK_SECRET", str, None))


def _http_url(raw: str) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL")
    return raw


def _recipients(raw: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not values or any("@" not in v for v in values):
        raise ValueError("a comma-separated list of email addresses")
    return values


def _email(e: EnvReader) -> EmailSettings | None:
    host = e.get("SMTP_HOST", str, None)
    recipients: tuple[str, ...] = e.get("ALERT_EMAIL_TO", _recipients, ())
    if not host or not recipients:
        return None
    return EmailSettings(
        host=host,
        port=e.get("SMTP_PORT", parse_port, 587),
        sender=e.get("ALERT_EMAIL_FROM", str, "roulette@localhost"),
        recipients=recipients,
        username=e.get("SMTP_USERNAME", str, None),
        password=e.get("SMTP_PASSWORD", str, None),
        starttls=e.get("SMTP_STARTTLS", parse_bool, True),
        ca_file=e.get("SMTP_CA_FILE", Path, None),
        min_level=e.get("ALERT_EMAIL_MIN_LEVEL", _level, Level.CRITICAL),
    )
