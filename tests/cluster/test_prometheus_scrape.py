"""A real Prometheus on loopback scrapes a real ``roulette cluster`` and loads the shipped
alert rules: the target is up, the node's figures (both workers) arrive, the rules evaluate."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cluster.running import TOKEN, running_cluster
from support.server import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@contextlib.contextmanager
def running_prometheus(directory: Path, target: str) -> Iterator[str]:
    """``prometheus`` on a free loopback port with the shipped rules and one scrape target."""
    directory.mkdir(parents=True)
    shutil.copytree(DEPLOY / "rules", directory / "rules")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    del config["alerting"]  # no Alertmanager in this test
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()  # prometheus does not report the port of a :0 listen address
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def poll(url: str, check: Callable[[Any], bool], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    data: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            data = httpx.get(url, timeout=5.0).json()["data"]
            if check(data):
                return data
        time.sleep(0.5)
    raise AssertionError(f"no {what} after {timeout}s; last answer {data}")


@pytest.mark.timeout(240)
def test_prometheus_scrapes_the_cluster_and_evaluates_the_shipped_rules(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        target = f"127.0.0.1:{cluster.port}"
        with running_prometheus(tmp_path / "prometheus", target) as prometheus:
            targets = poll(
                f"{prometheus}/api/v1/targets",
                lambda d: any(t["health"] == "up" for t in d["activeTargets"]),
                "target up",
            )
            assert [t["scrapeUrl"] for t in targets["activeTargets"]] == [
                f"http://{target}/metrics"
            ]
            groups = poll(
                f"{prometheus}/api/v1/rules",
                lambda d: any(g["lastEvaluation"] > "2000" for g in d["groups"]),
                "evaluated rule group",
            )["groups"]
            assert [g["name"] for g in groups] == ["roulette-health"]
            assert all(r["health"] == "ok" for r in groups[0]["rules"]), groups[0]["rules"]
            # Both workers report their socket cap: the node's figure is their sum.
            limit = poll(
                f"{prometheus}/api/v1/query?query=roulette_ws_connections_limit",
                lambda d: bool(d["result"]),
                "roulette_ws_connections_limit",
            )["result"][0]["value"][1]
            assert float(limit) == 2 * 19000
            up = poll(
                f"{prometheus}/api/v1/query?query=roulette_dependency_up",
                lambda d: {r["metric"]["dependency"] for r in d["result"]} >= {"database", "redis"},
                "dependency probes",
            )
            assert all(r["value"][1] == "1" for r in up["result"])
        # The management port serves the dashboard: the page, and a worker's data + status.
        page = httpx.get(f"{cluster.management_url}/dashboard", timeout=10)
        assert page.status_code == 200
        assert "<svg" in page.text
        assert "//cdn" not in page.text
        assert "https://" not in page.text  # nothing from the internet
        url = f"{cluster.management_url}/dashboard/data"
        assert httpx.get(url, timeout=10).status_code == 401
        data = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20).json()
        assert len(data["cluster"]["workers"]) == 2
        assert {"t", "cpu_percent", "redis_ms"} <= set(data["series"])
