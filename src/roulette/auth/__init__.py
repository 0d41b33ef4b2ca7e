"""Sign-In with Ethereum and session tokens, as pure functions: no I/O, no clock, no randomness.

Time comes in as ``now`` (Unix seconds) and randomness as an injected callable.
"""

from roulette.auth.address import to_checksum_address
from roulette.auth.nonces import NONCE_TTL_SECONDS, new_nonce
from roulette.auth.signature import personal_message_hash, recover_address
from roulette.auth.siwe import (
    SiweMessage,
    SiweRules,
    check_message,
    parse_message,
    verify_sign_in,
)
from roulette.auth.tokens import TokenClaims, TokenIssuer, TokenKind

__all__ = [
    "NONCE_TTL_SECONDS",
    "SiweMessage",
    "SiweRules",
    "TokenClaims",
    "TokenIssuer",
    "TokenKind",
    "check_message",
    "new_nonce",
    "parse_message",
    "personal_message_hash",
    "recover_address",
    "to_checksum_address",
    "verify_sign_in",
]
