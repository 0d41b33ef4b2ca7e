"""The on-chain settings: RPC endpoints, tokens, gated queues, tip rules and cache lifetimes.

Built once by :meth:`ChainSettings.from_env` (``config.py`` hands it the environment); every
error names the variable and its value.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from roulette.auth.address import to_checksum_address
from roulette.envvars import EnvReader, int_at_least, nonnegative, positive
from roulette.errors import BadRequest, ConfigError
from roulette.identity import Address
from roulette.redaction import masked_repr

__all__ = ["ENS_REGISTRY", "ChainSettings", "GatedQueue", "TokenStandard"]

T = TypeVar("T")

ENS_REGISTRY = Address("0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e")
"""The EIP-137 registry, at the same address on mainnet and its test networks."""


class TokenStandard(enum.Enum):
    """The token standards a queue may be gated on."""

    ERC20 = "erc20"
    ERC721 = "erc721"
    ERC1155 = "erc1155"


@dataclass(frozen=True, slots=True)
class GatedQueue:
    """A named queue that only holders may enter.

    Attributes:
        name: the ``queue`` of ``join-queue``.
        chain_id: where the token lives.
        standard: EIP-20, EIP-721 or EIP-1155.
        token: the token contract.
        token_id: EIP-1155: required; EIP-721: a specific token to own (None: any of them).
        minimum: the least amount held, in the token's base units (EIP-721: a count).
    """

    name: str
    chain_id: int
    standard: TokenStandard
    token: Address
    token_id: int | None
    minimum: int


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """Everything the chain package needs; build it with :meth:`from_env`."""

    rpc_urls: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    tokens: Mapping[int, tuple[Address, ...]] = field(default_factory=dict)
    gated_queues: Mapping[str, GatedQueue] = field(default_factory=dict)
    tip_confirmations: int = 2
    tip_window_seconds: float = 300.0
    tip_pending_timeout_seconds: float = 3600.0
    balance_cache_seconds: float = 30.0
    gate_cache_seconds: float = 30.0
    ens_cache_seconds: float = 900.0
    ens_chain_id: int = 1
    ens_registry: Address = ENS_REGISTRY
    rpc_timeout_seconds: float = 5.0
    rpc_retries: int = 2
    rpc_backoff_seconds: float = 0.1
    rpc_batch_max: int = 50
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    contract_sig_burst: int = 5
    contract_sig_per_minute: float = 10.0

    def __repr__(self) -> str:
        """The settings, each RPC URL shown as scheme and host only (keys hide in paths)."""
        return masked_repr(self)

    @property
    def chain_ids(self) -> tuple[int, ...]:
        """The chains with an RPC endpoint, in ascending order."""
        return tuple(sorted(self.rpc_urls))

    def has_chain(self, chain_id: int) -> bool:
        """True when ``chain_id`` has at least one RPC endpoint."""
        return chain_id in self.rpc_urls

    def queue(self, name: str) -> GatedQueue:
        """The gated queue called ``name``.

        Raises:
            BadRequest: ``unknown_queue``.
        """
        try:
            return self.gated_queues[name]
        except KeyError:
            raise BadRequest(f"no queue is called {name!r}", code="unknown_queue") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChainSettings:
        """Read the settings from ``env`` (unset variables keep their defaults).

        Raises:
            ConfigError: a variable is malformed, or a token or queue names a chain without
                an RPC endpoint; the message names the variable and its value.
        """
        e = EnvReader(env)
        no_urls: dict[int, tuple[str, ...]] = {}
        no_tokens: dict[int, tuple[Address, ...]] = {}
        no_queues: dict[str, GatedQueue] = {}
        settings = cls(
            rpc_urls=e.get("RPC_URLS", _rpc_urls, no_urls),
            tokens=e.get("TOKENS", _tokens, no_tokens),
            gated_queues=e.get("GATED_QUEUES", _gated_queues, no_queues),
            tip_confirmations=e.get("TIP_CONFIRMATIONS", int_at_least(1), 2),
            tip_window_seconds=e.get("TIP_WINDOW_SECONDS", nonnegative, 300.0),
            tip_pending_timeout_seconds=e.get("TIP_PENDING_TIMEOUT_SECONDS", nonnegative, 3600.0),
            balance_cache_seconds=e.get("BALANCE_CACHE_SECONDS", nonnegative, 30.0),
            gate_cache_seconds=e.get("GATE_CACHE_SECONDS", nonnegative, 30.0),
            ens_cache_seconds=e.get("ENS_CACHE_SECONDS", nonnegative, 900.0),
            ens_chain_id=e.get("ENS_CHAIN_ID", int_at_least(1), 1),
            ens_registry=e.get("ENS_REGISTRY", _address, ENS_REGISTRY),
            rpc_timeout_seconds=e.get("RPC_TIMEOUT_SECONDS", positive, 5.0),
            rpc_retries=e.get("RPC_RETRIES", int_at_least(0), 2),
            rpc_batch_max=e.get("RPC_BATCH_MAX", int_at_least(1), 50),
            breaker_threshold=e.get("RPC_BREAKER_THRESHOLD", int_at_least(1), 5),
            breaker_reset_seconds=e.get("RPC_BREAKER_RESET_SECONDS", positive, 30.0),
            contract_sig_burst=e.get("CONTRACT_SIG_BURST", int_at_least(1), 5),
            contract_sig_per_minute=e.get("CONTRACT_SIG_PER_MINUTE", positive, 10.0),
        )
        _check_chains(settings, env)
        return settings


def _check_chains(settings: ChainSettings, env: Mapping[str, str]) -> None:
    for chain_id in settings.tokens:
        if not settings.has_chain(chain_id):
            raise ConfigError(
                f"TOKENS={env.get('TOKENS')!r} is invalid: chain {chain_id} has no RPC_URLS entry"
            )
    for queue in settings.gated_queues.values():
        if not settings.has_chain(queue.chain_id):
            raise ConfigError(
                f"GATED_QUEUES={env.get('GATED_QUEUES')!r} is invalid: queue {queue.name!r} "
                f"is on chain {queue.chain_id}, which has no RPC_URLS entry"
            )


def _address(raw: str) -> Address:
    return to_checksum_address(raw)


def _pairs(raw: str) -> list[tuple[int, str]]:
    """``1=a,8453=b`` → ``[(1, "a"), (8453, "b")]``."""
    pairs = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        chain, sep, value = part.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{part!r} is not CHAIN_ID=VALUE")
        pairs.append((int_at_least(1)(chain.strip()), value.strip()))
    return pairs


def _rpc_urls(raw: str) -> dict[int, tuple[str, ...]]:
    """``1=https://a,1=https://b,8453=https://c``: a repeated chain id adds a fallback."""
    urls: dict[int, tuple[str, ...]] = {}
    for chain_id, url in _pairs(raw):
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        urls[chain_id] = (*urls.get(chain_id, ()), url)
    return urls


