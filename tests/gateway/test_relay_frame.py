"""A relayed frame built from its cached head is byte for byte what the encoder makes."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from roulette.gateway.relay_frame import relay_head
from roulette.protocol import messages as m

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_IDS = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=40)


@given(
    kind=st.sampled_from(["offer", "answer", "ice-candidate"]),
    session_id=_IDS,
    sender=_IDS.map(lambda s: "0x" + s),
    data=_JSON,
)
def test_head_data_and_brace_equal_the_encoded_relay_out(
    kind: str, session_id: str, sender: str, data: object
) -> None:
    raw = msgspec.Raw(msgspec.json.encode(data))
    expected = m.encode(m.RelayOut(type=kind, sessionId=session_id, sender=sender, data=raw))
    assert b"".join((relay_head(kind, session_id, sender), raw, b"}")) == expected
    assert msgspec.json.decode(expected)["data"] == data


def test_a_client_message_relays_with_its_data_as_sent() -> None:
    payload = b'{"type":"ice-candidate","sessionId":"s1","data": {"candidate" : "a b"} }'
    msg = m.decode_client(payload)
    assert isinstance(msg, m.IceCandidate)
    frame = b"".join((relay_head("ice-candidate", "s1", "0xA"), msg.data, b"}"))
    assert frame == m.encode(
        m.RelayOut(type="ice-candidate", sessionId="s1", sender="0xA", data=msg.data)
    )
    assert msgspec.json.decode(frame) == {
        "type": "ice-candidate",
        "sessionId": "s1",
        "from": "0xA",
        "data": {"candidate": "a b"},
    }
