"""A dropped socket may resume its session within the grace period; otherwise the peer is told."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.server import RunningServer, running_server
from support.users import User, signed_in_users


@pytest.fixture(scope="module")
def grace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"RECONNECT_GRACE_SECONDS": "1.5"}
    with running_server(tmp_path_factory.mktemp("grace"), env) as server:
        yield server


async def matched(server: RunningServer) -> tuple[User, User, dict[str, object]]:
    a, b = await signed_in_users(server, 2)
    await a.connect()
    await b.connect()
    await a.join()
    await b.join()
    found = await a.expect("match-found")
    await b.expect("match-found")
    return a, b, found


async def test_a_dropped_user_resumes_and_signaling_continues(grace_server: RunningServer) -> None:
    a, b, found = await matched(grace_server)
    session = found["sessionId"]
    assert isinstance(found["resumeToken"], str)
    assert a.ws is not None
    await a.ws.close()
    assert await b.expect("peer-disconnected") == {
        "type": "peer-disconnected",
        "sessionId": session,
    }
    await a.connect()
    await a.send({"type": "reconnect", "sessionId": session, "resumeToken": found["resumeToken"]})
    assert await a.expect("session-resumed") == {
        "type": "session-resumed",
        "sessionId": session,
        "peerId": b.address,
    }
    assert (await b.expect("session-resumed"))["peerId"] == a.address
    await b.send({"type": "offer", "sessionId": session, "data": {"sdp": "again"}})
    assert (await a.expect("offer"))["data"] == {"sdp": "again"}
    await a.send({"type": "chat", "sessionId": session, "text": "back"})
    assert (await b.expect("chat"))["text"] == "back"
    for user in (a, b):
        await user.close()


async def test_without_a_resume_the_peer_gets_peer_timeout(grace_server: RunningServer) -> None:
    a, b, found = await matched(grace_server)
    assert a.ws is not None
    await a.ws.close()
    await b.expect("peer-disconnected")
    ended = await b.expect("session-ended", timeout=5)
    assert ended == {
        "type": "session-ended",
        "sessionId": found["sessionId"],
        "reason": "peer-timeout",
    }
    await b.join()  # free again
    for user in (a, b):
        await user.close()


# Outside ASCII too: the comparison once raised on it (the fuzzer's find), and the socket's
# operation crashed instead of answering.
@pytest.mark.parametrize("forged", ["x" * 24, "\u00e9" * 24, "\U0001f600", ""])
async def test_a_forged_resume_token_is_refused(grace_server: RunningServer, forged: str) -> None:
    logged = len(grace_server.log())
    a, b, found = await matched(grace_server)
    assert a.ws is not None
    await a.ws.close()
    await b.expect("peer-disconnected")
    await a.connect()
    await a.send({"type": "reconnect", "sessionId": found["sessionId"], "resumeToken": forged})
    assert (await a.expect("error"))["code"] == "invalid_resume_token"
    await a.send({"type": "heartbeat"})  # still open, still answering
    await a.expect("heartbeat-ack")
    assert "control_crashed" not in grace_server.log()[logged:]
    for user in (a, b):
        await user.close()


async def test_joining_instead_of_resuming_frees_the_peer(grace_server: RunningServer) -> None:
    a, b, found = await matched(grace_server)
    assert a.ws is not None
    await a.ws.close()
    await b.expect("peer-disconnected")
    await a.connect()
    await a.join()
    ended = await b.expect("session-ended")
    assert (ended["sessionId"], ended["reason"]) == (found["sessionId"], "peer-left")
    for user in (a, b):
        await user.close()


async def test_the_waiting_peer_may_rejoin_at_once(grace_server: RunningServer) -> None:
    a, b, _found = await matched(grace_server)
    assert a.ws is not None
    await a.ws.close()
    await b.expect("peer-disconnected")
    await b.send({"type": "join-queue", "chainId": 1})
    assert (await b.expect("session-ended"))["reason"] == "ended"
    await b.expect("queue-joined")
    for user in (a, b):
        await user.close()
