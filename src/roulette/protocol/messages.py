"""WebSocket message types: one msgspec struct per ``type``, decoded and validated in one step.

Text frames carry one JSON object each with a ``type`` tag (docs/protocol.md). Client messages
may carry extra fields (clients add a ``timestamp``); they are ignored. Opaque WebRTC payloads
(``data``) stay as raw JSON bytes end to end so relaying never re-encodes them.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec

from roulette.errors import BadRequest

__all__ = [
    "MAX_CHAT_CHARS",
    "MAX_NESTING",
    "Answer",
    "Chat",
    "ChatOut",
    "ClientMessage",
    "Connected",
    "EndSession",
    "Error",
    "Heartbeat",
    "HeartbeatAck",
    "IceCandidate",
    "JoinQueue",
    "LeaveQueue",
    "MatchFound",
    "Next",
    "Offer",
    "PeerDisconnected",
    "Preferences",
    "QueueJoined",
    "QueueLeft",
    "QueueReset",
    "Reconnect",
    "RelayOut",
    "ServerMessage",
    "SessionEnded",
    "SessionResumed",
    "Signal",
    "WebRTCConfig",
    "decode_client",
    "encode",
]

MAX_CHAT_CHARS: Final = 2000
MAX_INTERESTS: Final = 10
MAX_INTEREST_CHARS: Final = 32
MAX_SESSION_ID_CHARS: Final = 64
MAX_REASON_CHARS: Final = 64
MAX_NESTING: Final = 32
"""Deepest JSON nesting accepted (a WebRTC description needs 3); checked before decoding."""

Interest = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_INTEREST_CHARS)]
SessionIdField = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SESSION_ID_CHARS)]
ChainIdField = Annotated[int, msgspec.Meta(gt=0, lt=2**53)]


class _Client(msgspec.Struct, tag_field="type", rename="camel"):
    """Base of client → server messages."""


class _Server(msgspec.Struct, tag_field="type", rename="camel", omit_defaults=True):
    """Base of server → client messages."""


# ---------------------------------------------------------------- client → server


class Preferences(msgspec.Struct, rename="camel", frozen=True):
    """Matching preferences; an empty interest list means "anyone, at once"."""

    interests: Annotated[list[Interest], msgspec.Meta(max_length=MAX_INTERESTS)] = []


class JoinQueue(_Client, tag="join-queue"):
    """Enter the queue of one chain (and optionally a named gated queue)."""

    chain_id: ChainIdField
    preferences: Preferences = Preferences()
    queue: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class LeaveQueue(_Client, tag="leave-queue"):
    """Leave the queue (no-op when not queued)."""


class Offer(_Client, tag="offer"):
    """WebRTC SDP offer for the peer of ``session_id``; ``data`` is opaque."""

    session_id: SessionIdField
    data: msgspec.Raw


class Answer(_Client, tag="answer"):
    """WebRTC SDP answer for the peer of ``session_id``."""

    session_id: SessionIdField
    data: msgspec.Raw


class IceCandidate(_Client, tag="ice-candidate"):
    """One trickled ICE candidate for the peer of ``session_id``."""

    session_id: SessionIdField
    data: msgspec.Raw


class Chat(_Client, tag="chat"):
    """A text chat line for the peer."""

    session_id: SessionIdField
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CHAT_CHARS)]


class Next(_Client, tag="next"):
    """End the current session (if any) and rejoin with the same preferences."""


class EndSession(_Client, tag="end-session"):
    """End the named session for both users."""

    session_id: SessionIdField
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON_CHARS)] | None = None


class Heartbeat(_Client, tag="heartbeat"):
    """Keep-alive; answered with ``heartbeat-ack``."""


class Reconnect(_Client, tag="reconnect"):
    """Resume a session after a dropped socket, with the token from ``match-found``."""

    session_id: SessionIdField
    resume_token: Annotated[str, msgspec.Meta(max_length=512)]


Signal = Offer | Answer | IceCandidate
ClientMessage = (
    JoinQueue
    | LeaveQueue
    | Offer
    | Answer
    | IceCandidate
    | Chat
    | Next
    | EndSession
    | Heartbeat
    | Reconnect
)

# ---------------------------------------------------------------- server → client


class WebRTCConfig(msgspec.Struct, rename="camel", frozen=True, omit_defaults=True):
    """``RTCPeerConnection`` configuration: ``iceServers`` as the browser expects them.

    With TURN configured, one entry carries short-lived ``username``/``credential`` for this
    user of this session; ``iceTransportPolicy`` is ``"relay"`` in relay-only mode.
    """

    ice_servers: list[dict[str, str | list[str]]]
    ice_transport_policy: str | None = None


class Connected(_Server, tag="connected"):
    """First message on an authenticated socket."""

    address: str


class QueueJoined(_Server, tag="queue-joined"):
    """The user is queued; ``position`` is 1-based in that chain's queue."""

    chain_id: int
    position: int


