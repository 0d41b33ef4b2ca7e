"""The canary round's waits: a refusal ends the round at once instead of at its timeout, which
the measured recovery would otherwise include (a join refused while PostgreSQL restarted kept
the next round from starting for 8 s)."""

from __future__ import annotations

import asyncio
from typing import Any

from roulette.lab.probe import ProbeSocket, _all_until


def _socket(*messages: dict[str, Any]) -> ProbeSocket:
    sock = ProbeSocket()
    for message in messages:
        sock.inbox.put_nowait(message)
    return sock


async def test_both_met_in_one_session() -> None:
    found = {"type": "match-found", "sessionId": "s1"}
    a = _socket({"type": "queue-joined"}, found)
    b = _socket(found)
    assert await _all_until([a, b], "match-found") == ["s1", "s1"]


async def test_a_refused_join_fails_the_round_without_waiting_for_the_other() -> None:
    refused = _socket({"type": "error", "code": "database_unavailable"})
    waiting = _socket({"type": "queue-joined"})  # would wait for a match forever
    async with asyncio.timeout(1.0):
        assert await _all_until([waiting, refused], "match-found") is None


async def test_a_closed_socket_fails_the_round() -> None:
    async with asyncio.timeout(1.0):
        assert await _all_until([_socket({"type": "_closed"}), _socket()], "chat") is None
