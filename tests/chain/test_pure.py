"""The pure parts of the chain package: ABI helpers, amounts, caches, backoff, rate limit, ENS."""

from __future__ import annotations

import random

import pytest
from eth_abi.abi import encode

from roulette.chain.abi import (
    TRANSFER_TOPIC,
    AbiError,
    LogEntry,
    Transfer,
    call_data,
    decode_symbol,
    decode_uint,
    erc20_transfers,
    selector,
)
from roulette.chain.amounts import format_units
from roulette.chain.cache import TtlCache
from roulette.chain.ens import is_displayable, namehash, reverse_node
from roulette.chain.policy import backoff_delays
from roulette.chain.signatures import (
    is_6492_wrapped,
    is_valid_1271_answer,
    is_valid_6492_answer,
)
from roulette.identity import Address

A = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
B = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
TOKEN = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")


def test_selectors_match_the_standards() -> None:
    assert selector("transfer(address,uint256)").hex() == "a9059cbb"  # EIP-20
    assert selector("isValidSignature(bytes32,bytes)").hex() == "1626ba7e"  # EIP-1271
    assert call_data("balanceOf(address)", A).hex().startswith("70a08231")


def test_a_symbol_may_be_a_string_or_a_bytes32() -> None:
    assert decode_symbol(encode(["string"], ["TTK"])) == "TTK"
    assert decode_symbol(b"MKR".ljust(32, b"\x00")) == "MKR"


def test_a_short_answer_does_not_decode() -> None:
    with pytest.raises(AbiError):
        decode_uint(b"\x01")


def _topic(address: Address) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_erc20_transfers_are_read_and_erc721_transfers_skipped() -> None:
    erc20 = LogEntry(TOKEN, (TRANSFER_TOPIC, _topic(A), _topic(B)), (5).to_bytes(32, "big"))
    erc721 = LogEntry(TOKEN, (TRANSFER_TOPIC, _topic(A), _topic(B), (7).to_bytes(32, "big")), b"")
    other = LogEntry(TOKEN, (b"\x01" * 32, _topic(A), _topic(B)), (5).to_bytes(32, "big"))

    assert erc20_transfers((erc721, erc20, other)) == [Transfer(TOKEN, A, B, 5)]


@pytest.mark.parametrize(
    ("raw", "decimals", "shown"),
    [
        (0, 18, "0"),
        (1_500_000_000_000_000_000, 18, "1.5"),
        (1, 18, "0.000000000000000001"),
        (2_500_000, 6, "2.5"),
        (42, 0, "42"),
        (
            2**256 - 1,
            18,
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
        ),
    ],
)
def test_amounts_are_formatted_exactly(raw: int, decimals: int, shown: str) -> None:
    assert format_units(raw, decimals) == shown


def test_a_cache_entry_expires_and_the_oldest_is_evicted() -> None:
    cache: TtlCache[str, int] = TtlCache(max_entries=2)
    cache.put("a", 1, now=0.0, ttl=10.0)
    cache.put("b", 2, now=0.0, ttl=1.0)
    cache.put("none", 3, now=0.0, ttl=0.0)

    assert cache.get("a", now=9.9) == 1
    assert cache.get("b", now=1.0) is None
    cache.put("c", 3, now=2.0, ttl=10.0)
    cache.put("d", 4, now=2.0, ttl=10.0)
    assert cache.get("a", now=2.0) is None
    assert len(cache) == 2


def test_backoff_is_jittered_below_a_doubling_capped_bound() -> None:
    delays = backoff_delays(5, base=0.1, cap=0.5, rng=random.Random(1))

    assert len(delays) == 5
    for attempt, delay in enumerate(delays):
        assert 0 <= delay <= min(0.5, 0.1 * 2**attempt)


def test_namehash_matches_eip137() -> None:
    assert namehash("") == bytes(32)
    assert (
        namehash("eth").hex() == "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    )
    assert (
        namehash("foo.eth").hex()
        == "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    )


def test_reverse_node_is_the_lowercase_address_under_addr_reverse() -> None:
    assert reverse_node(A) == namehash(f"{A[2:].lower()}.addr.reverse")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("alice.eth", True),
        ("Alice.eth", False),
        ("alice", False),
        ("alice..eth", False),
        ("al ice.eth", False),
        ("alice.eth\n", False),
        ("a" * 300 + ".eth", False),
        ("\U0001f98a.eth", True),  # an emoji name is normal form (ENSIP-15)
        ("vit\u0430lik.eth", False),  # Cyrillic а among Latin letters: a look-alike
        ("\u0430\u0440\u0440\u04cf\u0435.eth", False),  # "аррӏе": whole-script confusable
        ("ali\u200dce.eth", False),  # an invisible zero-width joiner
        ("xn--alice.eth", False),  # punycode-looking label
        ("ＡＬＩＣＥ.eth", False),  # fullwidth letters normalise to another string
    ],
)
def test_only_plain_names_are_displayable(name: str, shown: bool) -> None:
    assert is_displayable(name) is shown


def test_eip6492_wrapping_is_detected_by_its_suffix() -> None:
    suffix = bytes.fromhex("6492" * 16)

    assert is_6492_wrapped(b"\x01" * 65 + suffix)
    assert not is_6492_wrapped(suffix)
    assert not is_6492_wrapped(b"\x01" * 65)


def test_contract_answers_are_valid_only_when_exact() -> None:
    assert is_valid_1271_answer(bytes.fromhex("1626ba7e") + bytes(28))
    assert not is_valid_1271_answer(bytes.fromhex("ffffffff") + bytes(28))
    assert not is_valid_1271_answer(None)
    assert is_valid_6492_answer(b"\x01")
    assert not is_valid_6492_answer(b"\x00")
    assert not is_valid_6492_answer(None)
