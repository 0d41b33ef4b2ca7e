"""The RFC 6455 frame checks, on frames as picows parses them."""

from __future__ import annotations

from picows import WSMsgType
from picows.picows import _make_test_ws_frame

from roulette.errors import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    close_code,
)
from roulette.gateway.frames import frame_fault, text_fault


def test_clean_text_control_and_continuation_frames_pass() -> None:
    for kind in (WSMsgType.TEXT, WSMsgType.PING, WSMsgType.PONG, WSMsgType.CLOSE):
        assert frame_fault(_make_test_ws_frame(kind, b"{}", True, False), False) is None
    continuation = _make_test_ws_frame(WSMsgType.CONTINUATION, b"x", True, False)
    assert frame_fault(continuation, True) is None


def test_rsv1_binary_and_interleaved_text_are_faults() -> None:
    rsv = frame_fault(_make_test_ws_frame(WSMsgType.TEXT, b"{}", True, True), False)
    assert rsv is not None and close_code(rsv) == CLOSE_PROTOCOL_ERROR
    binary = frame_fault(_make_test_ws_frame(WSMsgType.BINARY, b"{}", True, False), False)
    assert binary is not None and close_code(binary) == CLOSE_UNSUPPORTED_DATA
    inner = frame_fault(_make_test_ws_frame(WSMsgType.TEXT, b"{}", True, False), True)
    assert inner is not None and close_code(inner) == CLOSE_PROTOCOL_ERROR


def test_text_must_be_utf8() -> None:
    assert text_fault("héllo 👋".encode()) is None
    for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"):
        fault = text_fault(b'{"x":"' + bad + b'"}')
        assert fault is not None and close_code(fault) == CLOSE_INVALID_PAYLOAD


def test_ascii_text_passes_and_one_non_ascii_byte_is_still_judged() -> None:
    assert text_fault(b'{"type":"ice-candidate","data":{"candidate":"x"}}') is None
    assert text_fault(b"\x7f") is None  # DEL is the last ASCII byte
    fault = text_fault(b"\x80")
    assert fault is not None and close_code(fault) == CLOSE_INVALID_PAYLOAD