class QueueLeft(_Server, tag="queue-left"):
    """The user left the queue."""


class MatchFound(_Server, tag="match-found"):
    """A session began; exactly one of the pair is the initiator (sends the offer)."""

    session_id: str
    peer_id: str
    is_initiator: bool
    webrtc_config: WebRTCConfig
    resume_token: str | None = None
    peer_name: str | None = None
    max_seconds: float | None = None


class PeerDisconnected(_Server, tag="peer-disconnected"):
    """The peer's socket closed."""

    session_id: str


class QueueReset(_Server, tag="queue-reset"):
    """The shared queue lost this user's entry (a Redis failover): send ``join-queue`` again."""

    reason: str


class SessionEnded(_Server, tag="session-ended"):
    """The session is over; ``reason`` says why (next, peer-next, ended, time-limit, …)."""

    session_id: str
    reason: str


class SessionResumed(_Server, tag="session-resumed"):
    """A dropped socket came back within the grace period."""

    session_id: str
    peer_id: str


class HeartbeatAck(_Server, tag="heartbeat-ack"):
    """Answer to ``heartbeat``."""


class Error(_Server, tag="error"):
    """A request failed; the socket stays open unless a close follows."""

    code: str
    message: str


class ChatOut(_Server, tag="chat"):
    """A chat line from the peer."""

    session_id: str
    sender: str = msgspec.field(name="from")
    text: str = ""


ServerMessage = (
    Connected
    | QueueJoined
    | QueueLeft
    | QueueReset
    | MatchFound
    | PeerDisconnected
    | SessionEnded
    | SessionResumed
    | HeartbeatAck
    | Error
    | ChatOut
)


class RelayOut(msgspec.Struct, frozen=True):
    """A relayed signal as it goes to the peer: ``{type, sessionId, from, data}``."""

    type: str
    sessionId: str
    sender: str = msgspec.field(name="from")
    data: msgspec.Raw = msgspec.Raw(b"null")


_decoder: Final[msgspec.json.Decoder[ClientMessage]] = msgspec.json.Decoder(ClientMessage)
_encoder: Final = msgspec.json.Encoder()


_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TO_PARENS: Final = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


def nested_deeper_than(payload: bytes, limit: int) -> bool:
    """True when the JSON in ``payload`` nests arrays/objects deeper than ``limit``.

    A scan before decoding, so a frame of 30,000 ``[`` never reaches a recursive parser
    (msgspec raises ``RecursionError`` near depth 1,000). Fast path: with at most ``limit``
    opening brackets in all, the nesting cannot be deeper (two ``bytes.count`` calls).
    Otherwise strings are cut out (brackets in chat text do not nest), the rest reduced to
    parentheses, and innermost pairs removed ``limit`` times: each pass lowers the depth by
    exactly one, so anything left is deeper than ``limit`` (or unbalanced, hence invalid).
    """
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", payload).translate(_TO_PARENS, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"()", b"")
    return bool(brackets)


def decode_client(payload: bytes | bytearray | memoryview | str) -> ClientMessage:
    """Decode and validate one client frame.

    Raises:
        BadRequest: not JSON, unknown ``type``, a field out of its bounds (the message says
            which, msgspec's path, e.g. ``$.preferences.interests[0]``), nesting deeper than
            :data:`MAX_NESTING`, or text that is not UTF-8.
    """
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if nested_deeper_than(raw, MAX_NESTING):
        raise BadRequest(f"JSON nested deeper than {MAX_NESTING} levels", code="too_deep")
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc), code="invalid_message") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"not a JSON object: {exc}", code="invalid_json") from None
    except UnicodeDecodeError:
        raise BadRequest("a string is not valid UTF-8", code="invalid_utf8") from None
    except RecursionError:  # the scan above makes this unreachable; kept as a last guard
        raise BadRequest("JSON nested too deeply", code="too_deep") from None


def encode(message: _Server | RelayOut) -> bytes:
    """Encode one server message as a JSON text payload."""
    return _encoder.encode(message)
