"""The canary round's waits: a refusal ends the round at once instead of at its timeout, which
the measured recovery would otherwise include (a join refused while PostgreSQL restarted kept
the next round from starting for 8 s)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from roulette.lab.probe import ProbeSocket, ProbeUser, _all_until
from roulette.loadtest.client import ServerInfo
from roulette.loadtest.wallet import Wallet


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


class _Recorded(ProbeSocket):
    """A probe's socket whose sends are recorded instead of written."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        super().__init__()
        for message in messages:
            self.inbox.put_nowait(message)
        self.sent: list[str] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(str(message["type"]))


async def test_a_probe_refused_during_an_outage_asks_again_at_once() -> None:
    """Not after its 20 s round: the restart-postgres row had 18 probe sessions where the
    other faults had 40-58."""
    info = ServerInfo("http://t", "ws://t/ws", "t", 1)
    probe = ProbeUser(info, Wallet.generate(random.Random(3)))
    sock = _Recorded(
        {"type": "error", "code": "database_unavailable"},
        {"type": "queue-reset", "reason": "state-lost"},
        {"type": "error", "code": "already_in_session"},
        {"type": "error", "code": "not_in_session"},  # about the last session: ignored
        {"type": "_closed"},
    )
    async with asyncio.timeout(5.0):
        assert await probe._session(sock) is False
    assert sock.sent == ["join-queue", "join-queue", "join-queue", "next"]
