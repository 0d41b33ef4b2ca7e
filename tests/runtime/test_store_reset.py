"""Defect 8 of issue 9: Redis restarted empty under two nodes with a session across them.

Nobody is told a false ``peer-disconnected`` (membership is re-established before anyone is
reaped), each user whose session the store forgot is told ``session-ended`` (``state-lost``),
and both may queue and meet again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest

from runtime.test_cross_worker import TwoNodes, pair_across, two_nodes
from support.users import User

__all__ = ["two_nodes"]

REPAIR_WITHIN = 15.0
"""Seconds: a reset noticed within a beat, confirmed on two audits three seconds apart."""


async def collect(users: list[User], seconds: float) -> dict[str, list[dict[str, object]]]:
    seen: dict[str, list[dict[str, object]]] = {u.address: [] for u in users}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for user in users:
            with contextlib.suppress(TimeoutError):
                seen[user.address].append(await user.recv(timeout=0.05))
        if all(any(m["type"] == "session-ended" for m in got) for got in seen.values()):
            break
    return seen


RESETS = int(os.environ.get("FAULT_REPEATS", "22"))
"""Resets in a row on the same two nodes (each needs the previous repair to have worked).

22, so that a 1-in-10 race is seen with 90 % (0.9^22 < 0.1; see ``cluster/test_faults.py``).
A reset costs 6.1 s (4.9-6.5 s; 134 s for 22, measured 2026-12-06 under load 17; it is two
audit passes three seconds apart, not CPU): +116 s of CI against the 3 resets before.
"""


@pytest.mark.timeout(60 + 30 * RESETS)
async def test_a_store_that_comes_back_empty_ends_sessions_without_false_disconnects(
    two_nodes: TwoNodes,
) -> None:
    a, b, found_a, _ = await pair_across(two_nodes)
    for run in range(RESETS):
        started = time.monotonic()
        a, b, found_a = await reset_and_meet_again(two_nodes, a, b, found_a)
        print(f"reset {run}: repaired and met again in {time.monotonic() - started:.2f}s")
    await asyncio.gather(a.close(), b.close())


async def reset_and_meet_again(
    two_nodes: TwoNodes, a: User, b: User, found_a: dict[str, object]
) -> tuple[User, User, dict[str, object]]:
    session = found_a["sessionId"]
    two_nodes.redis.stop()
    two_nodes.redis.start()  # persistence is off: it comes back empty
    seen = await collect([a, b], REPAIR_WITHIN)
    for user in (a, b):
        kinds = [m["type"] for m in seen[user.address]]
        assert "peer-disconnected" not in kinds, (user.address, seen)
        ended = [m for m in seen[user.address] if m["type"] == "session-ended"]
        assert ended == [{"type": "session-ended", "sessionId": session, "reason": "state-lost"}]
    # Not trapped: both queue again and meet.
    await a.join()
    await b.join()
    found_a = await a.expect("match-found", timeout=10)
    assert found_a["peerId"] == b.address
    assert (await b.expect("match-found", timeout=10))["peerId"] == a.address
    return a, b, found_a
