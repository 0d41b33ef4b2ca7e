"""Where shared state lives: in this process (embedded) or in Redis (standalone, Sentinel,
Redis Cluster), chosen by the configuration — the one place that picks an implementation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roulette.config import Config
from roulette.matchmaking.policy import MatchPolicy
from roulette.observability.redis_timing import time_calls
from roulette.storage.memory import MemoryLobby, MemoryNonceStore
from roulette.storage.memory_debts import MemoryBudgetDebts
from roulette.storage.ports import BudgetDebts, Bus, ControlLog, Lobby, NonceStore, WorkerRegistry

if TYPE_CHECKING:  # redis-py costs ~0.3 s of start-up: imported only when Redis is configured
    from roulette.balancing.registry import NodeRegistry

__all__ = ["SharedState", "shared_state"]


async def _nothing() -> None:
    return None


@dataclass(slots=True)
class SharedState:
    """The shared-state stores of one worker; ``bus``/``workers`` only when several share it."""

    lobby: Lobby
    nonces: NonceStore
    bus: Bus | None = None
    workers: WorkerRegistry | None = None
    nodes: NodeRegistry | None = None
    """The balancer's node registry (issue 11), only with Redis."""
    control: ControlLog | None = None
    aclose: Callable[[], Awaitable[None]] = _nothing
    ping: Callable[[], Awaitable[object]] | None = None
    """One round trip to Redis (PING; in cluster mode ``CLUSTER INFO`` state ok), for probes."""
    debts: BudgetDebts = field(default_factory=MemoryBudgetDebts)
    """What wallets owe their message and skip budgets, carried to their next socket."""


def shared_state(config: Config) -> SharedState:
    """Memory stores by default; Redis ones when a Redis mode is configured."""
    policy = MatchPolicy(interest_wait_seconds=config.interest_wait_seconds)
    if not config.redis.enabled:
        return SharedState(MemoryLobby(policy), MemoryNonceStore())
    from redis.asyncio.cluster import RedisCluster  # noqa: PLC0415

    from roulette.balancing.registry import NodeRegistry  # noqa: PLC0415
    from roulette.storage.redis import (  # noqa: PLC0415 - redis only when configured
        RedisBudgetDebts,
        RedisBus,
        RedisControlLog,
        RedisLobby,
        RedisNonceStore,
        RedisWorkerRegistry,
        close,
        connect,
    )

    client = connect(config.redis)
    time_calls(client)

    async def aclose() -> None:
        await close(client)

    async def ping() -> object:
        if isinstance(client, RedisCluster):
            return (await client.cluster_info()).get("cluster_state") == "ok"
        return await client.ping()

    return SharedState(
        lobby=RedisLobby(
            client,
            policy,
            batch_ops=config.redis.lobby_batch_ops,
            batch_pending=config.redis.lobby_batch_pending,
            batch_in_flight=config.redis.lobby_batch_in_flight,
        ),
        nonces=RedisNonceStore(client),
        bus=RedisBus(client),
        workers=RedisWorkerRegistry(client),
        nodes=NodeRegistry(client),
        control=RedisControlLog(client),
        aclose=aclose,
        ping=ping,
        debts=RedisBudgetDebts(client),
    )
