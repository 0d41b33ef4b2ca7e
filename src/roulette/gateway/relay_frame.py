"""The frame a relayed signal goes out as, without encoding it again for every message.

A relayed ``offer``, ``answer`` or ``ice-candidate`` goes to the peer as
``{"type", "sessionId", "from", "data"}`` (:class:`~roulette.protocol.messages.RelayOut`).
Everything before ``data`` is the same for every message of one kind in one session from one
sender, and ``data`` is the JSON the sender sent, already validated by the decoder
(:class:`msgspec.Raw`: kept as it came). So the frame is a cached head, the data, and ``}``:
the same bytes the encoder makes (a test holds the two together), at the cost of one join.
"""

from __future__ import annotations

from typing import Final

from roulette.protocol import messages as m

__all__ = ["relay_head"]

_TAIL: Final = b"null}"
"""How an encoded :class:`~roulette.protocol.messages.RelayOut` with no data ends."""


def relay_head(kind: str, session_id: str, sender: str) -> bytes:
    """The bytes of a relayed frame before its data: ``head + data + b"}"`` is the frame."""
    encoded = m.encode(m.RelayOut(type=kind, sessionId=session_id, sender=sender))
    if not encoded.endswith(_TAIL):  # data is the last field: RelayOut's order is the wire's
        raise AssertionError(f"RelayOut no longer ends with its data: {encoded!r}")
    return encoded[: -len(_TAIL)]
