"""An active user waiting for a match when a store outage tells it something else: it queues
again (join refused, queue lost) or skips the session the server still holds, instead of
waiting for a match until the end of the run (the lab's stop-redis run: 30 matches in a minute
where the other faults had 200)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from roulette.loadtest.client import ServerInfo
from roulette.loadtest.scenario import Scenario
from roulette.loadtest.stats import Recorder
from roulette.loadtest.user import ActiveUser, UserContext
from roulette.loadtest.wallet import Wallet


class _Socket:
    """The server's side of a user's socket: messages queued for it, what it sent."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.inbox.put_nowait(message)
        self.sent: list[str] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(str(message["type"]))


async def _sent_after(seconds: float, *told: dict[str, Any]) -> tuple[list[str], Recorder]:
    recorder = Recorder()
    info = ServerInfo("http://t", "ws://t/ws", "t", 1)
    ctx = UserContext(info, recorder, Scenario(), time.time() + seconds, 30.0)
    async with httpx.AsyncClient() as http:
        user = ActiveUser(ctx, Wallet.generate(random.Random(1)), http, "127.0.0.1", seed=1)
        socket = _Socket(*told)
        user.socket = socket  # type: ignore[assignment]  # the part of UserSocket act() uses
        await user.act()
    return socket.sent, recorder


async def test_a_refused_join_and_a_lost_queue_are_joined_again() -> None:
    refused = {"type": "error", "code": "state_unavailable"}
    sent, recorder = await _sent_after(4.0, refused, {"type": "queue-reset", "reason": "x"})
    assert sent == ["join-queue"] * 3
    assert recorder.errors["server_state_unavailable"] == 1


async def test_a_session_the_server_still_holds_is_skipped_until_the_skip_succeeds() -> None:
    held = {"type": "error", "code": "already_in_session"}
    failed = {"type": "error", "code": "state_unavailable"}  # the store is still away
    sent, _ = await _sent_after(6.0, held, failed)
    assert sent == ["join-queue", "next", "next"]


async def test_a_late_answer_about_the_last_session_leaves_it_queued() -> None:
    stale = {"type": "error", "code": "not_in_session"}
    assert (await _sent_after(0.5, stale))[0] == ["join-queue"]
