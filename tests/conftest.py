"""Fixtures shared by the integration tests: a real server and real signed-in users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from support.raw_ws import close_all_raw
from support.server import RunningServer, running_server
from support.users import User, signed_in_users

MakeUsers = Callable[[int], Awaitable[list[User]]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One ``roulette serve`` process per test module, on embedded defaults."""
    data_dir: Path = tmp_path_factory.mktemp("node")
    env = {"ADMIN_TOKEN": "test-admin-token-0123456789", "INTEREST_WAIT_SECONDS": "1"}
    with running_server(data_dir, env) as running:
        yield running


@pytest.fixture
async def make_users(server: RunningServer) -> AsyncIterator[MakeUsers]:
    """Signed-in users against ``server``; all closed (and so dequeued) after the test."""
    made: list[User] = []

    async def make(count: int) -> list[User]:
        users = await signed_in_users(server, count)
        made.extend(users)
        return users

    yield make
    for user in made:
        await user.close()


@pytest.fixture
async def raw_cleanup() -> AsyncIterator[None]:
    """Close the raw (picows) test sockets a test left open."""
    yield
    await close_all_raw()
