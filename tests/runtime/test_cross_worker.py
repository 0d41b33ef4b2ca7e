"""Two nodes sharing Redis and SQL: users on different nodes meet, relay, and survive a
SIGKILLed node by resuming on the other one. Real processes, a real redis-server.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.redis_fixtures import RedisServer
from storage.redis_fixtures import running_server as running_redis
from support.server import RunningServer, running_server
from support.users import User, signed_in_users

SECRETS = {
    "JWT_ACCESS_SECRET": "cross-worker-access-secret-0123456789",
    "JWT_REFRESH_SECRET": "cross-worker-refresh-secret-0123456789",
}


@dataclass
class TwoNodes:
    redis: RedisServer
    one: RunningServer
    two: RunningServer


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[TwoNodes]:
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis(tmp_path / "redis"))
        env = {
            **SECRETS,
            "REDIS_URL": redis.url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
            "RECONNECT_GRACE_SECONDS": "20",
        }
        one = stack.enter_context(running_server(tmp_path / "one", env))
        two = stack.enter_context(running_server(tmp_path / "two", env))
        yield TwoNodes(redis, one, two)


async def pair_across(nodes: TwoNodes) -> tuple[User, User, dict[str, object], dict[str, object]]:
    (a,) = await signed_in_users(nodes.one, 1)
    (b,) = await signed_in_users(nodes.two, 1)
    await a.connect()
    await b.connect()
    await a.join()
    await b.join()
    return a, b, await a.expect("match-found"), await b.expect("match-found")


async def test_users_on_different_nodes_meet_and_relay_in_order(two_nodes: TwoNodes) -> None:
    a, b, found_a, found_b = await pair_across(two_nodes)
    session = found_a["sessionId"]
    assert found_b["sessionId"] == session
    assert found_a["peerId"] == b.address and found_b["peerId"] == a.address
    for i in range(50):
        await a.send({"type": "ice-candidate", "sessionId": session, "data": {"i": i}})
    assert [(await b.expect("ice-candidate"))["data"]["i"] for _ in range(50)] == list(range(50))
    await b.send({"type": "chat", "sessionId": session, "text": "from node two"})
    assert (await a.expect("chat"))["text"] == "from node two"
    await b.send({"type": "next"})
    assert (await a.expect("session-ended"))["reason"] == "peer-next"
    for user in (a, b):
        await user.close()


async def test_a_killed_node_is_noticed_and_its_user_resumes_on_the_other(
    two_nodes: TwoNodes,
) -> None:
    a, b, found_a, _ = await pair_across(two_nodes)
    session = found_a["sessionId"]
    two_nodes.one.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    gone = await b.expect("peer-disconnected", timeout=20)
    noticed = time.monotonic() - killed_at
    assert gone["sessionId"] == session
    # The key lapses after TTL_SECONDS and must stay gone CONFIRM_SECONDS more: ~7 s.
    assert noticed < 12.0, f"peer told after {noticed:.1f}s"
    # a's wallet comes back through node two with its resume token.
    a.ws_url = two_nodes.two.ws_url
    await a.connect()
    await a.send({"type": "reconnect", "sessionId": session, "resumeToken": found_a["resumeToken"]})
    assert (await a.expect("session-resumed"))["peerId"] == b.address
    assert (await b.expect("session-resumed"))["peerId"] == a.address
    await b.send({"type": "offer", "sessionId": session, "data": {"sdp": "after failover"}})
    assert (await a.expect("offer"))["data"] == {"sdp": "after failover"}
    print(f"peer-disconnected {noticed:.2f}s after SIGKILL")
    for user in (a, b):
        await user.close()
    await asyncio.sleep(0)
