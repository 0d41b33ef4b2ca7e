"""Where shared state lives: in this process (embedded) or in Redis (standalone, Sentinel,
Redis Cluster), chosen by the configuration — the one place that picks an implementation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from roulette.balancing.registry import NodeRegistry
from roulette.config import Config
from roulette.matchmaking.policy import MatchPolicy
from roulette.storage.memory import MemoryLobby, MemoryNonceStore
from roulette.storage.ports import Bus, Lobby, NonceStore, WorkerRegistry

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
    aclose: Callable[[], Awaitable[None]] = _nothing


def shared_state(config: Config) -> SharedState:
    """Memory stores by default; Redis ones when a Redis mode is configured."""
    policy = MatchPolicy(interest_wait_seconds=config.interest_wait_seconds)
    if not config.redis.enabled:
        return SharedState(MemoryLobby(policy), MemoryNonceStore())
    from roulette.storage.redis import (  # noqa: PLC0415 - redis only when configured
        RedisBus,
        RedisLobby,
        RedisNonceStore,
        RedisWorkerRegistry,
        close,
        connect,
    )

    client = connect(config.redis)

    async def aclose() -> None:
        await close(client)

    return SharedState(
        lobby=RedisLobby(client, policy),
        nonces=RedisNonceStore(client),
        bus=RedisBus(client),
        workers=RedisWorkerRegistry(client),
        nodes=NodeRegistry(client),
        aclose=aclose,
    )
