"""The new limits (issue 10) cost an honest user nothing: a normal call passes untouched.

A call: the offer, a burst of 30 ICE candidates at once from each side, the answer, a quick
exchange of chat lines, and one page reload (a new socket resuming the session) mid-call —
under the default limits, with not a single ``rate_limited`` or other error.
"""

from __future__ import annotations

from typing import Any

from conftest import MakeUsers
from support.users import User

CANDIDATES = 30
CHAT_LINES = 15


def candidate(i: int) -> dict[str, Any]:
    return {
        "candidate": f"candidate:{i} 1 udp 2122260223 192.0.2.{i} {50000 + i} typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }


async def received(user: User, kind: str, count: int) -> list[dict[str, Any]]:
    """The next ``count`` messages of ``kind``; any error on the way fails the test."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = await user.recv()
        assert message["type"] != "error", message
        if message["type"] == kind:
            found.append(message)
    return found


async def test_a_normal_call_with_ice_bursts_chat_and_a_reload_passes_every_limit(
    make_users: MakeUsers,
) -> None:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    await a.join()
    await b.join()
    found = await a.expect("match-found")
    await b.expect("match-found")
    session = found["sessionId"]
    sdp = "v=0\r\n" + "a=fingerprint:sha-256 " + "AB:" * 31 + "CD\r\n" * 40
    await a.send({"type": "offer", "sessionId": session, "data": {"type": "offer", "sdp": sdp}})
    for i in range(CANDIDATES):
        await a.send({"type": "ice-candidate", "sessionId": session, "data": candidate(i)})
    await b.send({"type": "answer", "sessionId": session, "data": {"type": "answer", "sdp": sdp}})
    for i in range(CANDIDATES):
        await b.send({"type": "ice-candidate", "sessionId": session, "data": candidate(i)})
    await received(b, "offer", 1)
    assert len(await received(b, "ice-candidate", CANDIDATES)) == CANDIDATES
    await received(a, "answer", 1)
    assert len(await received(a, "ice-candidate", CANDIDATES)) == CANDIDATES

    # The page reloads: a new socket, the same wallet, resuming the session.
    assert a.ws is not None
    await a.ws.close()
    await received(b, "peer-disconnected", 1)
    await a.connect()
    await a.send({"type": "reconnect", "sessionId": session, "resumeToken": found["resumeToken"]})
    await received(a, "session-resumed", 1)
    await received(b, "session-resumed", 1)

    for i in range(CHAT_LINES):
        await a.send({"type": "chat", "sessionId": session, "text": f"line {i} ça va? 👋"})
        await b.send({"type": "chat", "sessionId": session, "text": f"reply {i}"})
    assert [m["text"] for m in await received(b, "chat", CHAT_LINES)][-1] == "line 14 ça va? 👋"
    assert [m["text"] for m in await received(a, "chat", CHAT_LINES)][-1] == "reply 14"
