"""``roulette cluster`` as processes: a real supervisor, real workers, injected signals.

Every wait polls with a deadline (a worker boots in 1-3 s on an idle machine, far longer on a
loaded one); measured durations are printed (``pytest -s``) for the docs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.running import (
    BOOT_WAIT,
    TOKEN,
    RunningCluster,
    is_alive,
    is_settled,
    ready_pids,
    running_cluster,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(300)]

HEARTBEAT_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningCluster]:
    """One two-worker cluster for the tests that only look at it."""
    env = {"CLUSTER_WORKERS": "2", "REDIS_URL": redis_url}
    with running_cluster(tmp_path_factory.mktemp("cluster"), env) as running:
        yield running


def test_two_workers_answer_on_the_shared_port_and_are_listed(cluster: RunningCluster) -> None:
    status = cluster.status()
    assert status["desired"] == 2
    assert status["state"] == "running"
    assert [w["id"] for w in status["workers"]] == [1, 2]
    for worker in status["workers"]:
        assert set(worker) >= {"id", "pid", "state", "uptime", "restarts", "connections"}
        assert set(worker) >= {"lastHeartbeat"}
        assert is_alive(worker["pid"])
        assert worker["restarts"] == 0
        assert worker["lastHeartbeat"] == pytest.approx(time.time(), abs=5.0)
    answered_by = set()
    for _ in range(40):
        response = httpx.get(f"{cluster.http_url}/health", timeout=10.0)
        assert response.status_code == 200
        answered_by.add(response.json()["worker"])
    assert answered_by <= {w["workerId"] for w in status["workers"]}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 401),
        ({"Authorization": TOKEN}, 401),  # no scheme
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer wrong-token-0123456789"}, 403),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    ],
)
def test_the_management_api_refuses_a_missing_or_wrong_token(
    cluster: RunningCluster, headers: dict[str, str], code: int
) -> None:
    url = cluster.management_url
    for response in (
        httpx.get(f"{url}/cluster/status", headers=headers, timeout=10.0),
        httpx.post(f"{url}/cluster/workers", json={"count": 1}, headers=headers, timeout=10.0),
    ):
        assert response.status_code == code
        assert response.json()["error"]["code"] in {"unauthenticated", "forbidden"}
    assert cluster.status()["desired"] == 2  # the refused POST changed nothing


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", "/cluster/workers", b'{"count": 0}', 400),
        ("POST", "/cluster/workers", b'{"count": 65}', 400),
        ("POST", "/cluster/workers", b'{"count": "2"}', 400),
        ("POST", "/cluster/workers", b'{"count": true}', 400),
        ("POST", "/cluster/workers", b"[2]", 400),
        ("POST", "/cluster/workers", b"not json", 400),
        ("POST", "/cluster/workers", b"x" * 2048, 413),
        ("GET", "/cluster/workers", b"", 405),
        ("GET", "/nowhere", b"", 404),
        ("POST", "/cluster/status", b"{}", 404),
    ],
)
def test_the_management_api_refuses_bad_requests_with_an_error_object(
    cluster: RunningCluster, method: str, path: str, body: bytes, code: int
) -> None:
    response = httpx.request(
        method,
        f"{cluster.management_url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10.0,
    )
    assert response.status_code == code
    assert set(response.json()["error"]) == {"code", "message"}


def test_a_killed_worker_is_replaced_with_a_growing_backoff(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        before = ready_pids(cluster.status())
        started = time.monotonic()
        _kill(before[1])
        status = cluster.wait_for(
            lambda s: is_settled(s, 2) and ready_pids(s)[1] != before[1], "a new worker in slot 1"
        )
        print(f"\nkilled worker replaced (ready) in {time.monotonic() - started:.2f}s")
        first = _slot(status, 1)
        assert (first["restarts"], first["backoff"]) == (1, 0.1)
        assert ready_pids(status)[2] == before[2]
        assert not is_alive(before[1])

        # It dies again before 30 s up: the next restart waits 1.5 times longer.
        _kill(first["pid"])
        status = cluster.wait_for(
            lambda s: is_settled(s, 2) and ready_pids(s)[1] != first["pid"], "another new worker"
        )
        assert (_slot(status, 1)["restarts"], _slot(status, 1)["backoff"]) == (2, 0.15)
        assert _slot(status, 2)["restarts"] == 0
        assert "kind=crash" in cluster.log()


def test_a_hung_worker_is_detected_by_its_silence_and_replaced(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    args = ("--heartbeat-timeout", str(HEARTBEAT_TIMEOUT))
    with running_cluster(tmp_path, shared_env, args=args) as cluster:
        hung = ready_pids(cluster.status())[2]
        started = time.monotonic()
        _signal(hung, signal.SIGSTOP)
        status = cluster.wait_for(
            lambda s: ready_pids(s).get(2) not in {None, hung}, "a replacement for slot 2"
        )
        elapsed = time.monotonic() - started
        print(f"\nSIGSTOPped worker replaced (ready) in {elapsed:.2f}s")
        assert elapsed >= HEARTBEAT_TIMEOUT - 0.5
        assert _slot(status, 2)["restarts"] == 1
        assert "reason=heartbeat-timeout" in cluster.log()
        assert status["recoveries"] == {"replace_hung_worker": 1}
        assert not is_alive(hung)


def test_the_worker_count_follows_ttin_ttou_and_the_api_and_sticks(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        cluster.signal(signal.SIGTTIN)
        cluster.wait_ready(3)
        cluster.signal(signal.SIGTTOU)
        cluster.wait_ready(2)

        response = cluster.set_count(1)
        assert response.status_code == 200
        assert response.json()["desired"] == 1
        (pid,) = ready_pids(cluster.wait_ready(1)).values()

        # The count sticks: a dead worker is replaced by one worker, not by the old count.
        _kill(pid)
        status = cluster.wait_for(
            lambda s: is_settled(s, 1) and ready_pids(s)[1] != pid, "a replacement"
        )
        assert status["desired"] == 1
        cluster.signal(signal.SIGTTOU)  # never below one
        time.sleep(0.5)
        assert cluster.status()["desired"] == 1


def test_sighup_replaces_every_worker_while_health_keeps_answering(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        old = set(ready_pids(cluster.status()).values())
        failures: list[str] = []
        answered = 0
        done = threading.Event()

        def poll_health() -> None:
            nonlocal answered
            while not done.is_set():
                try:
                    code = cluster.health()
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                else:
                    answered += 1
                    if code != 200:
                        failures.append(f"status {code}")

        poller = threading.Thread(target=poll_health)
        poller.start()
        try:
            started = time.monotonic()
            cluster.signal(signal.SIGHUP)
            status = cluster.wait_for(
                lambda s: is_settled(s, 2) and not old & set(ready_pids(s).values()),
                "every worker replaced",
            )
            print(f"\nrolling restart of 2 workers took {time.monotonic() - started:.2f}s")
            time.sleep(0.5)  # keep polling while the last old worker drains away
        finally:
            done.set()
            poller.join()
        assert failures == []
        assert answered > 10
        assert status["state"] == "running"
        assert all(w["restarts"] == 0 for w in status["workers"])  # a roll is not a crash
        assert not any(is_alive(pid) for pid in old)


def test_a_rolling_restart_whose_new_workers_cannot_boot_is_abandoned(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    """gunicorn halts the whole node here; we keep the old workers serving."""
    with running_cluster(tmp_path, shared_env, args=("--crash-limit", "2")) as cluster:
        old = ready_pids(cluster.status())
        # New workers cannot open the database any more; the old ones hold it open already.
        database = tmp_path / "data" / "roulette.db"
        database.rename(database.with_suffix(".moved"))
        database.mkdir()
        cluster.signal(signal.SIGHUP)
        cluster.wait_for(lambda s: s["state"] == "rolling", "the roll to start", timeout=10.0)
        status = cluster.wait_for(lambda s: s["state"] == "running", "the roll to be abandoned")
        cluster.wait_ready(2)
        assert ready_pids(cluster.status()) == old
        assert "rolling_restart_aborted reason=crash-loop" in cluster.log()
        assert cluster.process.poll() is None
        assert status["desired"] == 2


def test_sigterm_drains_every_worker_and_exits_zero(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        pids = set(ready_pids(cluster.status()).values())
        started = time.monotonic()
        cluster.signal(signal.SIGTERM)
        # SHUTDOWN_TIMEOUT_SECONDS=5 in the tests, +5 s margin before SIGKILL, + slack.
        assert cluster.process.wait(30) == 0
        print(f"\ndrain of 2 idle workers took {time.monotonic() - started:.2f}s")
        assert not any(is_alive(pid) for pid in pids)
        assert "drain_started reason=signal" in cluster.log()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{cluster.http_url}/health", timeout=5.0)


def test_sigterm_kills_a_worker_that_does_not_drain_in_time(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    env = shared_env | {"SHUTDOWN_TIMEOUT_SECONDS": "1"}  # killed 1 + 5 s after SIGTERM
    args = ("--heartbeat-timeout", "60")  # the stuck worker must not be replaced first
    with running_cluster(tmp_path, env, args=args) as cluster:
        stuck = ready_pids(cluster.status())[1]
        _signal(stuck, signal.SIGSTOP)
        started = time.monotonic()
        cluster.signal(signal.SIGTERM)
        assert cluster.process.wait(30) == 0
        elapsed = time.monotonic() - started
        assert elapsed >= 5.5
        assert "reason=stop-timeout" in cluster.log()
        assert not is_alive(stuck)


def test_workers_that_cannot_boot_stop_the_cluster_with_a_clear_error(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    """Two failed boots stop it here (the default is five within a minute: see test_policy).

    The workers fail on a malformed secrets file (the supervisor, which only migrates the
    database before forking, does not read it)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jwt-secrets.json").write_text("not json")
    env = dict(shared_env)
    with running_cluster(tmp_path, env, args=("--crash-limit", "2"), ready=None) as cluster:
        started = time.monotonic()
        assert cluster.process.wait(BOOT_WAIT) == 3
        print(f"\ncrash loop detected and stopped in {time.monotonic() - started:.2f}s")
        log = cluster.log()
        assert "workers crash-loop at boot (2 failed boots within 60 s)" in log
        assert log.count("kind=boot-failure") >= 2
        assert "worker_boot_failed" in log  # the workers' own errors are in the same log


def _slot(status: dict[str, Any], slot: int) -> dict[str, Any]:
    """The READY worker of ``slot``."""
    (worker,) = [w for w in status["workers"] if w["id"] == slot and w["state"] == "ready"]
    return dict(worker)


def _kill(pid: int) -> None:
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)


def test_an_unreachable_database_stops_the_cluster_before_any_worker_starts(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    """Migrations run once, in the supervisor, before forking: no worker races on them."""
    env = shared_env | {"DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/x"}
    with running_cluster(tmp_path, env, ready=None) as cluster:
        assert cluster.process.wait(BOOT_WAIT) == 2
        log = cluster.log()
        assert "cannot migrate the database" in log
        assert "worker_started" not in log
