"""Relay-only ICE: strip every address but the TURN relay's from signaling, so that the peers of
a session never learn each other's IP (``ICE_RELAY_ONLY``).

A candidate line (RFC 8839 §5.1) is ``candidate:<foundation> <component> <transport>
<priority> <address> <port> typ <type> [raddr <address> rport <port>] …``. Only ``typ relay``
survives. A relayed candidate's related address is the client's own reflexive or host address
(RFC 8445 §5.1.1.2), so it is overwritten with ``0.0.0.0 rport 0`` (as browsers do themselves
for privacy). In an SDP (offer/answer), candidate lines are filtered the same way, an address
in ``o=``, ``c=`` or ``a=rtcp:`` that is not a relay address becomes the unspecified address,
and ``a=remote-candidates`` lines are dropped.

Pure: bytes in, bytes (or None: drop the message) out. Called only when the mode is on.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = [
    "filter_candidate_message",
    "filter_description",
    "filter_sdp",
    "is_relay_candidate",
    "relay_only",
]

_UNSPECIFIED: Final = {"IP4": "0.0.0.0", "IP6": "::"}
_decoder: Final = msgspec.json.Decoder(dict[str, Any])
_encoder: Final = msgspec.json.Encoder()


def _fields(line: str) -> list[str]:
    return line.removeprefix("a=").split()


def _candidate_type(fields: list[str]) -> str | None:
    for index, token in enumerate(fields[:-1]):
        if token == "typ":
            return fields[index + 1]
    return None


def is_relay_candidate(line: str) -> bool:
    """True for a well-formed ``typ relay`` candidate (with or without ``a=``)."""
    fields = _fields(line)
    return (
        bool(fields) and fields[0].startswith("candidate:") and _candidate_type(fields) == "relay"
    )


def _redact_related(line: str) -> str:
    fields = _fields(line)
    for index, token in enumerate(fields[:-1]):
        if token == "raddr":
            fields[index + 1] = "0.0.0.0"
        elif token == "rport":
            fields[index + 1] = "0"
    text = " ".join(fields)
    return f"a={text}" if line.startswith("a=") else text


def _relay_addresses(lines: list[str]) -> set[str]:
    return {_fields(line)[4] for line in lines if is_relay_candidate(line)}


def _unspecify(line: str, relays: set[str]) -> str:
    """``c=IN IP4 1.2.3.4`` or ``a=rtcp:9 IN IP4 1.2.3.4`` with a non-relay address blanked."""
    tokens = line.split(" ")
    at = next((i for i, t in enumerate(tokens) if t in ("IN", "c=IN")), None)
    if at is None or len(tokens) < at + 3 or tokens[at + 1] not in _UNSPECIFIED:
        return line
    family = tokens[at + 1]
    address, slash, tail = tokens[at + 2].partition("/")  # c= may carry /ttl on multicast
    if address in relays or address == _UNSPECIFIED[family]:
        return line
    tokens[at + 2] = f"{_UNSPECIFIED[family]}{slash}{tail}"
    return " ".join(tokens)


def filter_sdp(sdp: str) -> str:
    """The SDP with non-relay candidates dropped, other addresses blanked (RFC 8866 §5.2, §5.7)."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    relays = _relay_addresses(lines)
    kept = []
    for line in lines:
        if line.startswith("a=candidate:"):
            if is_relay_candidate(line):
                kept.append(_redact_related(line))
        elif line.startswith(("c=", "a=rtcp:", "o=")):
            kept.append(_unspecify(line, relays))
        elif line.startswith("a=remote-candidates:"):
            continue  # RFC 8445 §5.1.3 (ICE-lite): it lists addresses, and nothing needs it
        else:
            kept.append(line)
    return newline.join(kept)


def _decode(data: bytes) -> dict[str, Any] | None:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return None  # not an object: nothing we can vouch for


def filter_candidate_message(data: bytes) -> bytes | None:
    """An ``ice-candidate`` payload (``RTCIceCandidateInit``) if it is relayed, else None.

    An empty ``candidate`` (end of candidates, RFC 8838 §4) passes unchanged.
    """
    init = _decode(data)
    if init is None or not isinstance(init.get("candidate"), str):
        return None
    candidate: str = init["candidate"]
    if candidate == "":
        return data
    if not is_relay_candidate(candidate):
        return None
    init["candidate"] = _redact_related(candidate)
    return _encoder.encode(init)


def filter_description(data: bytes) -> bytes | None:
    """An ``offer``/``answer`` payload (``RTCSessionDescriptionInit``) with a filtered SDP."""
    init = _decode(data)
    if init is None or not isinstance(init.get("sdp"), str):
        return None
    init["sdp"] = filter_sdp(init["sdp"])
    return _encoder.encode(init)


def relay_only(kind: str, data: bytes) -> bytes | None:
    """The relay-only form of a signal's ``data``; None when nothing of it may be relayed.

    Args:
        kind: ``offer``, ``answer`` or ``ice-candidate``.
        data: the raw JSON ``data`` of the client's message.
    """
    if kind == "ice-candidate":
        return filter_candidate_message(data)
    return filter_description(data)
