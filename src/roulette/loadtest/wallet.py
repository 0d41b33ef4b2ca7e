"""Virtual users' wallets: secp256k1 keys, EIP-55 addresses and EIP-191 ``personal_sign``.

Pure: keys come from an injected ``random.Random`` (a load test needs many cheap, reproducible
wallets, not secret ones), and the EIP-4361 text is built from arguments only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from coincurve import PrivateKey

from roulette.auth.address import address_from_public_key
from roulette.auth.signature import personal_message_hash

__all__ = ["SIGN_IN_STATEMENT", "Wallet", "siwe_message"]

SIGN_IN_STATEMENT = "Sign in to Web3 Chat Roulette."

# secp256k1's group order: a private key is a scalar in [1, n - 1] (SEC 2 §2.4.1).
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class Wallet:
    """An Ethereum key pair, as an eth-account ``LocalAccount`` would hold it.

    Attributes:
        key: the 32-byte private key.
        address: the EIP-55 checksummed address of its public key.
    """

    key: bytes
    address: str

    @classmethod
    def generate(cls, rng: random.Random) -> Wallet:
        """A new wallet whose key is drawn from ``rng``.

        Args:
            rng: the randomness source (seeded for reproducible runs).

        Returns:
            The wallet.
        """
        while True:
            key = rng.randbytes(32)
            if 0 < int.from_bytes(key, "big") < _CURVE_ORDER:
                break
        public = PrivateKey(key).public_key.format(compressed=False)
        return cls(key=key, address=address_from_public_key(public))

    def sign_personal(self, message: str) -> str:
        """EIP-191 ``personal_sign`` of ``message``, as wallets return it.

        Args:
            message: the text shown to the user (UTF-8 encoded before hashing).

        Returns:
            ``0x`` + r (32 bytes) + s (32 bytes) + v (27 or 28), in hex.
        """
        digest = personal_message_hash(message.encode("utf-8"))
        signature = PrivateKey(self.key).sign_recoverable(digest, hasher=None)
        return "0x" + (signature[:64] + bytes((signature[64] + 27,))).hex()


def siwe_message(
    address: str,
    *,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    statement: str = SIGN_IN_STATEMENT,
) -> str:
    """The EIP-4361 text of a sign-in message, in the ABNF's exact layout.

    Args:
        address: the signer's checksummed address.
        domain: the service's ``SIWE_DOMAIN`` (``GET /config`` → ``siweDomain``).
        uri: the service origin (must lie within ``http(s)://`` + domain).
        chain_id: the chain the user signs in with.
        nonce: a fresh nonce from ``GET /auth/siwe/nonce``.
        issued_at: an aware datetime, written in RFC 3339 with ``Z`` for UTC.
        statement: the human-readable line (free text; the server does not check it).

    Returns:
        The message text, its lines joined with line feeds.
    """
    issued = issued_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return "\n".join(
        [
            f"{domain} wants you to sign in with your Ethereum account:",
            address,
            "",
            statement,
            "",
            f"URI: {uri}",
            "Version: 1",
            f"Chain ID: {chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {issued}",
        ]
    )
