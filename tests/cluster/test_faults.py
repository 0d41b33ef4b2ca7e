"""``roulette cluster`` (two workers) on a 6-node Redis Cluster under faults (issue 9, 4–8).

* A Redis Cluster master dies under 20 users joining and skipping on two workers: nobody gets
  ``internal_error`` (defects 4, 5), no HTTP answer is a 5xx other than 503 and no worker dies
  (defect 5), no session is announced to one user only and nobody is told the end of a
  session it never saw begin (defect 6), and nobody is told a false ``peer-disconnected``.
* A worker is SIGKILLed under 20 cross-worker pairs and both users of every pair resume at
  once: every pair resumes and nothing sent after ``session-resumed`` is lost (defect 7).

**Repetitions are the point.** A race that strikes one run in ten escapes n independent runs
with probability 0.9^n, so seeing it with at least 90 % takes 22 runs (0.9^22 = 0.098; 21 give
0.109). Both faults run :data:`KILL_REPEATS` / :data:`SIGKILL_REPEATS` = 22 times in a row by
default (``FAULT_REPEATS=N`` sets both, e.g. 100 for a soak), made cheap enough for CI by:

* one Redis Cluster and one ``roulette cluster`` for the module: a repetition kills a master
  (then restarts it as a replica) or a worker (then waits for the supervisor's replacement);
* one :class:`~cluster.pairs.Pool` of signed-in users per test, reconnected for each repetition
  (signing 40 users in took 4–9 s of every repetition under load);
* a bytecode cache for the workers (``cluster.running``): a replacement boots without
  compiling every module again;
* condition waits, no fixed sleeps: churn until everyone met ~3 peers, kill, wait for the
  failover (``cluster_state:ok``), churn until everyone met ~2 more, stop, wait until every
  user is in a session its peer agrees on. (Before: 3 + 10 + 10 s of sleeps per repetition.)

Measured 2026-12-06, 22 + 22 repetitions, all passed, load average 17–25 (other engineers'
runs; ``FAULT_REPEATS=22 pytest -s tests/cluster/test_faults.py`` prints each repetition):

* master kill: 9.4–14.3 s per repetition, 232 s for 22 (churning 2–3 s, failed over at 6–7 s
  — the 2 s node timeout plus the election —, serving again and settled at 9–10 s, the
  restart of the killed node and the reconnects < 1 s);
* worker SIGKILL: 7.3–20.8 s per repetition, 246 s for 22, of which the replacement worker's
  boot is 6–17 s at that load (1.6 s at load 6, docs/performance.md "Worker start"), the 20
  pairs 0.3–1 s (6.9 s once, when the pool signed in more users), the kill and the 40
  resumes and chats 0.4–1.1 s.

A second run the same day (load 15-22): 22 SIGKILLs passed again (206 s, 4.8-16.3 s each), and
the 12th master kill **failed on a real race** (1 in 34 master kills so far): a worker reaped
two live sessions (``reaped_sessions count=2``, a false ``peer-disconnected``). Its reading of
the log: the other worker's Redis Cluster client failed its beats for ~3 s after the kill
(``membership_failed`` at +1.5 s and +4.2 s; a failing call takes up to ~3 s), so its
heartbeat key (TTL 3 s) expired while the reaper's own beats kept succeeding, and only a
worker whose *own* beats failed holds its reaping (``runtime/membership.py``). Not fixed yet.

CI cost: 478 s of calls against 103 s before (2 master kills of ~25 s, 3 SIGKILLs of 7–27 s,
measured the same day under load 9), so +375 s at that load; on a quieter machine the SIGKILL
repetitions shrink to ~4 s (boot ~1.6 s), so about +230 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from cluster.churn import ALLOWED_ERRORS, Churner, one_sided
from cluster.pairs import Pair, Pool, chat_both_ways, disconnect, next_of, resume
from cluster.running import RunningCluster, running_cluster
from cluster.test_contract_on_cluster import pid_of
from roulette.storage.keys import LOBBY
from roulette.storage.sql import current_revision, head_revision
from storage.redis_fixtures import RedisCluster, free_block
from storage.redis_fixtures import running_cluster as running_redis_cluster
from support.eventually import eventually

pytestmark = [pytest.mark.redis, pytest.mark.slow]

KILL_REPEATS = int(os.environ.get("FAULT_REPEATS", "22"))
SIGKILL_REPEATS = int(os.environ.get("FAULT_REPEATS", "22"))
USERS = 20
WAIT = 60.0
"""Seconds any one step may take on a loaded machine before the repetition fails."""


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with running_redis_cluster(tmp_path_factory.mktemp("faults-redis"), free_block(7200)) as c:
        yield c


@pytest.fixture(scope="module")
def node(
    redis_cluster: RedisCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCluster]:
    nodes = ",".join(f"{host}:{port}" for host, port in redis_cluster.addresses)
    env = {
        "REDIS_CLUSTER_ENABLED": "true",
        "REDIS_CLUSTER_NODES": nodes,
        "CLUSTER_WORKERS": "2",
        "RECONNECT_GRACE_SECONDS": "30",
        "AUTH_RATE_BURST": "100000",
        "SKIPS_PER_MINUTE": "0",  # the same users skip in every repetition
    }
    with running_cluster(tmp_path_factory.mktemp("faults-node"), env) as running:
        yield running


def lobby_master_port(cluster: RedisCluster) -> int:
    """The port of the master that owns the lobby's slot now."""
    for node in cluster.nodes:
        if node.process is None:
            continue
        with (
            contextlib.suppress(redis.RedisError),
            contextlib.closing(redis.RedisCluster(host="127.0.0.1", port=node.port)) as client,
        ):
            return int(client.get_node_from_key(LOBBY.waiting).port)  # type: ignore[no-untyped-call]
    raise AssertionError("no Redis node answers")


