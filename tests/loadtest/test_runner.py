"""End to end: the load generator against a real ``roulette serve`` process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roulette.loadtest import LoadtestOptions, run_loadtest
from roulette.loadtest.__main__ import main
from support.server import running_server


@pytest.mark.slow
def test_twenty_users_sign_in_meet_and_relay_without_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(tmp_path / "node", {"LOG_LEVEL": "warning"}) as server:
        options = LoadtestOptions(
            url=server.http_url,
            users=20,
            ramp=1.0,
            duration=5.0,
            think_min=0.3,
            think_max=1.0,
            processes=2,
            source_addresses=2,
            idle_fraction=0.1,
            heartbeat_interval=1.0,
            seed=11,
            output=tmp_path / "report.json",
            live=False,
        ).validate()
        exit_code = run_loadtest(options)
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["errors_by_kind"] == {}
    assert exit_code == 0
    assert summary["totals"]["logins"] >= 20
    assert summary["totals"]["matches"] > 0
    assert summary["totals"]["relayed_msgs"] > 0
    assert summary["relay_latency_ms"]["count"] > 0
    assert summary["heartbeat_rtt_ms"]["count"] > 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["timeline"]


def test_an_unreachable_service_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "http://127.0.0.1:9", "--no-live", "--users", "1"]) == 2


def test_bad_options_exit_2_with_the_option_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--users", "0"]) == 2
    assert "--users" in capsys.readouterr().err
