"""Relay-only ICE: only ``typ relay`` candidates and relay addresses survive (pure)."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from roulette.relay.ice import (
    filter_candidate_message,
    filter_description,
    filter_sdp,
    is_relay_candidate,
    relay_only,
)

HOST = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0"
MDNS = "candidate:2 1 udp 2122260223 4b1c2f7e-1d2a.local 54322 typ host"
SRFLX = "candidate:3 1 udp 1686052607 198.51.100.7 40000 typ srflx raddr 192.168.1.20 rport 54321"
PRFLX = "candidate:4 1 udp 1853824767 198.51.100.7 40001 typ prflx raddr 0.0.0.0 rport 0"
RELAY = "candidate:5 1 udp 41885439 203.0.113.9 50000 typ relay raddr 198.51.100.7 rport 40000"
RELAY_TCP = "candidate:6 1 tcp 25108223 203.0.113.9 50001 typ relay raddr 198.51.100.7 rport 9"


def _candidate(line: str) -> bytes:
    return json.dumps({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}).encode()


def test_only_relay_candidates_are_relay_candidates() -> None:
    assert is_relay_candidate(RELAY) and is_relay_candidate("a=" + RELAY_TCP)
    for line in (HOST, MDNS, SRFLX, PRFLX, "", "typ relay", "candidate:1 typ", "a=relay"):
        assert not is_relay_candidate(line), line


def test_a_host_reflexive_or_mdns_candidate_message_is_dropped() -> None:
    for line in (HOST, MDNS, SRFLX, PRFLX):
        assert filter_candidate_message(_candidate(line)) is None


def test_a_relay_candidate_passes_with_its_related_address_blanked() -> None:
    out = filter_candidate_message(_candidate(RELAY))
    assert out is not None
    kept = json.loads(out)
    assert kept["candidate"] == (
        "candidate:5 1 udp 41885439 203.0.113.9 50000 typ relay raddr 0.0.0.0 rport 0"
    )
    assert (kept["sdpMid"], kept["sdpMLineIndex"]) == ("0", 0)
    assert b"198.51.100.7" not in out


def test_end_of_candidates_passes_and_malformed_data_is_dropped() -> None:
    end = _candidate("")
    assert filter_candidate_message(end) == end
    for bad in (b"null", b"[]", b'"x"', b"{}", b'{"candidate": 5}', b"{"):
        assert filter_candidate_message(bad) is None


SDP = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=audio 50000 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 192.168.1.20",
        "a=rtcp:9 IN IP4 198.51.100.7",
        "a=" + HOST,
        "a=" + SRFLX,
        "a=" + RELAY,
        "a=mid:0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 203.0.113.9",
        "c=IN IP6 2001:db8::1",
        "a=" + MDNS,
        "a=end-of-candidates",
        "",
    ]
)


def test_the_sdp_keeps_relay_candidates_and_blanks_every_other_address() -> None:
    out = filter_sdp(SDP)
    assert "192.168.1.20" not in out and "198.51.100.7" not in out and ".local" not in out
    assert "2001:db8::1" not in out
    lines = out.split("\r\n")
    assert [line for line in lines if line.startswith("a=candidate")] == [
        "a=candidate:5 1 udp 41885439 203.0.113.9 50000 typ relay raddr 0.0.0.0 rport 0"
    ]
    assert "c=IN IP4 0.0.0.0" in lines and "a=rtcp:9 IN IP4 0.0.0.0" in lines
    assert "c=IN IP4 203.0.113.9" in lines  # the relay's own address may stay
    assert "c=IN IP6 ::" in lines
    assert "a=end-of-candidates" in lines and "a=mid:0" in lines and out.endswith("\r\n")


def test_an_sdp_with_plain_newlines_keeps_them() -> None:
    out = filter_sdp("v=0\nc=IN IP4 10.0.0.1\na=" + HOST + "\n")
    assert out == "v=0\nc=IN IP4 0.0.0.0\n"


def test_a_description_message_is_rewritten_and_malformed_ones_dropped() -> None:
    data = json.dumps({"type": "offer", "sdp": SDP}).encode()
    out = relay_only("offer", data)
    assert out is not None
    description = json.loads(out)
    assert description["type"] == "offer" and description["sdp"] == filter_sdp(SDP)
    for bad in (b"null", b"{}", b'{"sdp": 1}', b"[1]"):
        assert filter_description(bad) is None
    assert relay_only("ice-candidate", _candidate(HOST)) is None


_octet = st.integers(min_value=1, max_value=254)
_ipv4 = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", _octet, _octet, _octet, _octet)
_kind = st.sampled_from(["host", "srflx", "prflx", "relay"])


@st.composite
def _sdp(draw: st.DrawFn) -> tuple[str, set[str], set[str]]:
    """An SDP mixing candidates of every type; returns it, the relay and the other addresses."""
    relays: set[str] = set()
    others: set[str] = set()
    lines = ["v=0", f"o=- 1 2 IN IP4 {draw(_ipv4)}", "s=-", "t=0 0"]
    others.add(lines[1].rsplit(" ", 1)[1])
    for index in range(draw(st.integers(min_value=0, max_value=12))):
        kind, address, related = draw(_kind), draw(_ipv4), draw(_ipv4)
        line = f"a=candidate:{index} 1 udp {index + 1} {address} {1000 + index} typ {kind}"
        line += f" raddr {related} rport 9"
        (relays if kind == "relay" else others).add(address)
        others.add(related)
        lines.append(line)
    for prefix in ("c=IN IP4", "a=rtcp:9 IN IP4", "a=remote-candidates:1"):
        address = draw(_ipv4)
        others.add(address)
        lines.append(f"{prefix} {address}")
    return "\r\n".join(draw(st.permutations(lines))), relays, others - relays


@given(_sdp())
def test_no_address_but_a_relays_survives_any_sdp(case: tuple[str, set[str], set[str]]) -> None:
    sdp, relays, others = case
    out = filter_sdp(sdp)
    seen = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", out)) - {"0.0.0.0"}
    assert seen <= relays
    assert not seen & others
    kept = [line for line in out.split("\r\n") if line.startswith("a=candidate")]
    assert all(is_relay_candidate(line) for line in kept)
    assert len(kept) == sum(1 for line in sdp.split("\r\n") if is_relay_candidate(line))
