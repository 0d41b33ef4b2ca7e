"""Frame-level checks of RFC 6455 that picows leaves to us, pure and cheap.

picows parses frames but does not judge them: it hands over binary frames, frames with RSV
bits set, and text whose bytes are not UTF-8. Each of these must fail the connection:

- RSV1-3 set with no extension negotiated (we negotiate none): 1002 (RFC 6455 §5.2).
- a binary frame: this protocol is JSON text only, so 1003 "cannot accept" (§7.4.1).
- a new data frame while a fragmented message is unfinished: 1002 (§5.4).
- a text message whose payload is not valid UTF-8: 1007 (§8.1). Relaying it would make the
  peer's client fail *its* connection, letting one user knock the other offline.

The checks return the peer's error (its close code comes from :func:`roulette.errors.close_code`)
or ``None``; the connection closes. UTF-8 is checked on whole messages (fragments are joined
first, at most 64 KiB), with ``bytes.decode`` — C code with an ASCII fast path; its cost per
message is measured in ``benchmarks/bench_frames.py`` and quoted in docs/protocol.md.
"""

from __future__ import annotations

from typing import Final

from picows import WSFrame, WSMsgType

from roulette.errors import InvalidPayload, PeerError, ProtocolError, UnsupportedData

__all__ = ["frame_fault", "text_fault"]

_BINARY_TYPE: Final = WSMsgType.BINARY
_TEXT_TYPE: Final = WSMsgType.TEXT


def frame_fault(frame: WSFrame, assembling: bool) -> PeerError | None:
    """The fault of one incoming frame (any opcode), or None when it may be processed.

    Args:
        frame: the frame as picows parsed it.
        assembling: True while the first fragments of a message wait for a continuation.
    """
    if frame.rsv1 or frame.rsv2 or frame.rsv3:
        return ProtocolError("RSV bit set but no extension was negotiated")
    kind = frame.msg_type
    if kind is _BINARY_TYPE:
        return UnsupportedData("binary frames are not accepted; send text")
    if kind is _TEXT_TYPE and assembling:
        return ProtocolError("new message inside a fragmented one")
    return None


def text_fault(payload: bytes) -> PeerError | None:
    """The fault of a whole text message: None when it is valid UTF-8 (RFC 3629)."""
    if payload.isascii():  # ASCII is UTF-8; the common case, checked without building a str
        return None
    try:
        payload.decode()
    except UnicodeDecodeError:
        return InvalidPayload("text frame is not valid UTF-8")
    return None
