"""What a virtual user does and when: think times, how a session ends, and the signaling it sends.

Pure: randomness is an injected ``random.Random`` and time an argument. The signaling looks like
a browser's: a 2-4 KB SDP offer/answer, 10-20 trickled ICE candidates (each carrying its send
time, so the receiver can measure relay latency on the same clock), a few chat lines.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "SENT_AT_FIELD",
    "EndAction",
    "Scenario",
    "chat_line",
    "ice_candidate",
    "is_idle",
    "sent_at_of",
    "session_description",
    "source_address",
    "start_offset",
    "users_of_process",
]

SENT_AT_FIELD: Final = "sentAt"
"""The key of the send time (Unix seconds) in an ICE candidate's ``data`` (opaque to the server)."""

NEXT_INTERVAL_SECONDS: Final = 2.0
"""The server allows ``next`` at most once per 2 s (docs/protocol.md)."""

_CHAT_LINES: Final = (
    "hi!",
    "hey, where are you from?",
    "gm",
    "what chain are you on mostly?",
    "nice setup",
    "lol",
    "are you building anything?",
    "ok, talk later",
    "can you hear me?",
    "wagmi",
)


class EndAction(enum.Enum):
    """How a user leaves a session it is still in."""

    NEXT = "next"
    """Skip: ``next`` ends the session and re-queues at once."""
    END = "end-session"
    """``end-session``, think, then ``join-queue`` again."""
    RELOGIN = "relogin"
    """Close the socket; later sign in again and reconnect (a returning visitor)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """The behaviour of active users; every choice draws from the caller's ``rng``.

    Attributes:
        think_min: shortest stay in a session or pause between steps, in seconds.
        think_max: longest one.
        next_weight: relative chance of ending a session with ``next``.
        end_weight: relative chance of ``end-session``.
        relogin_weight: relative chance of closing the socket and coming back signed in anew.
        candidates: inclusive range of ICE candidates sent per session.
        chat_lines: inclusive range of chat lines sent per session.
        sdp_bytes: inclusive range of SDP sizes.
    """

    think_min: float = 2.0
    think_max: float = 8.0
    next_weight: float = 0.6
    end_weight: float = 0.3
    relogin_weight: float = 0.1
    candidates: tuple[int, int] = (10, 20)
    chat_lines: tuple[int, int] = (2, 4)
    sdp_bytes: tuple[int, int] = (2048, 4096)

    def think(self, rng: random.Random) -> float:
        """A pause, uniform in [think_min, think_max] seconds."""
        return rng.uniform(self.think_min, self.think_max)

    def stay_seconds(self, rng: random.Random, *, since_last_next: float) -> float:
        """How long to stay in a session: a think time, but never a ``next`` too early.

        Args:
            rng: the randomness source.
            since_last_next: seconds since this user last sent ``next``.

        Returns:
            Seconds to stay; at least what is left of the server's ``next`` interval.
        """
        cooldown_left = NEXT_INTERVAL_SECONDS + 0.05 - since_last_next
        return max(self.think(rng), cooldown_left)

    def choose_end(self, rng: random.Random) -> EndAction:
        """How this session ends (by this user)."""
        weights = (self.next_weight, self.end_weight, self.relogin_weight)
        return rng.choices(list(EndAction), weights=weights)[0]

    def candidate_count(self, rng: random.Random) -> int:
        """ICE candidates this user trickles in one session."""
        return rng.randint(*self.candidates)

    def chat_count(self, rng: random.Random) -> int:
        """Chat lines this user sends in one session."""
        return rng.randint(*self.chat_lines)

    def candidate_gap(self, rng: random.Random) -> float:
        """Seconds between two trickled candidates (browsers gather them over ~0.5 s)."""
        return rng.uniform(0.0, 0.04)


def session_description(
    rng: random.Random, kind: str, size_range: tuple[int, int]
) -> dict[str, str]:
    """An SDP offer or answer of a browser's shape (audio, video, data channel).

    Args:
        rng: the randomness source (ufrag, fingerprint, ssrc, size).
        kind: ``"offer"`` or ``"answer"``.
        size_range: inclusive range of the SDP's length in bytes.

    Returns:
        ``{"type": kind, "sdp": text}``, as ``RTCSessionDescription.toJSON()`` gives it.
    """
    target = rng.randint(*size_range)
    lines = _sdp_session_lines(rng)
    payload = 96
    while _length(lines) < target:
        lines += _sdp_codec_lines(payload, rng)
        payload += 1
    room = target - len(_PAD) - 2  # the padding line's own text and CRLF
    while _length(lines) > room:
        lines.pop()
    lines.append(_PAD + "x" * (room - _length(lines)))
    return {"type": kind, "sdp": "".join(line + "\r\n" for line in lines)}


_PAD: Final = "a=x-pad:"
"""An attribute line browsers ignore (RFC 8866 §5.13), used to reach an exact size."""


def _length(lines: list[str]) -> int:
    return sum(len(line) + 2 for line in lines)


def _sdp_session_lines(rng: random.Random) -> list[str]:
    fingerprint = ":".join(f"{rng.randrange(256):02X}" for _ in range(32))
    ufrag = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=4))
    pwd = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=24))
    return [
        "v=0",
        f"o=- {rng.getrandbits(62)} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS stream",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ufrag}",
        f"a=ice-pwd:{pwd}",
        "a=ice-options:trickle",
        f"a=fingerprint:sha-256 {fingerprint}",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        f"a=ssrc:{rng.getrandbits(31)} cname:{ufrag}{pwd[:8]}",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103",
        "c=IN IP4 0.0.0.0",
        "a=mid:1",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtcp-rsize",
    ]


def _sdp_codec_lines(payload: int, rng: random.Random) -> list[str]:
    codec = rng.choice(("VP8", "VP9", "H264", "AV1", "rtx"))
    return [
        f"a=rtpmap:{payload} {codec}/90000",
        f"a=rtcp-fb:{payload} goog-remb",
        f"a=rtcp-fb:{payload} transport-cc",
        f"a=rtcp-fb:{payload} nack pli",
        f"a=fmtp:{payload} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    ]


def ice_candidate(rng: random.Random, index: int, *, sent_at: float) -> dict[str, Any]:
    """One trickled ICE candidate, as ``RTCIceCandidate.toJSON()`` gives it, plus its send time.

    Args:
        rng: the randomness source (foundation, addresses, ports).
        index: the candidate's number in this session (host candidates come first).
        sent_at: the send time, Unix seconds; the receiver subtracts it from its clock.

    Returns:
        The candidate's ``data`` object.
    """
    kind = "host" if index < 2 else rng.choice(("srflx", "relay", "srflx"))
    port = rng.randint(40000, 65000)
    address = f"203.0.113.{rng.randint(1, 254)}" if kind != "host" else f"192.168.1.{index + 2}"
    related = " raddr 192.168.1.2 rport 9" if kind != "host" else ""
    candidate = (
        f"candidate:{rng.getrandbits(32)} 1 udp {rng.getrandbits(31)} {address} {port} "
        f"typ {kind}{related} generation 0 ufrag {rng.getrandbits(16):04x} network-cost 999"
    )
    return {
        "candidate": candidate,
        "sdpMid": str(index % 3),
        "sdpMLineIndex": index % 3,
        SENT_AT_FIELD: sent_at,
    }


def sent_at_of(data: object) -> float | None:
    """The send time embedded by :func:`ice_candidate`, if ``data`` carries one."""
    if isinstance(data, dict):
        value = data.get(SENT_AT_FIELD)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def chat_line(rng: random.Random) -> str:
    """A short chat message."""
    return rng.choice(_CHAT_LINES)


def start_offset(index: int, users: int, ramp: float) -> float:
    """When user ``index`` of ``users`` starts: evenly spread over the ramp, in seconds."""
    return ramp * index / users if users else 0.0


def source_address(index: int, count: int) -> str:
    """The loopback source address of user ``index``: 127.0.0.2, 127.0.0.3, … round robin.

    Each source address has its own ~28k ephemeral ports toward one server port.
    """
    return f"127.0.0.{2 + index % count}"


def is_idle(index: int, fraction: float) -> bool:
    """Whether user ``index`` only connects and idles; spreads ``fraction`` evenly over users."""
    return math.floor((index + 1) * fraction) > math.floor(index * fraction)


def users_of_process(process: int, processes: int, users: int) -> range:
    """The user indices one client process runs: every ``processes``-th, so ramps interleave."""
    return range(process, users, processes)
