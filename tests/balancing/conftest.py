"""Fixtures of the load-balancer tests: one Redis and three nodes for the whole module."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from balancing.lb_fixtures import Balancer, node_env, running_balancer, running_fleet
from storage.redis_fixtures import RedisServer, running_server
from support.server import RunningServer, free_port

CAPACITIES = (1000, 2000, 3000)

NodeEnv = Callable[..., dict[str, str]]
StartBalancer = Callable[..., Balancer]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A standalone ``redis-server`` on a free port."""
    with running_server(tmp_path_factory.mktemp("lb-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def lb_port() -> int:
    """The public port of every balancer of the module (the nodes' SIWE domain names it)."""
    return free_port()


@pytest.fixture(scope="module")
def make_node_env(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, lb_port: int
) -> NodeEnv:
    """The environment of a node of this module (shared Redis, database and JWT keys)."""
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('lb-db') / 'shared.db'}"

    def make(**extra: str) -> dict[str, str]:
        return node_env(redis_server.url, lb_port, database, **extra)

    return make


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, make_node_env: NodeEnv
) -> Iterator[dict[str, RunningServer]]:
    """Three nodes of capacities 1000, 2000 and 3000 sockets, by server name."""
    root: Path = tmp_path_factory.mktemp("lb-fleet")
    envs = [make_node_env(MAX_CONNECTIONS=str(capacity)) for capacity in CAPACITIES]
    with running_fleet(root, envs) as nodes:
        yield nodes


@pytest.fixture
def start_balancer(
    tmp_path: Path, redis_server: RedisServer, lb_port: int, fleet: dict[str, RunningServer]
) -> Iterator[StartBalancer]:
    """Start ``roulette lb run`` with extra ``LB_*`` settings; waits for the fleet to be UP."""
    with contextlib.ExitStack() as stack:

        def start(**env: str) -> Balancer:
            balancer = stack.enter_context(
                running_balancer(tmp_path / "lb", redis_server.url, lb_port, env)
            )
            balancer.wait_servers(dict.fromkeys(fleet, "UP"))
            return balancer

        yield start
