"""Token gates: which call asks the chain what a wallet holds, and whether that is enough."""

from __future__ import annotations

from roulette.chain.abi import call_data, decode_address, decode_uint
from roulette.chain.settings import GatedQueue, TokenStandard
from roulette.identity import Address

__all__ = ["gate_call", "is_gate_met"]


def gate_call(queue: GatedQueue, holder: Address) -> bytes:
    """The ``eth_call`` data to send to ``queue.token`` for ``holder``.

    - EIP-20: ``balanceOf(holder)``.
    - EIP-721: ``ownerOf(tokenId)`` when the gate names a token, else ``balanceOf(holder)``.
    - EIP-1155: ``balanceOf(holder, id)``.
    """
    if queue.standard is TokenStandard.ERC1155:
        return call_data("balanceOf(address,uint256)", holder, queue.token_id)
    if queue.standard is TokenStandard.ERC721 and queue.token_id is not None:
        return call_data("ownerOf(uint256)", queue.token_id)
    return call_data("balanceOf(address)", holder)


def is_gate_met(queue: GatedQueue, holder: Address, answer: bytes | None) -> bool:
    """Whether the answer to :func:`gate_call` admits ``holder``.

    Args:
        queue: the gate.
        holder: the wallet joining.
        answer: the call's return data, or None when the call reverted (EIP-721
            ``ownerOf`` reverts for a token that does not exist: nobody holds it).

    Returns:
        True when ``holder`` holds at least ``queue.minimum`` (or owns the named EIP-721 token).

    Raises:
        AbiError: the answer does not decode (a token contract of another standard).
    """
    if answer is None:
        return False
    if queue.standard is TokenStandard.ERC721 and queue.token_id is not None:
        return decode_address(answer) == holder
    return decode_uint(answer) >= queue.minimum
