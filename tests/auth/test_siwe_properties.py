"""Properties of the EIP-4361 parser: round trips, total failure modes, linear cost."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime, timedelta, timezone
from types import FrameType
from typing import Any

import pytest
from eth_utils.address import to_checksum_address as reference_checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from roulette.auth.siwe import parse_message
from roulette.errors import PayloadTooLarge, Unauthenticated

from .siwe_wallet import build_message

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-F]{2}"

domains = st.from_regex(
    rf"((?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})+@)?"
    r"([a-z0-9\-]{1,20}(\.[a-z0-9\-]{1,20}){0,3}|\[[0-9a-f:]{2,39}\])(:[0-9]{1,5})?",
    fullmatch=True,
)
uris = st.from_regex(
    rf"[a-z][a-z0-9+.\-]{{0,8}}:(//)?(?:[{_UNRESERVED}{_SUB_DELIMS}:@/?#]|{_PCT}){{1,60}}",
    fullmatch=True,
)
statements = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    min_size=1,
    max_size=80,
)
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        timezone(timedelta(hours=23, minutes=59)),
        timezone(-timedelta(hours=23, minutes=59)),
    ]
)
moments = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    address = reference_checksum("0x" + draw(st.binary(min_size=20, max_size=20)).hex())
    optional = st.none() | moments
    return {
        "address": address,
        "domain": draw(domains),
        "uri": draw(uris),
        "chain_id": draw(st.integers(min_value=1, max_value=2**64)),
        "nonce": draw(st.from_regex(r"[A-Za-z0-9]{8,40}", fullmatch=True)),
        "issued_at": draw(moments),
        "statement": draw(st.none() | statements),
        "expiration_time": draw(optional),
        "not_before": draw(optional),
        "request_id": draw(
            st.none()
            | st.from_regex(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*", fullmatch=True)
        ),
        "resources": draw(st.none() | st.lists(uris, max_size=4)),
        "scheme": draw(st.none() | st.sampled_from(["http", "https", "git+ssh"])),
        "lowercase": draw(st.booleans()),
    }


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


@settings(max_examples=200, deadline=None)
@given(messages())
def test_a_generated_valid_message_parses_back_to_its_fields(fields: dict[str, Any]) -> None:
    lowercase = fields.pop("lowercase")
    address = fields.pop("address")
    text = build_message(address.lower() if lowercase else address, **fields)
    message = parse_message(text, max_bytes=16_384)
    assert message.address == address
    assert message.domain == fields["domain"]
    assert message.statement == fields["statement"]
    assert message.uri == fields["uri"]
    assert message.version == "1"
    assert message.chain_id == fields["chain_id"]
    assert message.nonce == fields["nonce"]
    assert message.issued_at == fields["issued_at"].timestamp()
    assert message.expiration_time == _stamp(fields["expiration_time"])
    assert message.not_before == _stamp(fields["not_before"])
    assert message.request_id == fields["request_id"]
    assert message.resources == tuple(fields["resources"] or ())
    assert message.scheme == fields["scheme"]


def _parse_or_refuse(text: str, max_bytes: int = 2048) -> None:
    with contextlib.suppress(PayloadTooLarge, Unauthenticated):
        parse_message(text, max_bytes=max_bytes)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=3000))
def test_arbitrary_text_is_only_ever_refused_as_a_peer_error(text: str) -> None:
    _parse_or_refuse(text)


@settings(max_examples=150, deadline=None)
@given(messages(), st.data())
def test_a_mutated_valid_message_is_parsed_or_refused_never_crashes(
    fields: dict[str, Any], data: st.DataObject
) -> None:
    fields.pop("lowercase")
    text = build_message(fields.pop("address"), **fields)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 20)))
    insert = data.draw(st.text(st.sampled_from("\n\r :-0aZ%@/\ud800é"), max_size=5))
    _parse_or_refuse(text[:start] + insert + text[end:])


# --- cost: linear in the length, counted in Python operations rather than wall time ---------


def _operations(text: str) -> int:
    """Python line events and calls executed while parsing ``text`` (refusals included)."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        _parse_or_refuse(text, max_bytes=1 << 20)
    finally:
        sys.settrace(previous)
    return count


def _with_resources(count: int) -> str:
    return build_message(
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        domain="localhost:3001",
        uri="http://localhost:3001",
        chain_id=1,
        nonce="abcdefgh1234",
        issued_at=datetime(2024, 5, 1, tzinfo=UTC),
        resources=[f"https://r.example/{i}" for i in range(count)] if count else None,
    )


def test_parsing_cost_grows_linearly_with_the_number_of_lines() -> None:
    small, medium, large = (_operations(_with_resources(n)) for n in (10, 100, 1000))
    per_line = (medium - small) / 90
    assert per_line < 40
    assert large - medium <= 1.1 * per_line * 900


_HEAD = _with_resources(0)


def _fill(prefix: str, unit: str, suffix: str = "") -> str:
    """``prefix`` + as many ``unit``s as fit + ``suffix``, 2 KiB in all."""
    room = 2048 - len((prefix + suffix).encode())
    return prefix + unit * (room // len(unit.encode())) + suffix


ADVERSARIAL = {
    "one long line": _fill("", "a"),
    "only newlines": _fill("", "\n"),
    "repeated header suffix": _fill("", " wants you to sign in with your Ethereum account:"),
    "repeated scheme separators": _fill("", "x://"),
    "endless address": _fill(
        "localhost:3001 wants you to sign in with your Ethereum account:\n", "0"
    ),
    "many resources": _fill(_HEAD + "\nResources:", "\n- a:b"),
    "many empty resources": _fill(_HEAD + "\nResources:", "\n- "),
    "long nonce, bad at the end": _fill(_HEAD.split("Nonce: ")[0] + "Nonce: ", "a", "-"),
    "long URI of broken escapes": _fill(_HEAD.split("URI: ")[0] + "URI: h:", "%4"),
    "long date": _fill(_HEAD.split("Issued At: ")[0] + "Issued At: 2024", "0"),
    "long fraction": _fill(
        _HEAD.split("Issued At: ")[0] + "Issued At: 2024-05-01T00:00:00.", "9", "+"
    ),
    "long unicode statement": _fill(_HEAD.split("Sign in")[0], "\u00e9", _HEAD.split(".", 1)[1]),
    "long request id": _fill(_HEAD + "\nRequest ID: ", "%41"),
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_an_adversarial_2_kib_message_costs_a_bounded_number_of_operations(text: str) -> None:
    """The worst case is the most lines (a few hundred resources): a few steps per byte."""
    size = len(text.encode("utf-8"))
    assert 2000 <= size <= 2048
    assert _operations(text) < 6 * size
