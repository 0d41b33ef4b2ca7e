"""The shipped Prometheus, Alertmanager and Grafana files: valid for the real tools, and the
alert rules carry the monitor's default thresholds."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from roulette.monitor_settings import DEFAULT_THRESHOLDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SOURCES = Path(__file__).resolve().parents[2] / "src" / "roulette" / "observability"


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_promtool_accepts_the_scrape_config_and_its_rules() -> None:
    out = run("promtool", "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert "SUCCESS: 14 rules found" in out


def test_promtool_accepts_the_rules() -> None:
    run("promtool", "check", "rules", str(DEPLOY / "prometheus" / "rules" / "roulette.yml"))


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    out = run(
        "promtool", "test", "rules", str(DEPLOY / "prometheus" / "tests" / "roulette_test.yml")
    )
    assert "SUCCESS" in out


def test_amtool_accepts_the_alertmanager_routes() -> None:
    run("amtool", "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))


def shipped_rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "roulette.yml").read_text())
    rules: list[dict[str, object]] = doc["groups"][0]["rules"]
    return rules


@pytest.mark.parametrize(
    ("name", "_metric", "_prefix", "warning", "critical", "_doc"), DEFAULT_THRESHOLDS
)
def test_each_monitor_threshold_has_matching_prometheus_alerts(
    name: str, _metric: str, _prefix: str, warning: float, critical: float, _doc: str
) -> None:
    found = {
        r["labels"]["severity"]: r  # type: ignore[index]
        for r in shipped_rules()
        if r["labels"]["monitor_rule"] == name  # type: ignore[index]
    }
    for severity, threshold in (("warning", warning), ("critical", critical)):
        rule = found[severity]
        assert float(rule["annotations"]["threshold"]) == threshold  # type: ignore[index]
        assert str(rule["expr"]).endswith(f">= {threshold:g}")


def test_the_grafana_dashboard_queries_only_metrics_the_service_declares() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "roulette-dashboard.json").read_text())
    declared = "".join(p.read_text() for p in SOURCES.glob("*.py"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"roulette_[a-z_0-9]+", target["expr"])
    }
    assert queried
    for name in queried:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert f'"{base}"' in declared, name
