"""A short lab scenario on real processes: ``lab up`` with 2 nodes × 1 worker (a 6-node Redis
Cluster, a database in the machine's PostgreSQL, HAProxy, Prometheus, Alertmanager), a node
killed under load with the invariants checked and nothing durable lost, then ``lab down`` —
after which no process the lab started is alive and its database is gone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from roulette.lab.lifecycle import down, up
from roulette.lab.processes import group_members, is_alive
from roulette.lab.reliability import run_fault
from roulette.lab.state import STATE_FILE, load

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def _databases() -> str:
    done = subprocess.run(
        [
            "psql",
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "-Atc",
            "SELECT datname FROM pg_database",
        ],
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


@pytest.mark.timeout(480)  # ~2 min here; generous for a heavily loaded 2-core machine
def test_up_kill_a_node_under_load_and_down(tmp_path: Path) -> None:
    env = dict(os.environ)
    lab = tmp_path / "lab"
    pids: dict[str, int] = {}
    survivors: list[str] = ["(down never ran)"]
    try:
        state = up(lab, env, nodes=2, workers=1, pg_mode="machine", say=print)
        started = load(lab).all_pids()
        assert {"lb", "node1", "node2", "prometheus", "alertmanager"} <= set(started)
        assert sum(name.startswith("redis-") for name in started) == 6
        assert all(is_alive(pid) for pid in started.values())
        assert state.postgres.database in _databases()
        row = asyncio.run(run_fault(state, env, "kill-node", users=6, load_seconds=25.0, say=print))
        print(row.summary())
        assert row.recovery is not None, "the service never worked again after the node died"
        assert row.healed is not None
        assert row.verdict is not None
        assert row.verdict.ok, row.verdict.violations
        assert row.verdict.sessions > 0 and row.verdict.lines_delivered > 0
        assert row.lost == []
        logins = row.load.get("logins", 0)
        assert isinstance(logins, int) and logins > 0
        pids = {**started, **load(lab).all_pids(), "node1-after-restart": state.nodes[0].pid}
        # Workers, HAProxy under `lb run`: every member of every recorded process group.
        members = {p for pid in pids.values() for p in group_members(pid)}
        assert len(members) > len(set(pids.values()))
        pids |= {f"member-{p}": p for p in members}
    finally:
        if (lab / STATE_FILE).exists():
            survivors = down(lab, env, say=print)
    assert survivors == []
    assert not [name for name, pid in pids.items() if is_alive(pid)]
    assert not (lab / STATE_FILE).exists()
    assert state.postgres.database not in _databases()
