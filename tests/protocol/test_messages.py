"""The message codec: every client message type, bounds, and arbitrary input (Hypothesis)."""

from __future__ import annotations

import contextlib
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roulette.errors import BadRequest
from roulette.protocol import messages as m


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "join-queue", "chainId": 1}, m.JoinQueue(chain_id=1)),
        (
            {"type": "join-queue", "chainId": 8453, "preferences": {"interests": ["art"]}},
            m.JoinQueue(chain_id=8453, preferences=m.Preferences(interests=["art"])),
        ),
        ({"type": "leave-queue"}, m.LeaveQueue()),
        ({"type": "next", "timestamp": 1}, m.Next()),
        ({"type": "heartbeat"}, m.Heartbeat()),
        ({"type": "end-session", "sessionId": "s"}, m.EndSession(session_id="s")),
        ({"type": "chat", "sessionId": "s", "text": "hi"}, m.Chat(session_id="s", text="hi")),
    ],
)
def test_client_messages_decode_to_their_struct(frame: dict[str, object], expected: object) -> None:
    assert m.decode_client(json.dumps(frame)) == expected


@pytest.mark.parametrize("kind", ["offer", "answer", "ice-candidate"])
def test_signal_data_stays_raw_json_end_to_end(kind: str) -> None:
    data = {"sdp": "v=0\r\n", "nested": [1, {"x": None}]}
    msg = m.decode_client(json.dumps({"type": kind, "sessionId": "s1", "data": data}))
    assert isinstance(msg, m.Offer | m.Answer | m.IceCandidate)
    out = m.encode(m.RelayOut(type=kind, sessionId="s1", sender="0xA", data=msg.data))
    assert json.loads(out) == {"type": kind, "sessionId": "s1", "from": "0xA", "data": data}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"", "invalid_json"),
        (b"{", "invalid_json"),
        (b"[]", "invalid_message"),
        (b'{"type": "nope"}', "invalid_message"),
        (b'{"chainId": 1}', "invalid_message"),
        (b'{"type": "join-queue", "chainId": 0}', "invalid_message"),
        (b'{"type": "join-queue", "chainId": "1"}', "invalid_message"),
        (b'{"type": "chat", "sessionId": "s", "text": ""}', "invalid_message"),
        (
            json.dumps({"type": "chat", "sessionId": "s", "text": "x" * 2001}).encode(),
            "invalid_message",
        ),
        (
            json.dumps(
                {"type": "join-queue", "chainId": 1, "preferences": {"interests": ["a"] * 11}}
            ).encode(),
            "invalid_message",
        ),
        (
            json.dumps({"type": "offer", "sessionId": "s" * 65, "data": 1}).encode(),
            "invalid_message",
        ),
        (b'{"type": "offer", "sessionId": "s"}', "invalid_message"),
    ],
)
def test_bad_frames_are_bad_requests_with_a_code(frame: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as error:
        m.decode_client(frame)
    assert error.value.code == code


def test_chat_allows_exactly_2000_characters() -> None:
    text = "é" * 2000
    assert m.decode_client(json.dumps({"type": "chat", "sessionId": "s", "text": text})) == m.Chat(
        session_id="s", text=text
    )


@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_anything_but_bad_request(frame: bytes) -> None:
    with contextlib.suppress(BadRequest):
        m.decode_client(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(
        ["join-queue", "offer", "answer", "ice-candidate", "chat", "next", "end-session"]
    ),
    st.dictionaries(
        st.sampled_from(["chainId", "sessionId", "data", "text", "preferences"]), json_values
    ),
)
def test_arbitrary_json_objects_decode_or_fail_cleanly(
    kind: str, fields: dict[str, object]
) -> None:
    try:
        msg = m.decode_client(json.dumps({"type": kind, **fields}))
    except BadRequest:
        return
    assert isinstance(msg, msgspec.Struct)


def test_server_messages_use_the_wire_names() -> None:
    found = m.MatchFound(
        session_id="s",
        peer_id="0xB",
        is_initiator=True,
        webrtc_config=m.WebRTCConfig(ice_servers=[{"urls": ["stun:a"]}]),
    )
    assert json.loads(m.encode(found)) == {
        "type": "match-found",
        "sessionId": "s",
        "peerId": "0xB",
        "isInitiator": True,
        "webrtcConfig": {"iceServers": [{"urls": ["stun:a"]}]},
    }
    assert json.loads(m.encode(m.QueueJoined(chain_id=1, position=3))) == {
        "type": "queue-joined",
        "chainId": 1,
        "position": 3,
    }
    assert json.loads(m.encode(m.ChatOut(session_id="s", sender="0xA", text="t")))["from"] == "0xA"
