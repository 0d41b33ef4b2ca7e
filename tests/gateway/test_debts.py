"""The debt carrier: writes a wallet's debts behind the socket's back, reads them at sign-in,
and never lets a store outage block a sign-in."""

from __future__ import annotations

import asyncio
import time

from roulette.config import RedisSettings
from roulette.gateway.debts import READ_SECONDS, DebtCarrier
from roulette.identity import Address
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.limits import MessageLimiter, Verdict
from roulette.storage.memory_debts import MemoryBudgetDebts
from roulette.storage.ports import Debts
from roulette.storage.redis import RedisBudgetDebts, close, connect
from support.eventually import eventually
from support.server import free_port

WALLET = Address("0x" + "c3" * 20)


class Clock:
    """A clock the test moves (both the wall and the monotonic one)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_noted_debt_is_written_and_a_new_socket_inherits_it() -> None:
    store, clock = MemoryBudgetDebts(), Clock(100.0)
    carrier = DebtCarrier(store, wall=clock, monotonic=clock)
    spent, skips = MessageLimiter(burst=10, per_second=1), KeyedLimiter(burst=2, per_second=0.1)
    for _ in range(10):
        spent.record(clock.now)
    skips.allow(WALLET, clock.now)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(carrier.run())
        carrier.note(WALLET, spent, skips)

        async def written() -> None:
            assert await store.owed(WALLET, now=100.0) == Debts(10.0, 10.0)

        await eventually(written)
        carrier.stop()
    clock.now = 104.0  # the next socket, 4 s later, on a fresh limiter
    fresh, fresh_skips = (
        MessageLimiter(burst=10, per_second=1),
        KeyedLimiter(burst=2, per_second=0.1),
    )
    assert await carrier.inherit(WALLET, fresh, fresh_skips) == Debts(6.0, 6.0)
    verdicts = [fresh.record(104.0) for _ in range(5)]
    assert verdicts == [Verdict.ALLOW] * 4 + [Verdict.REFUSE]  # 4 of 10 refilled, not 10
    assert fresh_skips.allow(WALLET, 104.0) and not fresh_skips.allow(WALLET, 104.0)


async def test_nothing_owed_writes_nothing() -> None:
    store, clock = MemoryBudgetDebts(), Clock(0.0)
    carrier = DebtCarrier(store, wall=clock, monotonic=clock)
    carrier.note(WALLET, MessageLimiter(), None)
    carrier.stop()
    await carrier.run()  # returns at once: nothing was pending
    assert carrier.failed == 0


async def test_a_store_outage_costs_a_fresh_budget_never_a_sign_in() -> None:
    client = connect(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0"))  # nobody there
    carrier = DebtCarrier(RedisBudgetDebts(client), wall=time.time, monotonic=time.monotonic)
    limiter = MessageLimiter(burst=10, per_second=1)
    try:
        started = time.monotonic()
        assert await carrier.inherit(WALLET, limiter, None) == Debts()
        assert time.monotonic() - started < READ_SECONDS + 1.0
        assert limiter.record(time.monotonic()) is Verdict.ALLOW
        for _ in range(10):
            limiter.record(time.monotonic())
        carrier.note(WALLET, limiter, None)
        carrier.stop()
        await carrier.run()  # the failed write is logged and counted, not raised
        assert carrier.failed == 2
    finally:
        await close(client)
