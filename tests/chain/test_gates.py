"""Gate rules as pure functions: which call is made, and what answer admits."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode

from roulette.chain.abi import AbiError, call_data
from roulette.chain.gates import gate_call, is_gate_met
from roulette.chain.settings import GatedQueue, TokenStandard
from roulette.identity import Address

HOLDER = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
OTHER = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
TOKEN = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")

ERC20 = GatedQueue("q", 1, TokenStandard.ERC20, TOKEN, None, 100)
ERC721_ANY = GatedQueue("q", 1, TokenStandard.ERC721, TOKEN, None, 2)
ERC721_ONE = GatedQueue("q", 1, TokenStandard.ERC721, TOKEN, 7, 1)
ERC1155 = GatedQueue("q", 1, TokenStandard.ERC1155, TOKEN, 3, 5)


def _uint(value: int) -> bytes:
    return encode(["uint256"], [value])


def test_each_standard_asks_its_own_question() -> None:
    assert gate_call(ERC20, HOLDER) == call_data("balanceOf(address)", HOLDER)
    assert gate_call(ERC721_ANY, HOLDER) == call_data("balanceOf(address)", HOLDER)
    assert gate_call(ERC721_ONE, HOLDER) == call_data("ownerOf(uint256)", 7)
    assert gate_call(ERC1155, HOLDER) == call_data("balanceOf(address,uint256)", HOLDER, 3)


@pytest.mark.parametrize(
    ("queue", "answer", "met"),
    [
        (ERC20, _uint(100), True),
        (ERC20, _uint(99), False),
        (ERC721_ANY, _uint(2), True),
        (ERC721_ANY, _uint(1), False),
        (ERC721_ONE, encode(["address"], [HOLDER]), True),
        (ERC721_ONE, encode(["address"], [OTHER]), False),
        (ERC721_ONE, None, False),
        (ERC1155, _uint(5), True),
        (ERC1155, _uint(4), False),
    ],
)
def test_the_answer_decides(queue: GatedQueue, answer: bytes | None, met: bool) -> None:
    assert is_gate_met(queue, HOLDER, answer) is met


def test_an_answer_of_the_wrong_shape_is_an_abi_error() -> None:
    with pytest.raises(AbiError):
        is_gate_met(ERC20, HOLDER, b"\x01\x02")
