"""Defects 1 and 4 of issue 9 on ``roulette cluster``: two workers sharing one Redis, the
users' sockets spread over both by the kernel (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.running import RunningCluster, running_cluster
from gateway.test_socket_defects import REVOKED_TRIES, join_with_revoked_token, queued
from storage.redis_fixtures import running_server as running_redis
from support.users import User, signed_in_users

USERS = 20
RUN_SECONDS = 15.0


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    base: Path = tmp_path_factory.mktemp("two-workers")
    with running_redis(base / "redis") as redis:
        env = {"CLUSTER_WORKERS": "2", "REDIS_URL": redis.url, "AUTH_RATE_BURST": "100000"}
        with running_cluster(base, env) as cluster:
            yield cluster


@pytest.mark.timeout(300)
async def test_a_revoked_token_racing_a_join_never_leaves_a_queue_entry_on_two_workers(
    two_workers: RunningCluster,
) -> None:
    server: Any = two_workers
    (observer,) = await signed_in_users(server, 1)
    try:
        for attempt in range(REVOKED_TRIES):
            received = await join_with_revoked_token(server)
            assert received == [], f"attempt {attempt}: the revoked socket was told {received}"
            assert await queued(observer) == 0, f"attempt {attempt}: a ghost entry is queued"
    finally:
        await observer.close()


async def join_and_skip(user: User, until: float, rng: random.Random) -> list[dict[str, Any]]:
    """Join, and skip every match after a moment, until ``until``; every message received."""
    seen: list[dict[str, Any]] = []
    skipped: set[str] = set()  # sessions we sent `next` for: that `next` joins again
    last_next = 0.0
    await user.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
    while time.monotonic() < until:
        try:
            msg = await user.recv(timeout=0.5)
        except TimeoutError:
            continue
        seen.append(msg)
        if msg["type"] == "match-found":
            await asyncio.sleep(rng.uniform(0, 0.2))
            # `next` at most once per 2 s, as the server reads it: a loaded machine may hold
            # one `next` up to ~0.5 s longer than the one after it, so keep that much margin.
            await asyncio.sleep(max(0.0, last_next + 2.6 - time.monotonic()))
            last_next = time.monotonic()
            skipped.add(msg["sessionId"])
            await user.send({"type": "next"})
        elif msg["type"] == "session-ended" and msg["sessionId"] not in skipped:
            # The peer skipped first: we are back in the lobby, not queued.
            await user.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
    return seen


async def drain(user: User) -> list[dict[str, Any]]:
    """What is still on its way to ``user`` once everyone has stopped sending."""
    late: list[dict[str, Any]] = []
    while True:
        try:
            late.append(await user.recv(timeout=2.0))
        except TimeoutError:
            return late


@pytest.mark.timeout(300)
async def test_users_joining_and_skipping_on_two_workers_see_no_error_and_no_one_sided_session(
    two_workers: RunningCluster,
) -> None:
    """Defect 4: a join overtaken by another user's join must never end in internal_error."""
    server: Any = two_workers
    users = await signed_in_users(server, USERS)
    try:
        await asyncio.gather(*(u.connect() for u in users))
        until = time.monotonic() + RUN_SECONDS
        runs = await asyncio.gather(
            *(join_and_skip(u, until, random.Random(n)) for n, u in enumerate(users))
        )
        lates = await asyncio.gather(*(drain(u) for u in users))
        by_user = {u.address: run + late for u, run, late in zip(users, runs, lates, strict=True)}
        errors = [(who, m) for who, seen in by_user.items() for m in seen if m["type"] == "error"]
        assert errors == []
        found = {
            (who, m["sessionId"]): m["peerId"]
            for who, seen in by_user.items()
            for m in seen
            if m["type"] == "match-found"
        }
        assert len(found) >= USERS, "too few matches to say anything"
        one_sided = [(who, sid) for (who, sid), peer in found.items() if (peer, sid) not in found]
        assert one_sided == []
        for who, seen in by_user.items():
            kinds = [m["type"] for m in seen]
            # Every join is answered with queue-joined, before the match-found that follows it.
            answered = False
            for kind in kinds:
                if kind == "queue-joined":
                    answered = True
                elif kind == "match-found":
                    assert answered, (who, kinds)
                    answered = False
    finally:
        await asyncio.gather(*(u.close() for u in users))
