"""The lab's rendered Prometheus and Alertmanager configuration pass the tools' own checks
(``promtool check config``, ``amtool check-config``), with the repository's alert rules when
``deploy/prometheus`` has any."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from roulette.lab.lifecycle import rule_files
from roulette.lab.state import LabNode, LabPostgres, LabState
from roulette.lab.topology import alertmanager_config, prometheus_config


def _state(tmp_path: Path) -> LabState:
    return LabState(
        directory=str(tmp_path),
        lb_port=18000,
        stats_port=18001,
        workers=1,
        redis_ports=list(range(17000, 17006)),
        postgres=LabPostgres("machine", "postgresql+asyncpg://x@127.0.0.1/db", "", "db", 5432),
        nodes=[LabNode("node1", 18010, 18011, 18012, 18013), LabNode("node2", 18020, 18021, 18022)],
        secrets={"stats": "stats-password-0123"},
        alertmanager_port=18030,
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is installed by scripts/bootstrap")
    return found


def test_promtool_accepts_the_rendered_prometheus_config(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(_state(tmp_path), rule_files()))
    done = subprocess.run(
        [_tool("promtool"), "check", "config", str(config)], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = config.read_text()
    for target in ("127.0.0.1:18010", "127.0.0.1:18020", "127.0.0.1:18001", "127.0.0.1:18030"):
        assert target in text


def test_promtool_refuses_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(_state(tmp_path), []).replace("5s", "five seconds"))
    done = subprocess.run(
        [_tool("promtool"), "check", "config", str(config)], capture_output=True, check=False
    )
    assert done.returncode != 0


def test_amtool_accepts_the_rendered_alertmanager_config(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_config())
    done = subprocess.run(
        [_tool("amtool"), "check-config", str(config)], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
