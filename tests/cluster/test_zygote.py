"""Workers forked from the zygote (issue 15, item 5): replaced in a fraction of a second, held
by the supervisor as its own children (exit status, boot failures), and never stranded when
the zygote itself dies.

One worker, no Redis: what is tested is the process plumbing, and each worker costs CPU.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cluster.running import (
    BOOT_WAIT,
    RunningCluster,
    is_alive,
    is_settled,
    ready_pids,
    running_cluster,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

needs_linux = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER")

ONE = {"CLUSTER_WORKERS": "1"}


def _started_via(cluster: RunningCluster, pid: int) -> str:
    """How the supervisor started ``pid``: ``zygote`` or ``exec`` (from its log line)."""
    match = re.search(rf"worker_started slot=\d+ pid={pid} id=\S+ via=(\w+)", cluster.log())
    assert match is not None, cluster.log()
    return match[1]


def _replaced(cluster: RunningCluster, slot: int, old: int) -> dict[str, Any]:
    return cluster.wait_for(
        lambda s: is_settled(s, 1) and ready_pids(s)[slot] != old, f"a new worker in slot {slot}"
    )


@needs_linux
def test_a_killed_worker_is_forked_again_and_its_exit_status_is_seen(tmp_path: Path) -> None:
    with running_cluster(tmp_path, ONE, ready=1) as cluster:
        status = cluster.status()
        assert status["zygote"]["ready"] is True
        victim = ready_pids(status)[1]
        assert _started_via(cluster, victim) == "zygote"
        started = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        new = ready_pids(_replaced(cluster, 1, victim))[1]
        print(f"\nforked worker replaced (ready) in {time.monotonic() - started:.2f}s")
        assert _started_via(cluster, new) == "zygote"
        # The supervisor reaped it itself (it is the worker's subreaper): signal 9, a crash.
        assert f"worker_exited slot=1 pid={victim} code=-9 kind=crash" in cluster.log()
        assert not is_alive(victim)
        assert cluster.health() == 200


def test_with_the_switch_off_workers_are_execd(tmp_path: Path) -> None:
    with running_cluster(tmp_path, ONE | {"CLUSTER_FORK_SERVER": "false"}, ready=1) as cluster:
        status = cluster.status()
        assert status["zygote"] is None
        victim = ready_pids(status)[1]
        assert _started_via(cluster, victim) == "exec"
        os.kill(victim, signal.SIGKILL)
        new = ready_pids(_replaced(cluster, 1, victim))[1]
        assert _started_via(cluster, new) == "exec"
        assert "zygote_started" not in cluster.log()


@needs_linux
def test_a_forked_worker_that_cannot_boot_counts_as_a_boot_failure(tmp_path: Path) -> None:
    # The workers fail on a malformed secrets file (the zygote does not read it).
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jwt-secrets.json").write_text("not json")
    args = ("--crash-limit", "2")
    with running_cluster(tmp_path, ONE, args=args, ready=None) as cluster:
        assert cluster.process.wait(BOOT_WAIT) == 3
        log = cluster.log()
        forked = re.findall(r"worker_started slot=1 pid=(\d+) id=\S+ via=zygote", log)
        assert len(forked) >= 2, log
        for pid in forked[:2]:
            assert f"pid={pid} code=3 kind=boot-failure" in log
        assert "workers crash-loop at boot" in log


@needs_linux
def test_a_killed_zygote_is_restarted_and_a_worker_dying_meanwhile_is_replaced(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, ONE, ready=1) as cluster:
        status = cluster.status()
        zygote, victim = status["zygote"]["pid"], ready_pids(status)[1]
        os.kill(zygote, signal.SIGKILL)
        os.kill(victim, signal.SIGKILL)
        # No slot waits for the zygote: the replacement is exec'd if it is still down.
        replacement = ready_pids(_replaced(cluster, 1, victim))[1]
        assert _started_via(cluster, replacement) in {"exec", "zygote"}
        assert f"zygote_exited pid={zygote} code=-9" in cluster.log()
        status = cluster.wait_for(
            lambda s: s["zygote"]["ready"] and s["zygote"]["pid"] != zygote,
            "a new zygote",
            timeout=BOOT_WAIT,
        )
        assert status["zygote"]["restarts"] == 1
        assert not is_alive(zygote)
        # The new zygote forks the next replacement.
        os.kill(replacement, signal.SIGKILL)
        again = ready_pids(_replaced(cluster, 1, replacement))[1]
        assert _started_via(cluster, again) == "zygote"


FORK_TWICE = """
import json, os, random, secrets, sys, time, uuid
from roulette.cluster.forkserver import ForkedChild, become_subreaper
from roulette.cluster.zygote import fork_twice

assert become_subreaper()
me = os.getpid()
random.random()  # the parent's state, which a child must not replay
read_fd, write_fd = os.pipe()
children = []
for _ in range(2):
    pid = fork_twice()
    if pid is None:
        deadline = time.monotonic() + 10
        while os.getppid() != me and time.monotonic() < deadline:
            time.sleep(0.001)  # until the middle process has exited
        draw = [random.random(), uuid.uuid4().hex, secrets.token_hex(16), os.getppid()]
        os.write(write_fd, (json.dumps(draw) + "\\n").encode())
        os._exit(7)
    children.append(ForkedChild(pid))
codes = [child.wait(30) for child in children]
os.close(write_fd)
lines = os.read(read_fd, 65536).decode().splitlines()
draws = [json.loads(line) for line in lines]
print(json.dumps({"codes": codes, "draws": draws, "me": me}))
"""


@needs_linux
def test_forked_workers_are_the_subreapers_children_and_share_no_random_state() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK_TWICE], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(done.stdout)
    assert result["codes"] == [7, 7]  # reaped with waitpid by the subreaper, exit status intact
    first, second = result["draws"]
    assert first[3] == second[3] == result["me"]  # re-parented to the subreaper
    for a, b in zip(first[:3], second[:3], strict=True):
        assert a != b


@needs_linux
def test_a_rolling_restart_replaces_the_zygote_so_new_workers_run_new_code(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, ONE, ready=1) as cluster:
        status = cluster.status()
        zygote, old = status["zygote"]["pid"], ready_pids(status)[1]
        cluster.signal(signal.SIGHUP)
        new = ready_pids(_replaced(cluster, 1, old))[1]
        assert _started_via(cluster, new) == "exec"  # the new zygote was still importing
        status = cluster.wait_for(
            lambda s: s["zygote"]["ready"] and s["zygote"]["pid"] != zygote, "a new zygote"
        )
        assert not is_alive(zygote)
        assert f"zygote_recycled pid={zygote}" in cluster.log()