async def poll_http(node: RunningCluster, done: asyncio.Event, statuses: list[int]) -> None:
    """Ask for a sign-in nonce every 100 ms: 200, or 503 while the store fails over."""
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10.0) as http:
        while not done.is_set():
            with contextlib.suppress(httpx.TransportError):
                statuses.append((await http.get("/auth/siwe/nonce")).status_code)
            await asyncio.sleep(0.1)


@pytest.mark.timeout(120 + 90 * KILL_REPEATS)
async def test_a_master_kill_under_join_and_skip_breaks_no_contract(
    node: RunningCluster, redis_cluster: RedisCluster
) -> None:
    """:data:`KILL_REPEATS` master kills in a row on the same processes, each once the killed
    node is back as a replica; the same signed-in users churn in every repetition."""
    pool = Pool(node)
    pids = sorted(node.wait_ready(2)["workers"], key=lambda w: w["id"])
    try:
        for run in range(KILL_REPEATS):
            started = time.monotonic()
            await asyncio.to_thread(restore, redis_cluster)
            left, right = await pool.spread(USERS // 2)
            churners = [
                Churner(u, random.Random(run * USERS + i)) for i, u in enumerate(left + right)
            ]
            report = await churn_through_a_master_kill(node, redis_cluster, churners)
            print(f"run {run}: {time.monotonic() - started:.2f}s {report}")
            try:
                assert_no_contract_broken(churners, report)
            except AssertionError as exc:
                exc.add_note(f"run {run} of {KILL_REPEATS}\n{node.log()[-5000:]}")
                raise
            await end_sessions(churners)
        now = sorted(node.status()["workers"], key=lambda w: w["id"])
        assert [w["pid"] for w in now] == [w["pid"] for w in pids], "a worker died"
    finally:
        await pool.close()
        await asyncio.to_thread(restore, redis_cluster)


async def churn_through_a_master_kill(
    node: RunningCluster, redis_cluster: RedisCluster, churners: list[Churner]
) -> dict[str, object]:
    """Churn; kill the lobby's master; churn on until the failover is over and the lobby
    serves again; stop and wait until everyone settled. Each step waits for its condition."""
    done, statuses = asyncio.Event(), list[int]()
    phases: dict[str, float] = {}
    started = time.monotonic()

    async def matches_reach(count: int) -> None:
        assert sum(c.matches for c in churners) >= count

    try:
        async with asyncio.TaskGroup() as tasks:
            for churner in churners:
                tasks.create_task(churner.run(done))
            tasks.create_task(poll_http(node, done, statuses))
            # The churn got going: everyone met about three peers (skips are 2.1 s apart).
            await eventually(lambda: matches_reach(3 * USERS), timeout=WAIT)
            phases["churning"] = time.monotonic() - started
            killed = redis_cluster.node(lobby_master_port(redis_cluster))
            await asyncio.to_thread(killed.stop, signal.SIGKILL)
            await asyncio.to_thread(redis_cluster.wait_healthy, WAIT)  # a replica took over
            phases["failed over"] = time.monotonic() - started
            after = sum(c.matches for c in churners)
            await eventually(lambda: matches_reach(after + 2 * USERS), timeout=WAIT)
            phases["serving"] = time.monotonic() - started
            for churner in churners:
                churner.churning = False
            await eventually(lambda: settled(churners), timeout=WAIT)
            phases["settled"] = time.monotonic() - started
            done.set()
    finally:
        done.set()
    return {
        "phases": {name: round(at, 2) for name, at in phases.items()},
        "matches": sum(c.matches for c in churners),
        "errors": sorted({str(e.get("code")) for c in churners for e in c.errors()}),
        "http": {s: statuses.count(s) for s in set(statuses)},
    }


async def settled(churners: list[Churner]) -> None:
    """Everyone is in a session its peer agrees on (20 users on one chain all pair up)."""
    assert all(c.current is not None for c in churners), [
        c.address for c in churners if not c.current
    ]
    assert not one_sided(churners), one_sided(churners)


def assert_no_contract_broken(churners: list[Churner], report: dict[str, object]) -> None:
    bad = [(c.address, e) for c in churners for e in c.errors() if e["code"] not in ALLOWED_ERRORS]
    assert not bad, f"unexpected errors: {bad}"
    statuses: dict[int, int] = report["http"]  # type: ignore[assignment]
    assert all(s in (200, 503) for s in statuses), statuses
    assert not [(c.address, c.ends_of_unseen) for c in churners if c.ends_of_unseen]
    # Every socket stayed up: a peer-disconnected would be a false reap (defect 8).
    false_reaps = [m for c in churners for m in c.messages if m["type"] == "peer-disconnected"]
    assert not false_reaps, false_reaps


async def end_sessions(churners: list[Churner]) -> None:
    """End every (settled) session and close the sockets, so the users are free to reuse."""
    by_address = {c.address: c for c in churners}
    # After everyone looked settled, the audit may still end a session the failover lost
    # (Redis can drop acknowledged writes on failover): both users are told session-ended,
    # which their churners may already have applied. End only the pairs that still agree.
    enders = [
        c
        for c in churners
        if c.peer is not None and c.address < c.peer and by_address[c.peer].current == c.current
    ]
    if late := [(c.address, c.messages[-2:]) for c in churners if c.current is None]:
        print(f"ended after settling: {late}")
    for churner in enders:
        await churner.user.send({"type": "end-session", "sessionId": churner.current})
    for churner in enders:
        for user in (churner.user, by_address[str(churner.peer)].user):
            ended = await next_of(user, "session-ended", timeout=10)
            assert ended["sessionId"] == churner.current, (user.address, ended)
    await disconnect([c.user for c in churners])


def restore(cluster: RedisCluster) -> None:
    """Bring killed nodes back (each rejoins as a replica) and wait for a healthy cluster."""
    for node in cluster.nodes:
        if node.process is None:
            node.start()
    cluster.wait_healthy(60)


@pytest.mark.timeout(120 + 60 * SIGKILL_REPEATS)
async def test_a_worker_sigkill_with_both_users_resuming_at_once_loses_nothing(
    node: RunningCluster, redis_cluster: RedisCluster
) -> None:
    """:data:`SIGKILL_REPEATS` kills in a row on the same processes: each waits for the
    supervisor's replacement worker, so every repetition starts with pairs across two workers."""
    pool = Pool(node)
    try:
        for run in range(SIGKILL_REPEATS):
            started = time.monotonic()
            await asyncio.to_thread(redis_cluster.wait_healthy, 60)
            await asyncio.to_thread(node.wait_ready, 2)
            ready = time.monotonic()
            pairs = await pool.pairs(USERS)
            paired = time.monotonic()
            await kill_and_resume(node, pairs, run)
            resumed = time.monotonic()
            await pool.end(pairs)
            print(
                f"run {run}: {time.monotonic() - started:.2f}s (replacement ready "
                f"{ready - started:.2f}s, {USERS} pairs {paired - ready:.2f}s, kill and resume "
                f"{resumed - paired:.2f}s)"
            )
    finally:
        await pool.close()


async def kill_and_resume(node: RunningCluster, pairs: list[Pair], run: int) -> None:
    os.kill(pid_of(node, pairs[0][0].worker), signal.SIGKILL)  # every "a" lives there
    # Every "b" drops too, so both users of each pair come back at the same time.
    await asyncio.gather(*(b.ws.close() for _, b, _, _ in pairs if b.ws is not None))
    try:
        async with asyncio.TaskGroup() as tasks:  # the first failure cancels the others
            for a, b, found_a, found_b in pairs:
                tasks.create_task(resume(a, found_a))
                tasks.create_task(resume(b, found_b))
        async with asyncio.TaskGroup() as tasks:
            for pair in pairs:
                tasks.create_task(chat_both_ways(pair, 5))
    except BaseException as exc:
        exc.add_note(f"run {run} of {SIGKILL_REPEATS} failed\n{node.log()[-5000:]}")
        raise


async def test_the_cluster_migrated_once_before_its_workers_booted(node: RunningCluster) -> None:
    """Defect 8's "database is locked": the supervisor migrates, the workers only check."""
    url = f"sqlite+aiosqlite:///{node.log_path.parent / 'data' / 'roulette.db'}"
    assert await current_revision(url) == head_revision()
    assert "database is locked" not in node.log()
    assert "worker_boot_failed" not in node.log()
