"""Test helper: build EIP-4361 messages and sign them with real eth-account wallets.

Other test packages use it to sign in exactly as a browser wallet would (EIP-191 personal_sign).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

__all__ = ["DEFAULT_DOMAIN", "DEFAULT_STATEMENT", "build_message", "format_time", "sign"]

DEFAULT_DOMAIN = "localhost:3001"
"""The service's default ``SIWE_DOMAIN``."""
DEFAULT_STATEMENT = "Sign in to Web3 Chat Roulette."


def format_time(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime, ``Z`` for UTC (as siwe-js writes it)."""
    if moment.tzinfo is None:
        raise ValueError("EIP-4361 timestamps need a time zone")
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if moment.utcoffset() == timedelta(0) else text


def build_message(
    address: str,
    *,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    statement: str | None = DEFAULT_STATEMENT,
    expiration_time: datetime | None = None,
    not_before: datetime | None = None,
    request_id: str | None = None,
    resources: Sequence[str] | None = None,
    scheme: str | None = None,
    version: str = "1",
) -> str:
    """The EIP-4361 text of a sign-in message, in the ABNF's exact layout.

    Without a statement the address is followed by two blank lines, as the ABNF's
    ``LF [ statement LF ] LF`` (and siwe-js 2.x) writes it.
    """
    header = f"{scheme}://{domain}" if scheme else domain
    lines = [f"{header} wants you to sign in with your Ethereum account:", address, ""]
    lines += [statement, ""] if statement else [""]
    lines += [
        f"URI: {uri}",
        f"Version: {version}",
        f"Chain ID: {chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {format_time(issued_at)}",
    ]
    if expiration_time is not None:
        lines.append(f"Expiration Time: {format_time(expiration_time)}")
    if not_before is not None:
        lines.append(f"Not Before: {format_time(not_before)}")
    if request_id is not None:
        lines.append(f"Request ID: {request_id}")
    if resources is not None:
        lines.append("Resources:")
        lines += [f"- {resource}" for resource in resources]
    return "\n".join(lines)


def sign(account: LocalAccount, message: str) -> str:
    """The ``0x``-prefixed 65-byte personal_sign signature of ``message`` (v is 27 or 28)."""
    signed = account.sign_message(encode_defunct(text=message))
    return "0x" + bytes(signed.signature).hex()
