"""Fixtures of the chain tests: two real anvil nodes, deployed test contracts, a real service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.evm import Evm, NodeToolsMissing, anvil_binary
from roulette.chain import ChainService, ChainSettings
from roulette.chain.ens import namehash, reverse_node
from roulette.identity import Address

CHAIN = 31337
OTHER_CHAIN = 31338
ETHER = 10**18


_installed: list[Path | NodeToolsMissing] = []


def pytest_configure(config: pytest.Config) -> None:
    """Install the node (``npm ci`` into tools/node) while collecting, outside any test's
    timeout: on a fresh clone the download takes longer than one test may."""
    try:
        _installed.append(anvil_binary())
    except NodeToolsMissing as exc:
        _installed.append(exc)


@pytest.fixture(scope="session")
def anvil_bin() -> Path:
    """The anvil binary from npm (installed into tools/node when missing)."""
    found = _installed[0] if _installed else anvil_binary()
    if isinstance(found, NodeToolsMissing):
        pytest.skip(f"no local EVM node: {found}")
    return found


@pytest.fixture(scope="session")
def evm(anvil_bin: Path) -> Iterator[Evm]:
    """The main test chain."""
    node = Evm.start(anvil_bin, CHAIN)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def other_evm(anvil_bin: Path) -> Iterator[Evm]:
    """A second chain, for transactions sent on the wrong chain."""
    node = Evm.start(anvil_bin, OTHER_CHAIN)
    yield node
    node.stop()


@dataclass(frozen=True)
class World:
    """The deployed contracts and the cast of the chain tests."""

    evm: Evm
    other: Evm
    token: Address
    usd: Address
    stray_token: Address
    nft: Address
    multi: Address
    registry: Address
    resolver: Address
    factory: Address
    deployer: Address
    alice: Address
    bob: Address
    carol: Address
    mallory: Address


@pytest.fixture(scope="session")
def world(evm: Evm, other_evm: Evm) -> World:
    """Contracts deployed once per test session; alice holds everything and has an ENS name."""
    deployer, alice, bob, carol, mallory = evm.accounts[:5]
    token = evm.deploy(deployer, "TestToken", "Test Token", "TTK", 18)
    usd = evm.deploy(deployer, "TestToken", "Test Dollar", "USDX", 6)
    stray = evm.deploy(deployer, "TestToken", "Stray", "STRAY", 18)
    nft = evm.deploy(deployer, "TestNft")
    multi = evm.deploy(deployer, "TestMultiToken")
    registry = evm.deploy(deployer, "TestEnsRegistry")
    resolver = evm.deploy(deployer, "TestEnsResolver")
    factory = evm.deploy(deployer, "TestWalletFactory")
    for holder in (alice, bob, carol, mallory):
        evm.transact(deployer, token, "mint(address,uint256)", holder, 1000 * ETHER)
        evm.transact(deployer, stray, "mint(address,uint256)", holder, 1000 * ETHER)
    evm.transact(deployer, usd, "mint(address,uint256)", alice, 2_500_000)
    evm.transact(deployer, nft, "mint(address,uint256)", alice, 7)
    evm.transact(deployer, multi, "mint(address,uint256,uint256)", alice, 3, 5)
    ens = (deployer, registry, resolver)
    _name(evm, ens, alice, "alice.eth", forward_to=alice)
    # mallory's reverse record claims alice's name: forward verification must refuse it.
    _name(evm, ens, mallory, "alice.eth", forward_to=alice)
    return World(
        evm, other_evm, token, usd, stray, nft, multi, registry, resolver, factory,
        deployer, alice, bob, carol, mallory,
    )  # fmt: skip


def _name(
    evm: Evm,
    world: tuple[Address, Address, Address],
    owner: Address,
    name: str,
    *,
    forward_to: Address,
) -> None:
    sender, registry, resolver = world
    reverse = reverse_node(owner)
    forward = namehash(name)
    evm.transact(sender, registry, "setResolver(bytes32,address)", reverse, resolver)
    evm.transact(sender, resolver, "setName(bytes32,string)", reverse, name)
    evm.transact(sender, registry, "setResolver(bytes32,address)", forward, resolver)
    evm.transact(sender, resolver, "setAddr(bytes32,address)", forward, forward_to)


def chain_env(world: World, **overrides: str) -> dict[str, str]:
    """The environment of a service talking to both test chains (strings, as deployed)."""
    queues = [
        {"name": "whales", "chainId": CHAIN, "standard": "erc20", "token": world.token,
         "minimum": str(500 * ETHER)},
        {"name": "collectors", "chainId": CHAIN, "standard": "erc721", "token": world.nft},
        {"name": "seven", "chainId": CHAIN, "standard": "erc721", "token": world.nft,
         "tokenId": 7},
        {"name": "pass", "chainId": CHAIN, "standard": "erc1155", "token": world.multi,
         "tokenId": "3", "minimum": 2},
    ]  # fmt: skip
    env = {
        "RPC_URLS": f"{CHAIN}={world.evm.url},{OTHER_CHAIN}={world.other.url}",
        "TOKENS": f"{CHAIN}={world.token};{world.usd}",
        "GATED_QUEUES": json.dumps(queues),
        "TIP_CONFIRMATIONS": "1",
        "ENS_CHAIN_ID": str(CHAIN),
        "ENS_REGISTRY": world.registry,
        "RPC_RETRIES": "1",
        "RPC_BREAKER_THRESHOLD": "2",
    }
    return env | overrides


@pytest.fixture
def settings(world: World) -> ChainSettings:
    """Settings read from a real environment mapping."""
    return ChainSettings.from_env(chain_env(world))


@pytest.fixture
async def service(settings: ChainSettings) -> AsyncIterator[ChainService]:
    """A real service on the test chains."""
    svc = ChainService.create(settings)
    yield svc
    await svc.aclose()
