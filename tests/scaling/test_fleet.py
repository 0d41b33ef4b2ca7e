"""The fleet board on a real redis-server: two nodes publish, one leads and scales the fleet
through its hook from both nodes' samples; the other refuses manual requests; stale samples go."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roulette.config import RedisSettings
from roulette.scaling.actuator import HookActuator
from roulette.scaling.audit import AuditLog
from roulette.scaling.autoscaler import Autoscaler
from roulette.scaling.behavior import Bounds
from roulette.scaling.fleet import FleetBoard
from roulette.scaling.hpa import Target
from roulette.scaling.sampler import NodeSampler, WorkerReport
from roulette.scaling.scaler import Scaler
from roulette.scaling.settings import ScalingPolicy
from roulette.scaling.signals import NodeSignals, WorkerSignals
from roulette.storage.keys import SCALING
from storage.redis_fixtures import RedisServer, free_block, running_cluster, running_server

pytestmark = pytest.mark.redis

POLICY = ScalingPolicy(targets=(Target("sockets", 50.0),), rules=())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_server(tmp_path / "redis") as running:
        yield running


class Node:
    """This node's side of the supervisor protocol, in memory (one worker, ``sockets``)."""

    def __init__(self, sockets: int) -> None:
        self.sockets = sockets
        self.desired = 1

    def set_desired(self, count: int) -> int:
        self.desired = count
        return count

    def worker_reports(self) -> list[WorkerReport]:
        return [WorkerReport(os.getpid(), "w1", True, self.sockets, {}, None)]


def fleet_scaler(tmp_path: Path, url: str, node_id: str, log: Path) -> Scaler:
    script = tmp_path / f"hook-{node_id}.sh"
    script.write_text(f"#!/bin/sh\necho {node_id} $1 >> {log}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    hook = HookActuator(str(script), initial=2, env=dict(os.environ), clock=time.monotonic)
    return Scaler(
        Autoscaler(POLICY, Bounds(1, 10)),
        NodeSampler(node_id, socket_cap=100, metrics_dir=None),
        AuditLog(tmp_path / f"audit-{node_id}.jsonl"),
        interval=1.0,
        hook=hook,
        board=FleetBoard(RedisSettings(url=url), node_id),
    )


def test_one_leader_scales_the_fleet_from_every_nodes_sample(
    tmp_path: Path, server: RedisServer
) -> None:
    log = tmp_path / "hook-calls"
    a = fleet_scaler(tmp_path, server.url, "node-a", log)
    b = fleet_scaler(tmp_path, server.url, "node-b", log)
    try:
        hot, cool = Node(sockets=150), Node(sockets=50)
        a.evaluate(hot)  # a leads, sees only itself; b counts as missing (0 %): → 3
        b.evaluate(cool)  # b publishes; the lease is a's: b decides nothing
        assert a.leading and not b.leading
        a.evaluate(hot)
        assert a.fleet is not None
        assert [n.node_id for n in a.fleet] == ["node-a", "node-b"]
        assert a.status(hot)["fleet"]["values"]["sockets"] == 100.0  # (150 + 50) / 2
        deadline = time.monotonic() + 20
        while a.hook is not None and a.hook.applied != 4 and time.monotonic() < deadline:
            a.hook.poll()
            time.sleep(0.02)
        calls = log.read_text().split("\n")
        assert "node-a 4" in calls  # 2 nodes at 100 % of a 50 % target → 4 nodes
        assert not any(c.startswith("node-b") for c in calls)
        code, body = b.handle("manual", {"instances": 3, "reason": "x"}, "ops", cool)
        assert code == 409
        assert "node-a" in body["error"]["message"]
    finally:
        a.close()
        b.close()


def test_stale_and_malformed_samples_are_dropped(tmp_path: Path, server: RedisServer) -> None:
    board = FleetBoard(RedisSettings(url=server.url), "fresh")
    control = server.client()
    try:
        old = NodeSignals("old", 100.0, (WorkerSignals("w", True, 5, 10),))
        control.hset(SCALING.nodes, "old", json.dumps(old.describe()))
        control.hset(SCALING.nodes, "junk", "{not json")
        mine = NodeSignals("fresh", 1000.0, (WorkerSignals("w", True, 5, 10),))
        nodes = board.exchange(mine, max_age=30.0)
        assert nodes is not None
        assert [n.node_id for n in nodes] == ["fresh"]
        assert control.hkeys(SCALING.nodes) == [b"fresh"]
    finally:
        control.close()
        board.close()


def test_without_redis_an_evaluation_goes_without_the_fleet(
    tmp_path: Path, server: RedisServer
) -> None:
    board = FleetBoard(RedisSettings(url=server.url), "alone")
    server.stop()
    try:
        started = time.monotonic()
        assert board.exchange(NodeSignals("alone", 0.0), max_age=3.0) is None
        assert board.lead(3.0) is False
        assert board.leader() is None
        assert time.monotonic() - started < 5.0  # short timeouts: the supervisor never stalls
    finally:
        board.close()


def test_the_board_works_on_a_redis_cluster(tmp_path: Path) -> None:
    """Both keys share the ``{scaling}`` hash tag: publish, read back and lead on a cluster."""
    with running_cluster(tmp_path / "cluster", free_block()) as cluster:
        settings = RedisSettings(cluster_enabled=True, cluster_nodes=cluster.addresses)
        a, b = FleetBoard(settings, "a"), FleetBoard(settings, "b")
        try:
            now = time.time()
            assert a.exchange(
                NodeSignals("a", now, (WorkerSignals("w", True, 5, 10),)), max_age=30.0
            )
            nodes = b.exchange(
                NodeSignals("b", now, (WorkerSignals("w", True, 7, 10),)), max_age=30.0
            )
            assert nodes is not None and sorted(n.node_id for n in nodes) == ["a", "b"]
            assert a.lead(5.0) is True
            assert b.lead(5.0) is False
            assert b.leader() == "a"
        finally:
            a.close()
            b.close()
