"""Cost of the per-message checks added for issue 10: UTF-8 validation and the nesting scan.

Times, per message, :func:`roulette.gateway.frames.text_fault` (``bytes.decode``), the
nesting scan of :func:`roulette.protocol.messages.nested_deeper_than`, and the whole
:func:`~roulette.protocol.messages.decode_client` they sit in front of, on the relay's real
messages (an ICE candidate, a chat line, an SDP offer) and a 64 KiB worst case.
Usage: ``python benchmarks/bench_frames.py``. Prints one JSON object (nanoseconds per call).
"""

from __future__ import annotations

import json
import platform
import timeit
from collections.abc import Callable

import msgspec

from roulette.gateway.frames import text_fault
from roulette.protocol.messages import MAX_NESTING, decode_client, nested_deeper_than

_SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + (
    "a=candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host generation 0\r\n" * 60
)

MESSAGES: dict[str, bytes] = {
    "ice_candidate": msgspec.json.encode(
        {
            "type": "ice-candidate",
            "sessionId": "abcdefghijklmnop",
            "data": {
                "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host generation 0",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        }
    ),
    "chat": msgspec.json.encode(
        {"type": "chat", "sessionId": "abcdefghijklmnop", "text": "hello there, où es-tu ? 👋"}
    ),
    "offer": msgspec.json.encode(
        {"type": "offer", "sessionId": "abcdefghijklmnop", "data": {"type": "offer", "sdp": _SDP}}
    ),
    # The largest message (64 KiB, all two-byte characters: no ASCII fast path).
    "heartbeat_64kib": msgspec.json.encode({"type": "heartbeat", "pad": "é" * 32_750}),
}


def _ns(call: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(call, number=number, repeat=5))
    return round(best / number * 1e9, 1)


def main() -> None:
    """Print the cost of each check per message kind."""
    results: dict[str, dict[str, float | int]] = {}
    for name, payload in MESSAGES.items():
        number = 2_000 if len(payload) > 10_000 else 50_000
        results[name] = {
            "bytes": len(payload),
            "utf8_ns": _ns(lambda p=payload: text_fault(p), number),  # type: ignore[misc]
            "nesting_ns": _ns(lambda p=payload: nested_deeper_than(p, MAX_NESTING), number),  # type: ignore[misc]
            "decode_client_ns": _ns(lambda p=payload: decode_client(p), number),  # type: ignore[misc]
        }
    print(json.dumps({"python": platform.python_version(), "per_message": results}, indent=2))


if __name__ == "__main__":
    main()
