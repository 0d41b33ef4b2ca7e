"""Cross-worker relay vs same-worker relay, through two ``roulette serve`` workers on one Redis.

Two workers share a redis-server (and SQL and JWT secrets), as two workers of a cluster or two
machines do. Same-worker: both sockets of every pair on worker A (the local fast path).
Cross-worker: one socket of every pair on A, the other on B, so every message goes
A → Redis (SPUBLISH to B's inbox, batched per event-loop turn) → B. The client and streaming
phase are bench_relay's. Reports relayed messages/s and per second of server CPU (both workers
and redis-server together). Prints one JSON object.

Usage: ``python benchmarks/bench_cross_worker.py [--pairs 50] [--seconds 10] [--profile P]``
(``--profile``: py-spy collapsed stacks of each worker during the cross-worker window, to
``P-one.txt`` and ``P-two.txt``, and their top functions in the report).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import cpu_seconds, machine, roulette_server
from _profile import Profiler
from bench_relay import Client, _payload, stream
from picows import WSMsgType, WSTransport, ws_connect
from redis import client as redis_sync

from storage.redis_fixtures import RedisServer
from support.server import RunningServer, free_port
from support.users import signed_in_users

JOIN = b'{"type":"join-queue","chainId":1}'
SECRETS = {
    "JWT_ACCESS_SECRET": "bench-cross-worker-access-0123456789",
    "JWT_REFRESH_SECRET": "bench-cross-worker-refresh-0123456789",
}


@contextlib.contextmanager
def two_workers(tmp: Path) -> Iterator[tuple[RunningServer, RunningServer, RedisServer]]:
    redis = RedisServer(port=free_port(), directory=tmp / "redis")
    redis.start()
    env = {
        **SECRETS,
        "REDIS_URL": redis.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'shared.db'}",
        "WS_RATE_BURST": "1000000",
        "WS_RATE_PER_SECOND": "1000000",
    }
    try:
        with roulette_server(env) as one, roulette_server(env) as two:
            yield one, two, redis
    finally:
        redis.stop()


async def pairs_on(
    urls: tuple[str, str], bearers: list[dict[str, str]]
) -> list[tuple[WSTransport, Client]]:
    senders = []
    for a, b in zip(bearers[::2], bearers[1::2], strict=True):
        ta, ca = await ws_connect(Client, urls[0], extra_headers=a)
        tb, cb = await ws_connect(Client, urls[1], extra_headers=b)
        await asyncio.sleep(0.01)
        ta.send(WSMsgType.TEXT, JOIN)
        await asyncio.sleep(0.005)
        tb.send(WSMsgType.TEXT, JOIN)
        await asyncio.wait_for(asyncio.gather(ca.matched.wait(), cb.matched.wait()), 10)
        ca.peer, cb.peer = cb, ca
        senders.append((ta, ca) if ca.initiator else (tb, cb))
    return senders


async def measure(
    senders: list[tuple[WSTransport, Client]],
    pids: list[int],
    seconds: float,
    profilers: dict[str, Profiler] | None = None,
) -> dict[str, Any]:
    stop = asyncio.Event()
    payloads = [_payload(client, 200) for _, client in senders]
    async with asyncio.TaskGroup() as tasks:
        for (transport, client), payload in zip(senders, payloads, strict=True):
            tasks.create_task(stream(transport, client, payload, stop))
        await asyncio.sleep(1.0)
        received = lambda: sum(c.peer.received for _, c in senders if c.peer)  # noqa: E731
        cpu = lambda: [cpu_seconds(pid) for pid in pids]  # noqa: E731
        for pid, profiler in zip(pids, (profilers or {}).values(), strict=False):
            profiler.start(pid, seconds)
        count0, cpus0, t0 = received(), cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        count1, cpus1, t1 = received(), cpu(), time.perf_counter()
        stop.set()
        for _, client in senders:
            client.wakeup.set()
    for transport, _ in senders:
        transport.disconnect()
    relayed, spent = count1 - count0, [b - a for a, b in zip(cpus0, cpus1, strict=True)]
    result = {
        "relayed_msgs": relayed,
        "msgs_per_second": round(relayed / (t1 - t0)),
        "server_cpu_seconds": round(sum(spent), 3),
        "cpu_seconds_worker_one_two_redis": [round(s, 3) for s in spent],
        "msgs_per_server_cpu_second": round(relayed / max(sum(spent), 1e-9)),
    }
    for name, profiler in (profilers or {}).items():
        result[f"profile_top_self_{name}"] = profiler.finish()
    return result


async def run(
    args: argparse.Namespace, one: RunningServer, two: RunningServer, redis: RedisServer
) -> dict[str, Any]:
    assert redis.process is not None
    users = await signed_in_users(one, args.pairs * 4)
    bearers = [u.bearer for u in users]
    for user in users:
        await user.http.aclose()
    pids = [one.process.pid, two.process.pid, redis.process.pid]
    same = await pairs_on((one.ws_url, one.ws_url), bearers[: args.pairs * 2])
    same_result = await measure(same, pids, args.seconds)
    cross = await pairs_on((one.ws_url, two.ws_url), bearers[args.pairs * 2 :])
    profilers = (
        {name: Profiler(Path(f"{args.profile}-{name}.txt")) for name in ("one", "two")}
        if args.profile
        else None
    )
    publishes0 = _publishes(redis.url)
    cross_result = await measure(cross, pids, args.seconds, profilers)
    cross_result["spublish_calls"] = _publishes(redis.url) - publishes0
    return {
        "same_worker": same_result,
        "cross_worker": cross_result,
        "cross_to_same_ratio": round(
            cross_result["msgs_per_server_cpu_second"] / same_result["msgs_per_server_cpu_second"],
            3,
        ),
    }


def _publishes(url: str) -> int:
    """SPUBLISH calls Redis has served (INFO commandstats): the bridge's batches."""
    with redis_sync.Redis.from_url(url) as client:
        stats = client.info("commandstats").get("cmdstat_spublish", {})
    return int(stats.get("calls", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", help="py-spy collapsed stacks of the workers: prefix")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, two_workers(Path(tmp)) as (one, two, redis):
        result = asyncio.run(run(args, one, two, redis))
    print(json.dumps({"benchmark": "cross_worker", "pairs": args.pairs, **result, **machine()}))


if __name__ == "__main__":
    main()
