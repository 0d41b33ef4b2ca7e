"""Two hundred users join at once: exactly one hundred sessions, nobody twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from conftest import MakeUsers


async def test_200_users_joining_at_once_make_100_sessions(make_users: MakeUsers) -> None:
    users = await make_users(200)
    await asyncio.gather(*(u.connect() for u in users))
    await asyncio.gather(*(u.send({"type": "join-queue", "chainId": 1}) for u in users))

    async def session_of(user: object) -> tuple[str, str, str]:
        await user.expect("queue-joined")  # type: ignore[attr-defined]
        found = await user.expect("match-found", timeout=10)  # type: ignore[attr-defined]
        return found["sessionId"], user.address, found["peerId"]  # type: ignore[attr-defined]

    results = await asyncio.gather(*(session_of(u) for u in users))
    sessions = Counter(session for session, _, _ in results)
    assert len(sessions) == 100 and set(sessions.values()) == {2}
    peers = {me: peer for _, me, peer in results}
    assert all(peers[peers[me]] == me for me in peers)
