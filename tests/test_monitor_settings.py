"""Monitor settings from the environment: defaults, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.monitor_settings import MonitorSettings
from roulette.observability.monitor import sends_alerts
from roulette.observability.readiness import LoadGate
from roulette.observability.thresholds import Level


def test_defaults_watch_every_figure_and_dependency() -> None:
    settings = Config.from_env({}).monitor
    names = [r.name for r in settings.rules]
    assert names == [
        "response_time_p95", "error_rate", "memory", "cpu", "event_loop_lag", "sockets",
        "database_down", "redis_down", "chain_rpc_down",
    ]  # fmt: skip
    assert (settings.webhook, settings.email, settings.cooldown_seconds) == (None, None, 300.0)
    assert settings == MonitorSettings()


def test_thresholds_channels_and_timing_come_from_the_environment() -> None:
    settings = MonitorSettings.from_env(
        {
            "ALERT_CPU_PERCENT_WARNING": "70",
            "ALERT_CPU_PERCENT_CRITICAL": "90",
            "ALERT_HYSTERESIS": "0.2",
            "ALERT_COOLDOWN_SECONDS": "60",
            "MONITOR_INTERVAL_SECONDS": "1",
            "ALERT_WEBHOOK_URL": "https://hooks.example.org/x",
            "ALERT_WEBHOOK_SECRET": "s3cret",
            "SMTP_HOST": "smtp.example.org",
            "SMTP_CA_FILE": "/etc/ca.pem",
            "ALERT_EMAIL_TO": "ops@example.org, oncall@example.org",
            "ALERT_EMAIL_MIN_LEVEL": "warning",
        }
    )
    cpu = next(r for r in settings.rules if r.name == "cpu")
    assert (cpu.warning, cpu.critical, cpu.hysteresis) == (70.0, 90.0, 0.2)
    assert (settings.cooldown_seconds, settings.interval_seconds) == (60.0, 1.0)
    assert settings.webhook is not None
    assert settings.webhook.secret == "s3cret"
    assert settings.email is not None
    assert settings.email.recipients == ("ops@example.org", "oncall@example.org")
    assert (settings.email.port, settings.email.ca_file) == (587, Path("/etc/ca.pem"))
    assert settings.email.min_level is Level.WARNING


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALERT_HYSTERESIS", "1.5"),
        ("ALERT_CPU_PERCENT_WARNING", "-1"),
        ("ALERT_WEBHOOK_URL", "ftp://x"),
        ("ALERT_EMAIL_TO", "nobody"),
        ("ALERT_EMAIL_MIN_LEVEL", "info"),
        ("MONITOR_INTERVAL_SECONDS", "0"),
        ("MONITORING_ENABLED", "maybe"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        MonitorSettings.from_env(
            {name: value, "SMTP_HOST": "h", "ALERT_EMAIL_TO": "a@b"} | {name: value}
        )


def test_email_needs_a_host_and_recipients() -> None:
    assert MonitorSettings.from_env({"SMTP_HOST": "smtp.example.org"}).email is None


def test_only_serve_and_the_slot_one_worker_send_alerts() -> None:
    assert sends_alerts(None)
    assert sends_alerts("n-abc123-1.0")
    assert sends_alerts("n-abc123-1.7")
    assert not sends_alerts("n-abc123-2.1")
    assert not sends_alerts("n-abc123-11.3")


def test_the_load_gate_lists_why_the_node_is_not_ready() -> None:
    gate = LoadGate()
    assert (gate.reasons(), gate.shedding) == ([], False)
    gate.shed("monitor", True)
    gate.shed("lb", True)
    gate.shed("lb", False)
    gate.drain()
    assert gate.reasons() == ["draining", "shedding:monitor"]
    assert gate.draining
    assert gate.is_shedding("monitor")
    assert not gate.is_shedding("lb")
