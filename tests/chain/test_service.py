"""ChainService against a real anvil node: balances, token gates, ENS names, contract wallets."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from eth_abi.abi import encode
from eth_account import Account

from chain.conftest import CHAIN, ETHER, OTHER_CHAIN, World, chain_env
from roulette.auth.address import keccak256
from roulette.chain import ChainService, ChainSettings
from roulette.chain.abi import EIP6492_SUFFIX, call_data, decode_address
from roulette.errors import BadRequest, Forbidden, RateLimited
from roulette.identity import Address


def eip191_hash(text: str) -> bytes:
    """EIP-191 version 0x45: the hash a wallet signs for personal_sign (and SIWE)."""
    data = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def sign(key: bytes, digest: bytes) -> bytes:
    return bytes(Account.unsafe_sign_hash(digest, key).signature)


async def test_balances_read_the_native_coin_and_each_configured_token(
    service: ChainService, world: World
) -> None:
    balances = await service.balances(world.alice, CHAIN)

    native_wei = int(world.evm.rpc("eth_getBalance", [world.alice, "latest"]), 16)
    assert balances.native.raw == native_wei
    assert balances.native.symbol == "ETH"
    assert balances.native.decimals == 18
    tokens = {t.symbol: t for t in balances.tokens}
    held = int.from_bytes(world.evm.call(world.token, "balanceOf(address)", world.alice), "big")
    assert held >= 1000 * ETHER
    assert tokens["TTK"].raw == held
    assert tokens["TTK"].formatted == str(held // ETHER)
    assert tokens["TTK"].token == world.token
    assert (tokens["USDX"].raw, tokens["USDX"].decimals, tokens["USDX"].formatted) == (
        2_500_000,
        6,
        "2.5",
    )


async def test_balances_are_cached_for_a_while(service: ChainService, world: World) -> None:
    before = await service.balances(world.carol, CHAIN)
    world.evm.send(world.bob, world.carol, value=ETHER)

    assert await service.balances(world.carol, CHAIN) == before


async def test_balances_of_an_unknown_chain_are_a_bad_request(
    service: ChainService, world: World
) -> None:
    with pytest.raises(BadRequest) as caught:
        await service.balances(world.alice, 999)
    assert caught.value.code == "unsupported_chain"


async def test_balances_on_a_chain_without_tokens_show_the_native_coin(
    service: ChainService, world: World
) -> None:
    balances = await service.balances(world.alice, OTHER_CHAIN)

    assert balances.tokens == ()
    assert balances.native.raw == int(
        world.other.rpc("eth_getBalance", [world.alice, "latest"]), 16
    )


@pytest.mark.parametrize("queue", ["whales", "collectors", "seven", "pass"])
async def test_a_gate_admits_a_holder(service: ChainService, world: World, queue: str) -> None:
    await service.check_gate(world.alice, queue, time.time())


@pytest.mark.parametrize("queue", ["collectors", "seven", "pass"])
async def test_a_gate_refuses_a_wallet_without_the_token(
    service: ChainService, world: World, queue: str
) -> None:
    with pytest.raises(Forbidden) as caught:
        await service.check_gate(world.bob, queue, time.time())
    assert caught.value.code == "gate_not_met"


async def test_an_erc20_gate_refuses_a_balance_below_the_minimum(
    service: ChainService, world: World
) -> None:
    poor = world.evm.accounts[9]
    world.evm.transact(world.deployer, world.token, "mint(address,uint256)", poor, 499 * ETHER)

    with pytest.raises(Forbidden):
        await service.check_gate(poor, "whales", time.time())


async def test_an_erc721_gate_on_a_token_that_does_not_exist_refuses(
    service: ChainService, world: World
) -> None:
    settings = service.settings
    queue = settings.gated_queues["seven"]
    missing = replace(queue, name="missing", token_id=404)
    svc = ChainService.create(replace(settings, gated_queues={"missing": missing}))
    try:
        with pytest.raises(Forbidden):
            await svc.check_gate(world.alice, "missing", time.time())
    finally:
        await svc.aclose()


async def test_an_unknown_queue_is_a_bad_request(service: ChainService, world: World) -> None:
    with pytest.raises(BadRequest) as caught:
        await service.check_gate(world.alice, "nope", time.time())
    assert caught.value.code == "unknown_queue"


async def test_ens_name_is_reverse_resolved_and_forward_verified(
    service: ChainService, world: World
) -> None:
    assert await service.ens_name(world.alice) == "alice.eth"


async def test_ens_name_claimed_by_another_address_is_not_shown(
    service: ChainService, world: World
) -> None:
    assert await service.ens_name(world.mallory) is None


async def test_ens_name_of_an_address_without_a_record_is_none(
    service: ChainService, world: World
) -> None:
    assert await service.ens_name(world.bob) is None


def _wallet(world: World, owner: Address, salt: int) -> Address:
    salt_bytes = salt.to_bytes(32, "big")
    predicted = decode_address(
        world.evm.call(world.factory, "predict(address,bytes32)", owner, salt_bytes)
    )
    return predicted


async def test_eip1271_signature_of_a_deployed_wallet_is_accepted(
    service: ChainService, world: World
) -> None:
    owner = Account.create()
    wallet = _wallet(world, Address(owner.address), 1)
    world.evm.transact(
        world.deployer,
        world.factory,
        "deploy(address,bytes32)",
        owner.address,
        (1).to_bytes(32, "big"),
    )
    digest = eip191_hash("Sign in to roulette")

    assert await service.verify_contract_signature(wallet, digest, sign(owner.key, digest), CHAIN)


async def test_eip1271_signature_of_the_wrong_signer_is_refused(
    service: ChainService, world: World
) -> None:
    owner, stranger = Account.create(), Account.create()
    wallet = _wallet(world, Address(owner.address), 2)
    world.evm.transact(
        world.deployer,
        world.factory,
        "deploy(address,bytes32)",
        owner.address,
        (2).to_bytes(32, "big"),
    )
    digest = eip191_hash("Sign in to roulette")

    assert not await service.verify_contract_signature(
        wallet, digest, sign(stranger.key, digest), CHAIN
    )


async def test_a_signature_for_an_address_without_code_is_refused(
    service: ChainService, world: World
) -> None:
    someone = Account.create()
    digest = eip191_hash("hello")

    assert not await service.verify_contract_signature(
        Address(someone.address), digest, sign(someone.key, digest), CHAIN
    )


def _wrapped(world: World, owner: Address, salt: int, signature: bytes) -> bytes:
    # EIP-6492: abi.encode(factory, factoryCalldata, innerSignature) ++ magic suffix.
    deploy = call_data("deploy(address,bytes32)", owner, salt.to_bytes(32, "big"))
    return (
        encode(["address", "bytes", "bytes"], [world.factory, deploy, signature]) + EIP6492_SUFFIX
    )


async def test_eip6492_signature_of_a_not_yet_deployed_wallet_is_accepted(
    service: ChainService, world: World
) -> None:
    owner = Account.create()
    wallet = _wallet(world, Address(owner.address), 3)
    digest = eip191_hash("Sign in to roulette")
    wrapped = _wrapped(world, Address(owner.address), 3, sign(owner.key, digest))

    assert await service.verify_contract_signature(wallet, digest, wrapped, CHAIN)
    assert world.evm.code(wallet) == b"", "eth_call must not deploy the wallet for real"


async def test_eip6492_signature_of_the_wrong_signer_is_refused(
    service: ChainService, world: World
) -> None:
    owner, stranger = Account.create(), Account.create()
    wallet = _wallet(world, Address(owner.address), 4)
    digest = eip191_hash("Sign in to roulette")
    wrapped = _wrapped(world, Address(owner.address), 4, sign(stranger.key, digest))

    assert not await service.verify_contract_signature(wallet, digest, wrapped, CHAIN)


async def test_contract_signature_on_a_chain_without_rpc_is_refused(
    service: ChainService, world: World
) -> None:
    assert not await service.verify_contract_signature(world.alice, b"\x00" * 32, b"\x01" * 65, 5)


async def test_contract_signature_checks_are_rate_limited_per_address(world: World) -> None:
    env = chain_env(world, CONTRACT_SIG_BURST="2", CONTRACT_SIG_PER_MINUTE="1")
    service = ChainService.create(ChainSettings.from_env(env))
    digest = eip191_hash("hello")
    try:
        for _ in range(2):
            assert not await service.verify_contract_signature(world.bob, digest, bytes(65), CHAIN)
        with pytest.raises(RateLimited):
            await service.verify_contract_signature(world.bob, digest, bytes(65), CHAIN)
        assert not await service.verify_contract_signature(world.carol, digest, bytes(65), CHAIN)
    finally:
        await service.aclose()
