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
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct

from roulette.auth import SiweRules, parse_message, personal_message_hash, verify_sign_in

DOMAIN = "localhost:3001"
ISSUED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MESSAGES = 64
ROUNDS = 6
SECONDS_PER_ROUND = 0.5


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


def _rate(operation: Callable[[Any], object], inputs: Sequence[Any]) -> float:
    """Operations per second over one timed round cycling through ``inputs``."""
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < SECONDS_PER_ROUND:
        for item in inputs:
            operation(item)
        done += len(inputs)
    return done / elapsed


def _measure_all(
    cases: dict[str, tuple[Callable[[Any], object], Sequence[Any]]],
) -> dict[str, dict[str, float]]:
    """Best round of each case; rounds are interleaved so a burst of load elsewhere on
    the machine hits every case alike instead of skewing the ratio."""
    best = dict.fromkeys(cases, 0.0)
    for _ in range(ROUNDS):
        for name, (operation, inputs) in cases.items():
            best[name] = max(best[name], _rate(operation, inputs))
    return {
        name: {"ops_per_s": round(rate, 1), "us_per_op": round(1e6 / rate, 2)}
        for name, rate in best.items()
    }


def _siwe_package_reference(texts: Sequence[str]) -> dict[str, float] | None:
    """The ``siwe`` package's ABNF parser, when installed (it is not a dependency)."""
    if importlib.util.find_spec("siwe") is None:
        return None
    try:
        from siwe import SiweMessage  # type: ignore[import-not-found]

        parse = (lambda text: SiweMessage.from_message(message=text), texts[:8])
        return _measure_all({"parse": parse})["parse"]
    except Exception:  # an optional reference must never sink the benchmark
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
            bytes.fromhex(signature[2:130]) + bytes((int(signature[-2:], 16) - 27,)),
            personal_message_hash(text.encode()),
        )
        for text, signature in signed
    ]

    results = _measure_all(
        {
            "verify_sign_in": (
                lambda pair: verify_sign_in(pair[0], pair[1], rules, now=now),
                signed,
            ),
            "raw_coincurve_recovery": (
                lambda pair: PublicKey.from_signature_and_message(pair[0], pair[1], hasher=None),
                recoverable,
            ),
            "parse_only": (parse_message, texts),
        }
    )
    verify, raw = results["verify_sign_in"], results["raw_coincurve_recovery"]
    report = {
        "benchmark": "siwe",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cores_used": 1,
        "distinct_messages": MESSAGES,
        "message_bytes": len(texts[0].encode()),
        **results,
        "ratio_ours_to_raw": round(verify["ops_per_s"] / raw["ops_per_s"], 3),
        "siwe_package_parse": _siwe_package_reference(texts),
        # The machine is shared: a load above the core count means the numbers are low.
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
