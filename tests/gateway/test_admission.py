"""The new-wallet cool-down on a real server: a wallet first seen seconds ago waits to queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from support.server import RunningServer, running_server
from support.users import signed_in_users

COOLDOWN = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"NEW_WALLET_COOLDOWN_SECONDS": str(COOLDOWN)}
    with running_server(tmp_path_factory.mktemp("node"), env) as running:
        yield running


async def test_a_new_wallet_waits_out_the_cooldown_then_queues(server: RunningServer) -> None:
    (user,) = await signed_in_users(server, 1)
    try:
        await user.connect()
        await user.send({"type": "join-queue", "chainId": 1})
        error = await user.expect("error")
        assert error["code"] == "new_wallet_cooldown" and " s" in error["message"]
        await asyncio.sleep(COOLDOWN)
        assert (await user.join())["position"] == 1
        # Signing in again starts a new token family; the first sign-in still counts.
        await user.sign_in()
        await user.send({"type": "leave-queue"})
        await user.expect("queue-left")
        assert (await user.join())["position"] == 1
    finally:
        await user.close()
