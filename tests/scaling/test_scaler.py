"""The scaler loop with its real parts (sampler on real pids, audit file, hook) and an
in-memory supervisor of our own."""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from roulette.scaling.actuator import HookActuator
from roulette.scaling.audit import AuditLog
from roulette.scaling.autoscaler import Autoscaler
from roulette.scaling.behavior import Bounds
from roulette.scaling.hpa import Target
from roulette.scaling.sampler import NodeSampler, WorkerReport
from roulette.scaling.scaler import Scaler
from roulette.scaling.settings import ScalingPolicy

POLICY = ScalingPolicy(targets=(Target("sockets", 50.0),), rules=())


@dataclass
class Node:
    """The supervisor's side of the protocol, in memory: ``sockets`` per worker."""

    sockets: list[int]
    desired: int = 1
    applied: list[int] = field(default_factory=list)

    def set_desired(self, count: int) -> int:
        self.applied.append(count)
        self.desired = count
        return count

    def worker_reports(self) -> list[WorkerReport]:
        return [
            WorkerReport(os.getpid(), f"w{i}", True, n, {}, None)
            for i, n in enumerate(self.sockets[: self.desired])
        ]


def scaler(tmp_path: Path, hook: HookActuator | None = None, **kw: object) -> Scaler:
    return Scaler(
        Autoscaler(POLICY, Bounds(1, 4), **kw),  # type: ignore[arg-type]
        NodeSampler("n1", socket_cap=100, metrics_dir=None),
        AuditLog(tmp_path / "audit.jsonl"),
        interval=0.0,
        hook=hook,
    )


def test_a_tick_scales_the_workers_and_audits(tmp_path: Path) -> None:
    node = Node(sockets=[150])
    s = scaler(tmp_path)
    s.tick(node)
    assert node.applied == [3]  # 150 % / 50 % → 3
    (line,) = AuditLog(tmp_path / "audit.jsonl").read()
    assert (line["kind"], line["from"], line["to"], line["by"]) == ("scale", 1, 3, "policy")
    status = s.status(node)
    assert status["current"] == 3
    assert status["signals"]["values"]["sockets"] == 150.0


def test_manual_requests_through_handle(tmp_path: Path) -> None:
    node = Node(sockets=[10, 10, 10, 10], desired=2)
    s = scaler(tmp_path)
    code, body = s.handle("manual", {"instances": 4, "reason": "launch"}, "ops (1.2.3.4)", node)
    assert code == 200
    assert node.desired == 4
    assert body["override"]["by"] == "ops (1.2.3.4)"
    s.tick(node)
    assert node.desired == 4  # the policy would go down; the override holds
    assert s.handle("manual", {"instances": 9, "reason": "x"}, "ops", node)[0] == 422
    assert s.handle("manual", {"instances": 2}, "ops", node)[0] == 400
    assert (
        s.handle("manual", {"instances": 2, "reason": "x", "ttlSeconds": "1"}, "o", node)[0] == 400
    )
    code, body = s.handle("clear", {}, "ops", node)
    assert body["cleared"] is True
    kinds = [line["kind"] for line in AuditLog(tmp_path / "audit.jsonl").read()]
    assert kinds == ["manual", "manual-cleared"]


def test_with_a_hook_the_fleet_count_goes_to_the_command(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho $1 >> {log}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    hook = HookActuator(str(script), initial=2, env=dict(os.environ), clock=time.monotonic)
    node = Node(sockets=[90])  # this node stands for each of the 2 nodes: 90 % → 4
    s = scaler(tmp_path, hook)
    s.tick(node)
    assert node.applied == []  # the local workers are left alone
    deadline = time.monotonic() + 20
    while hook.applied != 4 and time.monotonic() < deadline:
        hook.poll()
        time.sleep(0.02)
    assert log.read_text().split() == ["4"]
    assert json.loads(json.dumps(s.status(node)))["actuator"] == "hook"
