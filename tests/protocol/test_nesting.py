"""The nesting bound runs before decoding, and decoding never raises anything but BadRequest."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roulette.errors import BadRequest
from roulette.protocol.messages import MAX_NESTING, decode_client, nested_deeper_than

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab:,é'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def nest(value: Any, levels: int) -> Any:
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


@settings(max_examples=300)
@given(value=json_values, extra=st.integers(0, 40), limit=st.integers(1, 40))
def test_the_scan_agrees_with_the_real_depth(value: Any, extra: int, limit: int) -> None:
    value = nest(value, extra)
    payload = json.dumps(value, ensure_ascii=False).encode()
    assert nested_deeper_than(payload, limit) == (depth(value) > limit)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"type": "chat", "sessionId": "s", "text": "[" * 500 + '\\"{' * 100})
    assert not nested_deeper_than(text.encode(), MAX_NESTING)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"type":"heartbeat","x":' + b"[" * 1000 + b"]" * 1000 + b"}", "too_deep"),
        (b"[" * 100_000, "too_deep"),
        (b'{"type":"chat","sessionId":"s","text":"\xff"}', "invalid_utf8"),
        (b'{"type":"chat"', "invalid_json"),
    ],
)
def test_malformed_input_is_a_bad_request(payload: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_client(payload)
    assert refused.value.code == code


@settings(max_examples=300)
@given(payload=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_decoding_raises_only_bad_request(payload: bytes) -> None:
    with contextlib.suppress(BadRequest):
        decode_client(payload)
