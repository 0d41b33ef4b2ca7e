"""Cross-worker pairs for repeated fault runs on one ``roulette cluster``.

Signing in is the slow part of setting up a pair (a nonce, an EIP-4361 signature, a verify);
a :class:`Pool` signs its users in once and, for every repetition, only opens new sockets until
enough of them sit on each of two workers (the kernel spreads accepts over the workers).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field

import httpx

from cluster.running import RunningCluster
from support.eventually import eventually
from support.users import User

__all__ = ["Pair", "Pool", "chat_both_ways", "disconnect", "next_of", "resume"]

Pair = tuple[User, User, dict[str, object], dict[str, object]]
"""``a``, ``b``, and the ``match-found`` each was told."""

CONNECT_TRIES = 400
"""Sockets opened at most to fill both workers (a worker takes about half of them)."""


@dataclass
class Pool:
    """Signed-in users, reused from one repetition to the next."""

    node: RunningCluster
    users: list[User] = field(default_factory=list)

    async def spread(self, each: int) -> tuple[list[User], list[User]]:
        """``each`` connected users on each of two workers; the others' sockets closed."""
        by_worker: dict[str, list[User]] = {}
        idle = list(self.users)
        for _ in range(CONNECT_TRIES):
            if not idle:
                idle = await self.sign_in(each)
            user = idle.pop()
            await user.connect()
            by_worker.setdefault(user.worker, []).append(user)
            full = [group[:each] for group in by_worker.values() if len(group) >= each]
            if len(full) >= 2:
                chosen = {id(u) for u in full[0] + full[1]}
                await disconnect([u for g in by_worker.values() for u in g if id(u) not in chosen])
                return full[0], full[1]
        await disconnect([u for g in by_worker.values() for u in g])
        raise AssertionError(f"sockets never reached two workers: {list(by_worker)}")

    async def sign_in(self, count: int) -> list[User]:
        """``count`` new users, signed in (kept in the pool first, so they are always closed)."""
        node = self.node
        fresh = [User(node.http_url, node.ws_url, f"127.0.0.1:{node.port}") for _ in range(count)]
        self.users += fresh
        await asyncio.gather(
            *(eventually(functools.partial(sign_in, u), timeout=60) for u in fresh)
        )
        return fresh

    async def pairs(self, count: int) -> list[Pair]:
        """``count`` sessions, each between a user on one worker and a user on the other."""
        left, right = await self.spread(count)
        pairs = []
        for a, b in zip(left, right, strict=True):
            await a.join()
            await b.join()
            found_a = await a.expect("match-found", timeout=10)
            found_b = await b.expect("match-found", timeout=10)
            assert found_a["peerId"] == b.address
            assert found_b["sessionId"] == found_a["sessionId"]
            pairs.append((a, b, found_a, found_b))
        return pairs

    async def end(self, pairs: list[Pair]) -> None:
        """End every session (both users told) and close the sockets: the users are free."""
        for a, _, found, _ in pairs:
            await a.send({"type": "end-session", "sessionId": found["sessionId"]})
        for a, b, found, _ in pairs:
            for user in (a, b):
                ended = await next_of(user, "session-ended", timeout=10)
                assert ended["sessionId"] == found["sessionId"], (user.address, ended)
        await disconnect([u for a, b, _, _ in pairs for u in (a, b)])

    async def close(self) -> None:
        await asyncio.gather(*(u.close() for u in self.users))


async def sign_in(user: User) -> None:
    """One sign-in; a 503 ("try again shortly": the store did not answer in time, as under a
    load average of 25) fails as an assertion, so :func:`eventually` asks again."""
    try:
        await user.sign_in()
    except (KeyError, httpx.HTTPStatusError) as exc:  # KeyError: a nonce answer without one
        response = getattr(exc, "response", None)
        if response is not None and response.status_code != 503:
            raise
        raise AssertionError(f"sign-in refused for now: {exc!r}") from exc


async def disconnect(users: list[User]) -> None:
    await asyncio.gather(*(u.ws.close() for u in users if u.ws is not None))
    for user in users:
        user.ws = None


async def next_of(user: User, kind: str, timeout: float) -> dict[str, object]:
    """The next message of type ``kind``, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        message = await user.recv(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def resume(user: User, found: dict[str, object]) -> None:
    """A new socket (any worker) takes the session back with the resume token."""
    await user.connect_after_a_crash()
    session_id, token = found["sessionId"], found["resumeToken"]
    await user.send({"type": "reconnect", "sessionId": session_id, "resumeToken": token})
    # The first session-resumed is our own: the peer's resume is only told to a bound socket.
    resumed = await next_of(user, "session-resumed", timeout=20)
    assert resumed["sessionId"] == session_id


async def chat_both_ways(pair: Pair, count: int) -> None:
    """Both send ``count`` lines at once; each must get all of the other's, in order."""
    a, b, found, _ = pair
    session_id = found["sessionId"]
    for i in range(count):
        await a.send({"type": "chat", "sessionId": session_id, "text": f"a{i}"})
        await b.send({"type": "chat", "sessionId": session_id, "text": f"b{i}"})
    got_b = [(await next_of(b, "chat", timeout=10))["text"] for _ in range(count)]
    got_a = [(await next_of(a, "chat", timeout=10))["text"] for _ in range(count)]
    assert got_b == [f"a{i}" for i in range(count)], (a.address, got_b)
    assert got_a == [f"b{i}" for i in range(count)], (b.address, got_a)