def _tokens(raw: str) -> dict[int, tuple[Address, ...]]:
    """``1=0xA…;0xB…,8453=0xC…``: EIP-20 token addresses per chain."""
    tokens: dict[int, tuple[Address, ...]] = {}
    for chain_id, value in _pairs(raw):
        addresses = tuple(_address(a.strip()) for a in value.split(";") if a.strip())
        tokens[chain_id] = tuple(dict.fromkeys((*tokens.get(chain_id, ()), *addresses)))
    return tokens


def _gated_queues(raw: str) -> dict[str, GatedQueue]:
    """A JSON list of ``{name, chainId, standard, token, tokenId?, minimum?}`` objects."""
    items = json.loads(raw)
    if not isinstance(items, list):
        raise ValueError("expected a JSON list of queue objects")
    queues: dict[str, GatedQueue] = {}
    for item in items:
        queue = _gated_queue(item)
        if queue.name in queues:
            raise ValueError(f"queue {queue.name!r} is defined twice")
        queues[queue.name] = queue
    return queues


def _gated_queue(item: Any) -> GatedQueue:
    if not isinstance(item, dict):
        raise ValueError("each queue is a JSON object")
    name = item["name"]
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise ValueError("a queue name is a string of 1..64 characters")
    standard = TokenStandard(str(item["standard"]).lower())
    token_id = None if item.get("tokenId") is None else _uint(item["tokenId"])
    if standard is TokenStandard.ERC1155 and token_id is None:
        raise ValueError(f"queue {name!r}: an erc1155 gate needs a tokenId")
    if standard is TokenStandard.ERC20 and token_id is not None:
        raise ValueError(f"queue {name!r}: an erc20 gate has no tokenId")
    minimum = _uint(item.get("minimum", 1))
    if minimum < 1:
        raise ValueError(f"queue {name!r}: minimum must be >= 1")
    return GatedQueue(
        name=name,
        chain_id=int_at_least(1)(str(item["chainId"])),
        standard=standard,
        token=_address(str(item["token"])),
        token_id=token_id,
        minimum=minimum,
    )


def _uint(value: Any) -> int:
    """An unsigned integer given as a JSON number or a decimal string (uint256 overflows JS)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not an integer")
    number = int(value)
    if not 0 <= number < 2**256:
        raise ValueError(f"{value!r} is not a uint256")
    return number
