"""``run_cluster``'s checks before anything starts, the single-worker mode without Redis, and
the package's public names."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import roulette.cluster
from cluster.running import BOOT_WAIT, RunningCluster, running_cluster
from roulette.cluster import EXIT_CONFIG, run_cluster
from roulette.config import Config, RedisSettings
from support.server import free_port
from support.users import signed_in_users


def test_the_public_names_are_pinned() -> None:
    assert set(roulette.cluster.__all__) == {
        "BOOT_TIMEOUT",
        "EXIT_CONFIG",
        "EXIT_CRASH_LOOP",
        "HEARTBEAT_TIMEOUT",
        "SIGNALS",
        "ManagementServer",
        "Supervisor",
        "WorkerState",
        "run_cluster",
    }


def _config(tmp_path: Path, **changes: Any) -> Config:
    # Known ports, not 0: these tests take a port first, or check that none was bound.
    base = Config(
        port=free_port(),
        ws_port=free_port(),
        management_port=free_port(),
        management_token="test-management-token-0123456789",
        data_dir=tmp_path,
    )
    return replace(base, **changes)


def test_more_than_one_worker_without_redis_stops_before_binding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, cluster_workers=2)
    assert run_cluster(config, announce=pytest.fail) == EXIT_CONFIG
    error = capsys.readouterr().err
    assert "CLUSTER_WORKERS=2" in error
    assert "REDIS_URL" in error
    with socket.create_server(("127.0.0.1", config.port)):
        pass  # nothing was bound


def test_a_taken_management_port_stops_it_and_releases_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, cluster_workers=2, redis=RedisSettings(url="redis://x:1/0"))
    with socket.create_server(("127.0.0.1", config.management_port)):
        assert run_cluster(config, announce=pytest.fail) == EXIT_CONFIG
    assert f"MANAGEMENT_PORT={config.management_port}" in capsys.readouterr().err
    for port in (config.port, config.ws_port):
        with socket.create_server(("127.0.0.1", port)):
            pass


def test_a_taken_http_port_stops_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, cluster_workers=1)
    with socket.create_server(("127.0.0.1", config.port)):
        assert run_cluster(config, announce=pytest.fail) == EXIT_CONFIG
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_worker_runs_without_redis_cannot_grow_and_drains_sockets_with_1001(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, {"CLUSTER_WORKERS": "1"}, ready=1) as cluster:
        assert cluster.health() == 200
        # Started on port 0 (cluster.running): the workers were told the port bound.
        config = httpx.get(f"{cluster.http_url}/config", timeout=10.0).json()
        assert config["siweDomain"] == f"127.0.0.1:{cluster.port}"
        response = cluster.set_count(2)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "needs_shared_state"
        cluster.signal(signal.SIGTTIN)
        time.sleep(0.5)
        assert cluster.status()["desired"] == 1
        assert asyncio.run(_close_code_on_sigterm(cluster)) == 1001
        assert cluster.process.wait(30) == 0


async def _close_code_on_sigterm(cluster: RunningCluster) -> int | None:
    """SIGTERM the supervisor while a signed-in user holds a WebSocket; its close code."""
    (user,) = await signed_in_users(cluster, 1)
    try:
        ws = await user.connect()
        cluster.signal(signal.SIGTERM)
        await asyncio.wait_for(ws.wait_closed(), 30)
        return ws.close_code
    finally:
        await user.close()


def test_without_a_token_the_management_api_is_off(tmp_path: Path) -> None:
    env = {"CLUSTER_WORKERS": "1", "MANAGEMENT_TOKEN": None}
    with running_cluster(tmp_path, env, ready=None) as cluster:
        deadline = time.monotonic() + BOOT_WAIT
        while "management API off" not in cluster.log():
            assert time.monotonic() < deadline, cluster.log()
            time.sleep(0.05)
        assert "MANAGEMENT_TOKEN is not set" in cluster.log()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{cluster.management_url}/cluster/status", timeout=5.0)
        assert cluster.stop() == 0
