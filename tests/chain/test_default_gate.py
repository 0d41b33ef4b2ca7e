"""``DEFAULT_QUEUE_GATE``: the default queue applies a token gate (a real server, a real EVM)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.conftest import CHAIN, ETHER, World, chain_env
from support.server import RunningServer, running_server
from support.users import signed_in_users


@pytest.fixture(scope="module")
def node(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = chain_env(world, CHAIN_IDS=f"1,{CHAIN}", DEFAULT_QUEUE_GATE="whales")
    with running_server(tmp_path_factory.mktemp("gated-node"), env) as server:
        yield server


async def test_the_default_queue_admits_only_holders_of_the_minimum(
    node: RunningServer, world: World
) -> None:
    holder, stranger = await signed_in_users(node, 2)
    world.evm.transact(
        world.deployer, world.token, "mint(address,uint256)", holder.address, 600 * ETHER
    )
    try:
        for user in (holder, stranger):
            await user.connect()
        await stranger.send({"type": "join-queue", "chainId": 1})
        assert (await stranger.expect("error", timeout=10))["code"] == "gate_not_met"
        assert (await holder.join(chain_id=1))["position"] == 1
    finally:
        for user in (holder, stranger):
            await user.close()
