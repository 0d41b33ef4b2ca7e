"""Sign-In with Ethereum throughput on one core: full verification vs its secp256k1 floor.

Run: ``.venv/bin/python benchmarks/bench_siwe.py``. Prints one JSON object: operations per
second and microseconds per operation for ``verify_sign_in``, raw coincurve public-key recovery
(the limit: verification can never beat it), and parsing alone; and the ratio ours/raw.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from roulette.auth import SiweRules, parse_message, personal_message_hash, verify_sign_in  # noqa: E402

DOMAIN = "localhost:3001"
ISSUED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MESSAGES = 64
ROUNDS = 3
SECONDS_PER_ROUND = 1.0


def _message(address: str, index: int) -> str:
    # The layout of tests/auth/siwe_wallet.py, written out so the script stands alone.
    return "\n".join(
        [
            f"{DOMAIN} wants you to sign in with your Ethereum account:",
            address,
            "",
            "Sign in to Web3 Chat Roulette.",
            "",
            f"URI: http://{DOMAIN}",
            "Version: 1",
            "Chain ID: 1",
            f"Nonce: {index:08d}AbCdEfGhIjKlMn",
            f"Issued At: {ISSUED.isoformat().replace('+00:00', 'Z')}",
        ]
    )


def _signed_messages() -> list[tuple[str, str]]:
    signed = []
    for index in range(MESSAGES):
        account = Account.from_key((index + 1).to_bytes(32, "big"))
        text = _message(account.address, index)
        signature = account.sign_message(encode_defunct(text=text)).signature
        signed.append((text, "0x" + bytes(signature).hex()))
    return signed


def _measure(operation: Callable[[Any], object], inputs: Sequence[Any]) -> dict[str, float]:
    """Best of a few timed rounds, each cycling through ``inputs`` for about a second."""
    best = 0.0
    for _ in range(ROUNDS):
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < SECONDS_PER_ROUND:
            for item in inputs:
                operation(item)
            done += len(inputs)
        best = max(best, done / elapsed)
    return {"ops_per_s": round(best, 1), "us_per_op": round(1e6 / best, 2)}


def _siwe_package_reference(texts: Sequence[str]) -> dict[str, float] | None:
    """The ``siwe`` package's ABNF parser, when installed (it is not a dependency)."""
    if importlib.util.find_spec("siwe") is None:
        return None
    try:
        from siwe import SiweMessage  # type: ignore[import-not-found]  # noqa: PLC0415

        return _measure(lambda text: SiweMessage.from_message(message=text), texts[:8])
    except Exception:  # noqa: BLE001  # an optional reference must never sink the benchmark
        return None


def main() -> None:
    """Measure and print the JSON report."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    signed = _signed_messages()
    texts = [text for text, _ in signed]
    rules = SiweRules(domain=DOMAIN, chain_ids=frozenset({1}))
    now = ISSUED.timestamp() + 10
    recoverable = [
        (
            bytes.fromhex(signature[2 : 66 + 64]) + bytes((int(signature[-2:], 16) - 27,)),
            personal_message_hash(text.encode()),
        )
        for text, signature in signed
    ]

    verify = _measure(lambda pair: verify_sign_in(pair[0], pair[1], rules, now=now), signed)
    raw = _measure(
        lambda pair: PublicKey.from_signature_and_message(pair[0], pair[1], hasher=None),
        recoverable,
    )
    parse = _measure(parse_message, texts)
    report = {
        "benchmark": "siwe",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cores_used": 1,
        "distinct_messages": MESSAGES,
        "message_bytes": len(texts[0].encode()),
        "verify_sign_in": verify,
        "raw_coincurve_recovery": raw,
        "parse_only": parse,
        "ratio_ours_to_raw": round(verify["ops_per_s"] / raw["ops_per_s"], 3),
        "siwe_package_parse": _siwe_package_reference(texts),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
