"""Real HAProxy driven by ``roulette lb run`` in front of three real nodes on one Redis.

Every balancer of the module listens on the same port (the nodes' SIWE domain names it), one
at a time. Distribution counts and the failover time are printed as ``LB-RESULT`` lines.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from balancing.conftest import NodeEnv, StartBalancer
from balancing.lb_fixtures import CHECK_MS, Balancer, ask, worker_of
from cluster.running import running_cluster
from roulette.storage.keys import LB_NODES
from storage.redis_fixtures import RedisServer
from support.server import RunningServer, running_server
from support.users import User

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(180)]

CONNECTIONS = 300
Counts = collections.Counter[str]


def _spread(balancer: Balancer, count: int = CONNECTIONS, source: str = "127.0.0.1") -> Counts:
    """Which node took each of ``count`` new TCP connections from ``source``."""
    counts: Counts = collections.Counter()
    for _ in range(count):
        status, node = ask(balancer.port, source)
        assert status == 200, node
        counts[node] += 1
    return counts


def _mapping(balancer: Balancer, sources: int, per_source: int = 3) -> dict[str, str]:
    """Source address -> the one node all its connections reached."""
    mapping = {}
    for index in range(1, sources + 1):
        source = f"127.0.0.{index}"
        nodes = _spread(balancer, per_source, source)
        assert len(nodes) == 1, f"{source} was spread over {nodes}"
        mapping[source] = next(iter(nodes))
    return mapping


def _record(name: str, value: object) -> None:
    print(f"\nLB-RESULT {name} {json.dumps(value, sort_keys=True)}")


def _master_pid(balancer: Balancer) -> int:
    return int((balancer.run_dir / "haproxy.pid").read_text().split()[0])


def _worker_pid(balancer: Balancer) -> int:
    info = balancer.command("show info")
    return int(next(line for line in info.splitlines() if line.startswith("Pid:")).split()[1])


def test_round_robin_and_least_connections_spread_evenly(
    start_balancer: StartBalancer, fleet: dict[str, RunningServer]
) -> None:
    for algorithm, tolerance in (("round-robin", 1), ("least-connections", 15)):
        balancer = start_balancer(LB_ALGORITHM=algorithm)
        counts = _spread(balancer)
        _record(algorithm, counts)
        assert set(counts) == set(fleet)
        # HAProxy: roundrobin takes servers in turn; leastconn with nothing held open ties
        # every server at zero and breaks the tie in turn, so both spread evenly.
        assert all(abs(n - CONNECTIONS / 3) <= tolerance for n in counts.values()), counts
        master = _master_pid(balancer)
        balancer.process.send_signal(signal.SIGTERM)
        assert balancer.process.wait(15) == 0
        deadline = time.monotonic() + 10  # `lb run` takes its HAProxy down with it
        while Path(f"/proc/{master}").exists():
            assert time.monotonic() < deadline, f"HAProxy master {master} outlived lb run"
            time.sleep(0.05)


def test_weighted_follows_capacity(
    start_balancer: StartBalancer, fleet: dict[str, RunningServer]
) -> None:
    balancer = start_balancer(LB_ALGORITHM="weighted")
    counts = _spread(balancer, 360)
    _record("weighted", counts)
    # Capacities 1000/2000/3000 sockets: static weights 1/2/3, agents report 100% free.
    by_capacity = sorted(counts.values())
    assert by_capacity == pytest.approx([60, 120, 180], abs=8), counts


def test_ip_hash_keeps_each_source_on_one_node(
    start_balancer: StartBalancer, fleet: dict[str, RunningServer]
) -> None:
    balancer = start_balancer(LB_ALGORITHM="ip-hash")
    mapping = _mapping(balancer, sources=30, per_source=10)  # 300 connections
    spread = collections.Counter(mapping.values())
    _record("ip-hash", spread)
    assert set(spread) == set(fleet)


def test_consistent_hash_runtime_add_reload_and_failover(
    start_balancer: StartBalancer,
    fleet: dict[str, RunningServer],
    make_node_env: NodeEnv,
    tmp_path: Path,
) -> None:
    balancer = start_balancer(LB_ALGORITHM="consistent-hash")
    sources = 60
    before = _mapping(balancer, sources, per_source=5)  # 300 connections
    _record("consistent-hash", collections.Counter(before.values()))
    worker_before = _worker_pid(balancer)

    env = make_node_env(MAX_CONNECTIONS="1000")
    with running_server(tmp_path / "node4", env, startup_timeout=90) as extra:
        name = f"n-{worker_of(extra)}"
        balancer.wait_servers({**dict.fromkeys(fleet, "UP"), name: "UP"})
        # Added through the runtime API: the same HAProxy worker, no reload.
        assert _worker_pid(balancer) == worker_before
        grown = _mapping(balancer, sources)
        moved = {s for s in before if grown[s] != before[s]}
        _record("consistent-hash-add", {"moved": len(moved), "of": sources})
        # Only sources that now hash to the new node move: about 1/4 of them.
        assert all(grown[s] == name for s in moved)
        assert 0 < len(moved) <= sources // 2

        # A reload keeps the runtime-added server (the file was rewritten with it).
        os.kill(_master_pid(balancer), signal.SIGUSR2)
        deadline = time.monotonic() + 20
        while _worker_pid_or_none(balancer) in {None, worker_before}:
            assert time.monotonic() < deadline, balancer.log()
            time.sleep(0.1)
        balancer.wait_servers({**dict.fromkeys(fleet, "UP"), name: "UP"})
        assert _mapping(balancer, sources) == grown

        # Kill the new node outright: down within the check window, its sources go home.
        extra.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        while not balancer.servers("http").get(name, "gone").startswith(("DOWN", "gone")):
            assert time.monotonic() - killed_at < 10, balancer.servers("http")
            time.sleep(0.02)
        failover = time.monotonic() - killed_at
        _record("failover-seconds", round(failover, 2))
        # fall (2) checks at CHECK_MS apart, plus a check timeout and some scheduling slack.
        assert failover < 2 * CHECK_MS / 1000 + 1.5
        assert _mapping(balancer, sources) == before


def _worker_pid_or_none(balancer: Balancer) -> int | None:
    try:
        return _worker_pid(balancer)
    except (OSError, StopIteration, ValueError):
        return None


def test_per_ip_limits_answer_429(start_balancer: StartBalancer) -> None:
    balancer = start_balancer(LB_HTTP_RATE_PER_IP="20", LB_RATE_WINDOW_SECONDS="10")
    statuses = collections.Counter(ask(balancer.port, "127.0.0.9")[0] for _ in range(30))
    _record("per-ip-limit", statuses)
    assert statuses[200] == 20
    assert statuses[429] == 10
    # Another client address has its own budget.
    assert ask(balancer.port, "127.0.0.10")[0] == 200
    # The stats page and the Prometheus exporter sit behind the stats password.
    stats = f"http://127.0.0.1:{balancer.stats_port}"
    assert httpx.get(f"{stats}/stats", timeout=5).status_code == 401
    assert httpx.get(f"{stats}/metrics", timeout=5).status_code == 401
    auth = ("admin", "stats-password-0123")
    assert httpx.get(f"{stats}/stats", auth=auth, timeout=5).status_code == 200
    exported = httpx.get(f"{stats}/metrics", auth=auth, timeout=5)
    assert "haproxy_backend_active_servers" in exported.text


async def _user(balancer: Balancer) -> User:
    user = User(balancer.url, balancer.ws_url, f"127.0.0.1:{balancer.port}")
    await user.sign_in()
    return user


async def _on_node(user: User, wanted: set[str], attempts: int = 12) -> str:
    """Connect until the socket lands on one of ``wanted`` (the balancer picks in turn)."""
    for _ in range(attempts):
        await user.connect()
        if f"n-{user.worker}" in wanted:
            return f"n-{user.worker}"
        assert user.ws is not None
        await user.ws.close()
    raise AssertionError(f"never reached {wanted}")


async def test_pair_across_nodes_relays_drains_and_resumes_after_a_node_dies(
    start_balancer: StartBalancer,
    fleet: dict[str, RunningServer],
    make_node_env: NodeEnv,
    tmp_path: Path,
) -> None:
    balancer = start_balancer(LB_ALGORITHM="round-robin")
    env = make_node_env(MAX_CONNECTIONS="1000", RECONNECT_GRACE_SECONDS="20", LB_DRAIN_SECONDS="30")
    with running_server(tmp_path / "node4", env, startup_timeout=90) as extra:
        doomed = f"n-{worker_of(extra)}"
        up = {**dict.fromkeys(fleet, "UP"), doomed: "UP"}
        await asyncio.to_thread(balancer.wait_servers, up)
        a, b = await _user(balancer), await _user(balancer)
        try:
            await _on_node(a, {doomed})
            b_node = await _on_node(b, set(fleet))
            await a.join()
            await b.join()
            found = await a.expect("match-found")
            session = found["sessionId"]
            await b.expect("match-found")
            for index in range(20):
                await a.send({"type": "chat", "sessionId": session, "text": f"m{index}"})
            assert [(await b.expect("chat"))["text"] for _ in range(20)] == [
                f"m{i}" for i in range(20)
            ]

            # Drain a's node (SIGTERM): no new connections reach it, a's socket keeps working.
            extra.process.send_signal(signal.SIGTERM)
            draining = {**dict.fromkeys(fleet, "UP"), doomed: "DRAIN"}
            await asyncio.to_thread(balancer.wait_servers, draining, 10.0)
            counts = await asyncio.to_thread(_spread, balancer, 30)
            assert doomed not in counts, counts
            await a.send({"type": "chat", "sessionId": session, "text": "while draining"})
            assert (await b.expect("chat"))["text"] == "while draining"

            # Then the node dies: HAProxy marks it down, a reconnects to another node, resumes.
            extra.process.send_signal(signal.SIGKILL)
            down = {**dict.fromkeys(fleet, "UP"), doomed: "DOWN"}
            await asyncio.to_thread(balancer.wait_servers, down, 15.0)
            await a.connect()
            assert f"n-{a.worker}" in fleet
            await a.send(
                {"type": "reconnect", "sessionId": session, "resumeToken": found["resumeToken"]}
            )
            assert (await a.expect("session-resumed", timeout=10))["peerId"] == b.address
            await b.expect("session-resumed", timeout=10)
            await b.send({"type": "chat", "sessionId": session, "text": "still here"})
            assert (await a.expect("chat", timeout=10))["text"] == "still here"
            _record("resume", {"from": doomed, "to": f"n-{a.worker}", "peer": b_node})
        finally:
            for user in (a, b):
                await user.close()


async def test_sticky_sessions_pin_http_and_the_websocket_upgrade(
    start_balancer: StartBalancer, fleet: dict[str, RunningServer]
) -> None:
    balancer = start_balancer(LB_ALGORITHM="round-robin", LB_STICKY_SESSION_ENABLED="true")
    user = await _user(balancer)  # its client keeps the RLB_HTTP cookie from the first answer
    try:
        closing = {"Connection": "close"}  # a new TCP connection per request
        seen = {(await user.http.get("/health/ready", headers=closing)).json()["node"]}
        for _ in range(9):
            seen.add((await user.http.get("/health/ready", headers=closing)).json()["node"])
        assert len(seen) == 1, seen
        # Without the cookie the same requests spread.
        assert len(await asyncio.to_thread(_spread, balancer, 6)) == 3
        await user.connect()
        assert user.ws is not None and user.ws.response is not None
        cookie = user.ws.response.headers["Set-Cookie"].split(";", 1)[0]
        assert cookie.startswith("RLB_WS=")
        first = user.worker
        for _ in range(4):
            await user.ws.close()
            headers = {**user.bearer, "Cookie": cookie}
            user.ws = await ws_connect(balancer.ws_url, additional_headers=headers)
            await user.expect("connected")
            assert user.worker == first
    finally:
        await user.close()


def test_a_cluster_is_one_server_announced_by_its_supervisor(
    start_balancer: StartBalancer,
    fleet: dict[str, RunningServer],
    make_node_env: NodeEnv,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    balancer = start_balancer(LB_ALGORITHM="round-robin")
    env = make_node_env(MAX_CONNECTIONS="1000", CLUSTER_WORKERS="2")
    (tmp_path / "cluster").mkdir()
    with running_cluster(tmp_path / "cluster", env) as cluster:
        deadline = time.monotonic() + 30
        while not (added := [n for n in balancer.servers() if n.startswith("n-c-")]):
            assert time.monotonic() < deadline, cluster.log()
            time.sleep(0.1)
        (name,) = added
        balancer.wait_servers({**dict.fromkeys(fleet, "UP"), name: "UP"})
        with redis_server.client() as control:
            records = [json.loads(raw) for raw in control.hgetall(LB_NODES).values()]
        (record,) = [r for r in records if f"n-{r['node_id']}" == name]
        assert record["capacity"] == 2000  # MAX_CONNECTIONS x 2 workers
        assert record["http_port"] == cluster.port
        counts = _spread(balancer, 40)
        from_cluster = sum(n for node, n in counts.items() if node not in fleet)
        assert from_cluster == 10, counts  # one server of four, in turn
    # Its supervisor withdraws the record on the way out: the server is deleted.
    balancer.wait_servers(dict.fromkeys(fleet, "UP"))


# Last of the module: it restarts the module's Redis empty.
async def test_a_redis_restart_that_lost_the_registry_cuts_no_socket(
    start_balancer: StartBalancer, fleet: dict[str, RunningServer], redis_server: RedisServer
) -> None:
    """Redis goes down and comes back empty (a restart without persistence, or a failover to
    a replica that had not caught up): every node's record is gone. The balancer must not take
    that for the nodes' death (removing a server cuts its sockets: in the lab, a Redis master
    failover dropped a healthy node's 15 users that way); the nodes announce again within a
    record's TTL (3 s here)."""
    balancer = start_balancer(LB_ALGORITHM="round-robin", LB_NODE_TTL_SECONDS="3")
    users = [await _user(balancer) for _ in fleet]
    try:
        for user, node in zip(users, fleet, strict=True):
            await _on_node(user, {node})
        redis_server.stop(signal.SIGKILL)
        await asyncio.sleep(1.5)  # the balancer's reads fail (it syncs every 0.2 s)
        redis_server.start()
        await asyncio.sleep(5.0)  # past the hold: every node has announced again
        await asyncio.to_thread(balancer.wait_servers, dict.fromkeys(fleet, "UP"), 10.0)
        for user in users:
            await user.send({"type": "heartbeat"})
            await user.expect("heartbeat-ack")
        assert "removed=['" not in balancer.log(), balancer.log()
    finally:
        for user in users:
            await user.close()
