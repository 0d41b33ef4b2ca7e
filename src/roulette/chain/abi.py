"""Call data and return values of the contract functions we read, encoded by ``eth_abi``.

Pure: bytes in, bytes or values out. Each function cites the standard that defines it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError

from roulette.auth.address import keccak256, to_checksum_address
from roulette.identity import Address

__all__ = [
    "EIP1271_MAGIC_VALUE",
    "EIP6492_SUFFIX",
    "TRANSFER_TOPIC",
    "AbiError",
    "LogEntry",
    "Transfer",
    "call_data",
    "decode_address",
    "decode_bytes4",
    "decode_string",
    "decode_symbol",
    "decode_uint",
    "erc20_transfers",
    "selector",
]

EIP1271_MAGIC_VALUE = bytes.fromhex("1626ba7e")
"""EIP-1271: ``bytes4(keccak256("isValidSignature(bytes32,bytes)"))``, a valid signature."""

EIP6492_SUFFIX = bytes.fromhex("6492" * 16)
"""EIP-6492: the 32 bytes that end a signature wrapped for a not-yet-deployed wallet."""

TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
"""topic0 of EIP-20's ``Transfer``; EIP-721's has the same signature (and 4 topics)."""


class AbiError(ValueError):
    """A contract answered bytes that do not decode as the expected types."""


def selector(signature: str) -> bytes:
    """The 4-byte function selector: the first bytes of keccak256 of the signature."""
    return keccak256(signature.encode("ascii"))[:4]


def call_data(signature: str, *args: Any) -> bytes:
    """ABI-encode a call, e.g. ``call_data("balanceOf(address)", holder)``.

    Args:
        signature: the canonical signature ``name(type,…)``.
        args: the arguments, in order.

    Returns:
        The selector followed by the encoded arguments.
    """
    types = signature[signature.index("(") + 1 : -1]
    arg_types = [t for t in types.split(",") if t]
    return selector(signature) + encode(arg_types, list(args))


def _decode_one(abi_type: str, data: bytes) -> Any:
    try:
        return decode([abi_type], data)[0]
    except (DecodingError, OverflowError, ValueError) as exc:
        raise AbiError(f"cannot decode {abi_type} from {len(data)} bytes") from exc


def decode_uint(data: bytes) -> int:
    """A ``uint256`` return value (EIP-20 ``balanceOf``, ``decimals``; EIP-1155 ``balanceOf``)."""
    value: int = _decode_one("uint256", data)
    return value


def decode_address(data: bytes) -> Address:
    """An ``address`` return value (EIP-721 ``ownerOf``, EIP-137 ``resolver``/``addr``)."""
    value: str = _decode_one("address", data)
    return to_checksum_address(value)


def decode_string(data: bytes) -> str:
    """A ``string`` return value (EIP-181 ``name``)."""
    value: str = _decode_one("string", data)
    return value


def decode_symbol(data: bytes) -> str:
    """An EIP-20 ``symbol()``: a ``string``, or a ``bytes32`` for a few early tokens (MKR)."""
    if len(data) == 32:
        return data.rstrip(b"\x00").decode("utf-8", errors="replace")
    return decode_string(data)


def decode_bytes4(data: bytes) -> bytes:
    """A ``bytes4`` return value (EIP-1271 ``isValidSignature``)."""
    value: bytes = _decode_one("bytes4", data)
    return value


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event log of a transaction receipt."""

    address: Address
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Transfer:
    """An EIP-20 ``Transfer(from, to, value)`` emitted by ``token``."""

    token: Address
    sender: Address
    recipient: Address
    amount: int


def erc20_transfers(logs: tuple[LogEntry, ...]) -> list[Transfer]:
    """The EIP-20 transfers among ``logs``, in order.

    An EIP-721 ``Transfer`` shares topic0 but indexes its third argument (4 topics, empty
    data); it is skipped, so that moving an NFT never counts as paying an amount.
    """
    transfers = []
    for log in logs:
        if len(log.topics) != 3 or log.topics[0] != TRANSFER_TOPIC or len(log.data) != 32:
            continue
        transfers.append(
            Transfer(
                token=log.address,
                sender=_topic_address(log.topics[1]),
                recipient=_topic_address(log.topics[2]),
                amount=int.from_bytes(log.data, "big"),
            )
        )
    return transfers


def _topic_address(topic: bytes) -> Address:
    # An indexed address is left-padded to 32 bytes.
    return to_checksum_address("0x" + topic[-20:].hex())
