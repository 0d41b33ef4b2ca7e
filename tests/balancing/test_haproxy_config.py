"""The rendered HAProxy configuration: every algorithm and option passes ``haproxy -c``."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from roulette.balancing.haproxy_config import READY_PATH, render
from roulette.balancing.nodes import NodeRecord, NodeState
from roulette.balancing.settings import ALGORITHMS, LbSettings

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

NODES = [
    NodeRecord("w-a", "127.0.0.1", 4001, 4002, 4003, 19_000, 10, NodeState.READY, 0.0),
    NodeRecord("w-b", "127.0.0.1", 4011, 4012, 4013, 3_000, 0, NodeState.DRAINING, 0.0),
]


def _check(config: str, tmp_path: Path) -> None:
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    result = subprocess.run(
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _settings(tmp_path: Path, **changes: object) -> LbSettings:
    return replace(LbSettings(run_dir=tmp_path, port=18080, stats_port=18081), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sticky", [False, True])
@pytest.mark.parametrize("nodes", [[], NODES], ids=["no-nodes", "two-nodes"])
def test_every_rendering_passes_haproxy_check(
    tmp_path: Path, algorithm: str, sticky: bool, nodes: list[NodeRecord]
) -> None:
    settings = _settings(tmp_path, algorithm=algorithm, sticky=sticky, stats_password="s" * 12)
    _check(render(settings, nodes), tmp_path)


@pytest.mark.parametrize(
    ("algorithm", "expected", "absent"),
    [
        ("round-robin", ["balance roundrobin", "agent-send state", "weight 1 "], ["hash-type"]),
        ("least-connections", ["balance leastconn", "agent-send state"], ["hash-type"]),
        ("weighted", ["balance roundrobin", "agent-send weight", "weight 19 ", "weight 3 "], []),
        ("ip-hash", ["balance source", "hash-type map-based"], ["consistent"]),
        ("consistent-hash", ["balance source", "hash-type consistent"], ["map-based"]),
    ],
)
def test_algorithms_map_to_haproxy_balance(
    tmp_path: Path, algorithm: str, expected: list[str], absent: list[str]
) -> None:
    config = render(_settings(tmp_path, algorithm=algorithm), NODES)
    for text in expected:
        assert text in config
    for text in absent:
        assert text not in config


def test_routing_checks_and_limits(tmp_path: Path) -> None:
    settings = _settings(tmp_path, conn_per_ip=7, conn_rate_per_ip=8, http_rate_per_ip=9)
    config = render(settings, NODES)
    assert "use_backend ws if websocket" in config
    assert "acl websocket path /ws" in config
    assert "default_backend http" in config
    assert "timeout tunnel 1h" in config
    assert f"http-check send meth GET uri {READY_PATH}" in config
    assert "on-marked-down shutdown-sessions" in config
    assert "sc0_conn_cur gt 7" in config
    assert "sc0_conn_rate gt 8" in config
    assert "sc0_http_req_rate gt 9" in config
    assert "deny_status 429" in config
    # Both servers of a node are checked on its HTTP port; the ws one routes to its WS port.
    assert "server n-w-a 127.0.0.1:4002 " in config
    assert "maxconn 19000 check port 4001" in config
    assert "agent-port 4003" in config


def test_sticky_sessions_insert_a_cookie_per_backend(tmp_path: Path) -> None:
    assert "cookie" not in render(_settings(tmp_path), NODES)
    config = render(_settings(tmp_path, sticky=True), NODES)
    assert "cookie RLB_HTTP insert indirect nocache httponly dynamic" in config
    assert "cookie RLB_WS insert indirect nocache httponly dynamic" in config


def test_stats_page_needs_a_password(tmp_path: Path) -> None:
    assert "stats auth" not in render(_settings(tmp_path), [])
    config = render(_settings(tmp_path, stats_password="p" * 12, stats_user="ops"), [])
    assert "stats auth ops:pppppppppppp" in config
    assert "bind 0.0.0.0:18081" in config
    assert "use-service prometheus-exporter" in config


def test_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """The check is real: HAProxy refuses nonsense (so the tests above can fail)."""
    with pytest.raises(AssertionError):
        _check(render(_settings(tmp_path), NODES) + "backend x\n    balance nonsense\n", tmp_path)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cli_render_passes_haproxy_check(
    tmp_path: Path,
    algorithm: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from roulette.cli import main

    for name in [n for n in os.environ if n.startswith(("REDIS_", "LB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LB_ALGORITHM", algorithm)
    monkeypatch.setenv("LB_STICKY_SESSION_ENABLED", "true")
    monkeypatch.setenv("LB_STATS_PASSWORD", "cli-stats-password")
    monkeypatch.setenv("LB_RUN_DIR", str(tmp_path))
    assert main(["lb", "render", "--no-nodes"]) == 0
    config = capsys.readouterr().out
    assert "frontend public" in config
    _check(config, tmp_path)


def test_cli_rejects_a_bad_algorithm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from roulette.cli import main

    monkeypatch.setenv("LB_ALGORITHM", "random")
    assert main(["lb", "render", "--no-nodes"]) == 2
    assert "LB_ALGORITHM" in capsys.readouterr().err
