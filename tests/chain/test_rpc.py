"""The JSON-RPC client against real nodes: batches, reverts, failover, the circuit breaker."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from chain.conftest import CHAIN, World, chain_env
from chain.evm import Evm
from roulette.chain import ChainService, ChainSettings, RpcClient, RpcError
from roulette.chain.abi import call_data
from roulette.chain.node import call_params, is_revert
from roulette.errors import BadRequest, Unavailable

DOOMED_CHAIN = 31339


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def doomed(anvil_bin: Path) -> Iterator[Evm]:
    """A node of its own, which the test stops."""
    node = Evm.start(anvil_bin, DOOMED_CHAIN)
    yield node
    node.stop()


async def test_a_batch_larger_than_the_limit_is_split_and_kept_in_order(
    settings: ChainSettings, world: World
) -> None:
    rpc = RpcClient(replace(settings, rpc_batch_max=2))
    try:
        calls = [("eth_getBalance", [a, "latest"]) for a in world.evm.accounts[:5]]
        results = await rpc.batch(CHAIN, calls)
    finally:
        await rpc.aclose()

    expected = [world.evm.rpc("eth_getBalance", [a, "latest"]) for a in world.evm.accounts[:5]]
    assert results == expected


async def test_a_revert_is_an_answer_not_an_outage(settings: ChainSettings, world: World) -> None:
    rpc = RpcClient(settings)
    missing_token = call_params(world.nft, call_data("ownerOf(uint256)", 404))
    try:
        for _ in range(settings.breaker_threshold + 1):
            with pytest.raises(RpcError) as caught:
                await rpc.call(CHAIN, "eth_call", missing_token)
            assert is_revert(caught.value)
        assert set(rpc.breaker_states().values()) == {"closed"}
    finally:
        await rpc.aclose()


async def test_an_unknown_chain_is_refused_before_any_request(settings: ChainSettings) -> None:
    rpc = RpcClient(settings)
    try:
        with pytest.raises(BadRequest) as caught:
            await rpc.call(1, "eth_blockNumber", [])
    finally:
        await rpc.aclose()
    assert caught.value.code == "unsupported_chain"


async def test_a_dead_endpoint_fails_over_to_the_next(world: World) -> None:
    env = chain_env(world, RPC_URLS=f"{CHAIN}={_closed_port_url()},{CHAIN}={world.evm.url}")
    env.pop("TOKENS")
    env.pop("GATED_QUEUES")
    service = ChainService.create(ChainSettings.from_env(env))
    try:
        balances = await service.balances(world.alice, CHAIN)
    finally:
        await service.aclose()
    assert balances.native.raw > 0


async def test_an_endpoint_serving_another_chain_is_never_used(world: World) -> None:
    env = {"RPC_URLS": f"1={world.evm.url}"}
    service = ChainService.create(ChainSettings.from_env(env))
    try:
        with pytest.raises(Unavailable) as caught:
            await service.balances(world.alice, 1)
    finally:
        await service.aclose()
    assert caught.value.code == "rpc_unavailable"


async def test_a_stopped_node_trips_the_breaker_and_the_rest_keeps_serving(
    world: World, doomed: Evm
) -> None:
    queues = [{"name": "doomed", "chainId": DOOMED_CHAIN, "standard": "erc20",
               "token": world.token}]  # fmt: skip
    env = chain_env(
        world,
        RPC_URLS=f"{CHAIN}={world.evm.url},{DOOMED_CHAIN}={doomed.url}",
        GATED_QUEUES=json.dumps(queues),
    )
    service = ChainService.create(ChainSettings.from_env(env))
    try:
        assert (await service.balances(world.alice, DOOMED_CHAIN)).native.raw > 0
        doomed.stop()

        for _ in range(2):  # RPC_BREAKER_THRESHOLD=2 failed requests open the breaker
            with pytest.raises(Unavailable) as caught:
                await service.balances(world.bob, DOOMED_CHAIN)
            assert caught.value.code == "rpc_unavailable"
        assert service.rpc.breaker_states()[f"rpc:{DOOMED_CHAIN}:0"] == "opened"

        started = time.perf_counter()
        with pytest.raises(Unavailable) as gate:
            await service.check_gate(world.alice, "doomed", time.time())
        assert time.perf_counter() - started < 0.05, "an open breaker must refuse at once"
        assert gate.value.code == "gate_check_unavailable"

        assert (await service.balances(world.alice, CHAIN)).native.raw > 0
        assert await service.ens_name(world.alice) == "alice.eth"
    finally:
        await service.aclose()
