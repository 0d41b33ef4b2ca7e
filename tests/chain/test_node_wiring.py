"""The on-chain features through a real ``roulette serve`` talking to a real local EVM node:
balances over HTTP and token-gated queues over the WebSocket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.conftest import CHAIN, ETHER, World, chain_env
from support.server import RunningServer, running_server
from support.users import signed_in_users


@pytest.fixture(scope="module")
def node(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = chain_env(world, CHAIN_IDS=f"1,{CHAIN}")
    with running_server(tmp_path_factory.mktemp("chain-node"), env) as server:
        yield server


async def test_balances_come_from_the_chain(node: RunningServer, world: World) -> None:
    (user,) = await signed_in_users(node, 1)
    world.evm.transact(
        world.deployer, world.token, "mint(address,uint256)", user.address, 3 * ETHER
    )
    response = await user.http.get("/balances", params={"chainId": CHAIN})
    assert response.status_code == 200, response.text
    body = response.json()
    token = next(t for t in body["tokens"] if t["symbol"] == "TTK")
    assert token["raw"] == str(3 * ETHER)
    await user.close()


async def test_a_gated_queue_admits_holders_and_refuses_others(
    node: RunningServer, world: World
) -> None:
    holder, stranger = await signed_in_users(node, 2)
    world.evm.transact(
        world.deployer, world.token, "mint(address,uint256)", holder.address, 600 * ETHER
    )
    for user in (holder, stranger):
        await user.connect()
    await holder.send({"type": "join-queue", "chainId": CHAIN, "queue": "whales"})
    assert (await holder.expect("queue-joined", timeout=10))["chainId"] == CHAIN
    await stranger.send({"type": "join-queue", "chainId": CHAIN, "queue": "whales"})
    assert (await stranger.expect("error", timeout=10))["code"] == "gate_not_met"
    await stranger.send({"type": "join-queue", "chainId": CHAIN, "queue": "nope"})
    assert (await stranger.expect("error", timeout=10))["code"] == "unknown_queue"
    for user in (holder, stranger):
        await user.close()
