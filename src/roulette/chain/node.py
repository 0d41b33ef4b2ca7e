"""Thin typed wrappers of the ``eth_*`` methods we use, over the JSON-RPC client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roulette.chain.rpc import RpcClient, RpcError
from roulette.errors import Unavailable
from roulette.identity import Address

__all__ = [
    "CallResult",
    "call_params",
    "eth_call",
    "eth_calls",
    "is_revert",
    "to_bytes",
    "to_int",
]

CallResult = bytes | None
"""The return data of an ``eth_call``, or None when the call reverted."""

# A revert is JSON-RPC error 3 (EIP-1474 / EIP-140 "execution reverted") on most clients, and
# -32000 with "revert" in the message on older ones.
_REVERT_CODE = 3


def is_revert(error: RpcError) -> bool:
    """True when the error means the called contract reverted (an answer, not an outage)."""
    return error.code == _REVERT_CODE or "revert" in error.message.lower()


def call_params(to: Address | None, data: bytes, block: str = "latest") -> list[Any]:
    """The params of ``eth_call``; no ``to`` runs ``data`` as creation code (deployless)."""
    request: dict[str, str] = {"data": "0x" + data.hex()}
    if to is not None:
        request["to"] = to
    return [request, block]


def to_bytes(result: Any) -> bytes:
    """A ``0x…`` hex string from the node, as bytes.

    Raises:
        Unavailable: the node answered something else (a broken endpoint).
    """
    if not isinstance(result, str) or not result.startswith("0x"):
        raise Unavailable("the RPC endpoint gave a malformed answer", code="rpc_unavailable")
    try:
        return bytes.fromhex(result[2:])
    except ValueError:
        raise Unavailable(
            "the RPC endpoint gave a malformed answer", code="rpc_unavailable"
        ) from None


def to_int(result: Any) -> int:
    """A ``0x…`` quantity from the node (``eth_getBalance``, ``eth_blockNumber``), as an int.

    Raises:
        Unavailable: the node answered something else (a broken endpoint).
    """
    try:
        if isinstance(result, str) and result.startswith("0x"):
            return int(result, 16)
    except ValueError:
        pass
    raise Unavailable("the RPC endpoint gave a malformed answer", code="rpc_unavailable")


def _settle(result: Any) -> CallResult:
    if isinstance(result, RpcError):
        if is_revert(result):
            return None
        raise Unavailable(f"the RPC endpoint refused a call: {result}", code="rpc_unavailable")
    return to_bytes(result)


async def eth_call(rpc: RpcClient, chain_id: int, to: Address | None, data: bytes) -> CallResult:
    """One ``eth_call`` at the latest block.

    Raises:
        Unavailable: ``rpc_unavailable``.
    """
    (result,) = await rpc.batch(chain_id, [("eth_call", call_params(to, data))])
    return _settle(result)


async def eth_calls(
    rpc: RpcClient, chain_id: int, calls: Sequence[tuple[Address, bytes]]
) -> list[CallResult]:
    """Several ``eth_call``s in one JSON-RPC batch, results in order.

    Raises:
        Unavailable: ``rpc_unavailable``.
    """
    results = await rpc.batch(chain_id, [("eth_call", call_params(to, d)) for to, d in calls])
    return [_settle(result) for result in results]
