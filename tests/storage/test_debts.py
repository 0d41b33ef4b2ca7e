"""Budget debts: the shared contract in memory, on a standalone Redis and on a Redis Cluster,
and what only the Redis store promises (its keys expire, a bad value is no debt)."""

from __future__ import annotations

import pytest

from roulette.storage import keys
from roulette.storage.memory_debts import MemoryBudgetDebts
from roulette.storage.ports import Debts
from roulette.storage.redis import RedisBudgetDebts, RedisClient
from storage.contract import BudgetDebtsContract
from storage.contract.debts_contract import ALICE, BOB


class TestMemoryBudgetDebtsContract(BudgetDebtsContract):
    """The shared contract, in one process."""

    @pytest.fixture
    def debts(self) -> MemoryBudgetDebts:
        return MemoryBudgetDebts()


class TestRedisBudgetDebtsContract(BudgetDebtsContract):
    """The shared contract, on each Redis deployment."""

    @pytest.fixture
    def debts(self, redis_client: RedisClient) -> RedisBudgetDebts:
        return RedisBudgetDebts(redis_client)


async def test_the_memory_store_is_bounded() -> None:
    debts = MemoryBudgetDebts(max_wallets=1)
    await debts.carry(ALICE, Debts(messages=5.0), now=0.0)
    await debts.carry(BOB, Debts(messages=5.0), now=0.0)
    assert await debts.owed(ALICE, now=0.0) == Debts()  # the oldest went first


async def test_a_debt_key_expires_in_redis_after_the_longer_debt(
    redis_client: RedisClient,
) -> None:
    debts = RedisBudgetDebts(redis_client)
    await debts.carry(ALICE, Debts(messages=3.0, skips=30.0), now=0.0)
    ttl_ms = await redis_client.pttl(keys.debt(ALICE))
    assert 30_000 < ttl_ms <= (30.0 + keys.DEBT_GRACE_SECONDS) * 1000
    await debts.carry(ALICE, Debts(), now=0.0)
    assert await redis_client.exists(keys.debt(ALICE)) == 0


async def test_a_value_that_does_not_parse_is_no_debt(redis_client: RedisClient) -> None:
    await redis_client.set(keys.debt(ALICE), b"not a number")
    assert await RedisBudgetDebts(redis_client).owed(ALICE, now=0.0) == Debts()
