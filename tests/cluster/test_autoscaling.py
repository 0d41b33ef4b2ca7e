"""The autoscaler on a real ``roulette cluster``: real sockets past the target grow the worker
count; a manual override holds against the policy until its TTL ends or it is cleared; bounds
give 422; every change is in the audit file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.running import TOKEN, RunningCluster, running_cluster
from support.users import User, signed_in_users

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(150)]

POLICY = {
    # 5 sockets per worker (25 % of MAX_CONNECTIONS=20) is the target.
    "targets": [{"metric": "sockets", "averageValue": 25}],
    "rules": [],
    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 2}},
}
USERS = 12  # 12 sockets on one worker: 60 % of the cap, 2.4 × the target → 3 workers


@pytest.fixture
def node(tmp_path: Path, redis_url: str) -> Iterator[RunningCluster]:
    rules = tmp_path / "scaling.json"
    rules.write_text(json.dumps(POLICY))
    env = {
        "REDIS_URL": redis_url,
        "CLUSTER_WORKERS": "1",
        "AUTO_SCALING_ENABLED": "true",
        "MIN_INSTANCES": "1",
        "MAX_INSTANCES": "3",
        "MAX_CONNECTIONS": "20",
        "SCALING_INTERVAL_SECONDS": "0.5",
        "SCALING_RULES_FILE": str(rules),
        "AUTH_RATE_BURST": "100000",
    }
    with running_cluster(tmp_path, env, ready=1) as running:
        yield running


def scaling(node: RunningCluster, method: str = "GET", path: str = "status", **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.request(
        method, f"{node.management_url}/scaling/{path}", headers=headers, timeout=10.0, **kw
    )


def unauthenticated(node: RunningCluster) -> int:
    return httpx.get(f"{node.management_url}/scaling/status", timeout=10.0).status_code


async def connect_all(users: list[User]) -> None:
    await asyncio.gather(*(u.connect() for u in users))


async def new_worker_serves(node: RunningCluster, old: set[str], deadline: float) -> str:
    """Open fresh sockets until one lands on a worker not in ``old``; returns its id."""
    while time.monotonic() < deadline:
        (probe,) = await signed_in_users(node, 1)
        try:
            await probe.connect()
            if probe.worker not in old:
                return probe.worker
        finally:
            await probe.close()
    raise AssertionError("no new worker took a connection")


async def test_sockets_past_the_target_grow_the_workers_and_manual_holds(
    node: RunningCluster, tmp_path: Path
) -> None:
    status = scaling(node).json()
    assert status["enabled"] is True
    assert status["current"] == 1
    assert status["bounds"] == {"min": 1, "max": 3}

    users = await signed_in_users(node, USERS)
    try:
        await connect_all(users)
        old_workers = {u.worker for u in users}
        overloaded_at = time.monotonic()
        node.wait_for(lambda s: s["desired"] == 3, "scale-up to 3", timeout=30)
        decided_at = time.monotonic()
        node.wait_ready(3, timeout=60)
        ready_at = time.monotonic()
        await new_worker_serves(node, old_workers, time.monotonic() + 30)
        serving_at = time.monotonic()
        print(
            f"overload→decision {decided_at - overloaded_at:.2f}s, "
            f"→ready {ready_at - overloaded_at:.2f}s, →serving {serving_at - overloaded_at:.2f}s"
        )
        status = scaling(node).json()
        event = status["events"][0]
        assert (event["kind"], event["from"], event["to"]) == ("scale", 1, 3)
        assert "sockets" in event["reason"]
        assert status["last"]["targets"][0]["metric"] == "sockets"
        values = status["signals"]["values"]
        assert {"sockets", "cpu", "rss", "loopLag", "memory"} <= set(values)
        assert status["fleet"]["nodes"] == [status["fleet"]["nodeId"]]  # published to Redis

        # Manual override: hold 1 worker for 8 s against a policy that wants 3.
        held = scaling(
            node, "POST", "manual", json={"instances": 1, "reason": "drill", "ttlSeconds": 8}
        )
        assert held.status_code == 200, held.text
        assert held.json()["override"]["instances"] == 1
        set_at = time.monotonic()
        while time.monotonic() < set_at + 4.0:  # eight evaluations, all overruled
            assert node.status()["desired"] == 1
            await asyncio.sleep(0.25)
        status = scaling(node).json()
        assert status["desired"] == 1
        assert "manual override" in status["last"]["reason"]
        assert status["heldProposals"][0]["to"] == 3  # the policy's wish, recorded, not applied
        node.wait_for(lambda s: s["desired"] == 3, "TTL expiry and scale-up", timeout=30)
        assert scaling(node).json()["override"] is None

        # Without a TTL the override holds until DELETE.
        response = scaling(node, "POST", "manual", json={"instances": 2, "reason": "pin"})
        assert response.status_code == 200
        await asyncio.sleep(2.0)  # four evaluations that would have wanted more
        assert node.status()["desired"] == 2
        cleared = scaling(node, "DELETE", "manual")
        assert cleared.json()["cleared"] is True
        assert cleared.json()["override"] is None

        # Bounds and bad bodies.
        out = scaling(node, "POST", "manual", json={"instances": 4, "reason": "too many"})
        assert out.status_code == 422
        assert out.json()["error"]["code"] == "out_of_bounds"
        bad = scaling(node, "POST", "manual", json={"instances": "2"})
        assert bad.status_code == 400
        assert unauthenticated(node) == 401
    finally:
        await asyncio.gather(*(u.close() for u in users))

    # Once the sockets are gone, the scale-down follows after its window.
    node.wait_for(lambda s: s["desired"] == 1, "scale-down to 1", timeout=30)
    lines = (tmp_path / "data" / "scaling-audit.jsonl").read_text().splitlines()
    audit = [json.loads(line) for line in lines]
    kinds = [a["kind"] for a in audit]
    assert kinds[:2] == ["scale", "manual"]
    assert "manual-expired" in kinds
    assert "manual-cleared" in kinds
    manual = audit[1]
    assert manual["by"] == "management-api (127.0.0.1)"
    assert (manual["from"], manual["to"]) == (3, 1)
    assert manual["reason"] == "drill (for 8 s)"
