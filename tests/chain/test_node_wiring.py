"""The on-chain features through a real ``roulette serve`` talking to a real local EVM node:
balances over HTTP and token-gated queues over the WebSocket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from auth.siwe_wallet import build_message, sign
from chain.conftest import CHAIN, ETHER, World, chain_env
from roulette.auth.address import to_checksum_address
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


async def test_a_contract_wallet_signs_in_with_eip1271(node: RunningServer, world: World) -> None:
    owner, stranger = Account.create(), Account.create()
    salt = (4242).to_bytes(32, "big")
    wallet = to_checksum_address(
        "0x"
        + world.evm.call(world.factory, "predict(address,bytes32)", owner.address, salt)[-20:].hex()
    )
    world.evm.transact(
        world.deployer, world.factory, "deploy(address,bytes32)", owner.address, salt
    )
    async with httpx.AsyncClient(base_url=node.http_url) as http:

        async def attempt(signer: LocalAccount) -> httpx.Response:
            nonce = (await http.get("/auth/siwe/nonce")).json()["nonce"]
            message = build_message(
                wallet,
                domain=f"127.0.0.1:{node.port}",
                uri=node.http_url,
                chain_id=CHAIN,
                nonce=nonce,
                issued_at=datetime.now(UTC),
            )
            return await http.post(
                "/auth/siwe/verify", json={"message": message, "signature": sign(signer, message)}
            )

        refused = await attempt(stranger)
        assert refused.status_code == 401
        accepted = await attempt(owner)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["address"] == wallet
        assert (await http.get("/auth/me")).json()["address"] == wallet
