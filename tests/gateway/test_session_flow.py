"""The WebSocket contract end to end: join, match, relay, chat, next, end, disconnect."""

from __future__ import annotations

import asyncio
import json

from conftest import MakeUsers
from support.users import User


async def pair(make_users: MakeUsers) -> tuple[User, User, str]:
    """Two connected users matched with each other; returns (initiator, responder, session)."""
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    assert (await a.join())["position"] == 1
    joined = await b.join()
    assert joined == {"type": "queue-joined", "chainId": 1, "position": 1}
    found_a, found_b = await a.expect("match-found"), await b.expect("match-found")
    assert found_a["sessionId"] == found_b["sessionId"]
    assert found_a["peerId"] == b.address and found_b["peerId"] == a.address
    assert found_a["isInitiator"] != found_b["isInitiator"]
    initiator, responder = (a, b) if found_a["isInitiator"] else (b, a)
    return initiator, responder, found_a["sessionId"]


async def test_two_users_meet_and_signals_reach_only_the_peer_in_order(
    make_users: MakeUsers,
) -> None:
    a, b, session = await pair(make_users)
    await a.send({"type": "offer", "sessionId": session, "data": {"type": "offer", "sdp": "v=0"}})
    for i in range(15):
        await a.send(
            {"type": "ice-candidate", "sessionId": session, "data": {"candidate": f"c{i}"}}
        )
    offer = await b.expect("offer")
    assert offer == {
        "type": "offer",
        "sessionId": session,
        "from": a.address,
        "data": {"type": "offer", "sdp": "v=0"},
    }
    for i in range(15):
        assert (await b.expect("ice-candidate"))["data"] == {"candidate": f"c{i}"}
    await b.send({"type": "answer", "sessionId": session, "data": {"sdp": "answer"}})
    assert (await a.expect("answer"))["from"] == b.address
    await a.send({"type": "chat", "sessionId": session, "text": "hello 👋"})
    assert await b.expect("chat") == {
        "type": "chat",
        "sessionId": session,
        "from": a.address,
        "text": "hello 👋",
    }


async def test_a_signal_for_a_session_you_are_not_in_is_refused(make_users: MakeUsers) -> None:
    a, b, session = await pair(make_users)
    (intruder,) = await make_users(1)
    await intruder.connect()
    await intruder.send({"type": "offer", "sessionId": session, "data": {}})
    error = await intruder.expect("error")
    assert error["code"] == "not_in_session"
    await intruder.send({"type": "end-session", "sessionId": session})
    assert (await intruder.expect("error"))["code"] == "not_in_session"
    await a.send({"type": "chat", "sessionId": session, "text": "still here"})
    assert (await b.expect("chat"))["text"] == "still here"


async def test_next_ends_the_session_and_requeues_only_the_skipper(make_users: MakeUsers) -> None:
    a, b, session = await pair(make_users)
    await a.send({"type": "next"})
    assert await a.expect("session-ended") == {
        "type": "session-ended",
        "sessionId": session,
        "reason": "next",
    }
    assert (await a.expect("queue-joined"))["position"] == 1
    assert await b.expect("session-ended") == {
        "type": "session-ended",
        "sessionId": session,
        "reason": "peer-next",
    }
    await a.send({"type": "offer", "sessionId": session, "data": {}})
    assert (await a.expect("error"))["code"] == "not_in_session"
    # b was not requeued: a third user meets a, not b.
    (c,) = await make_users(1)
    await c.connect()
    await c.join()
    assert (await c.expect("match-found"))["peerId"] == a.address


async def test_a_second_next_within_2_seconds_is_rate_limited_and_the_socket_stays(
    make_users: MakeUsers,
) -> None:
    a, _b, _ = await pair(make_users)
    await a.send({"type": "next"})
    await a.expect("session-ended")
    await a.expect("queue-joined")
    await a.send({"type": "next"})
    assert (await a.expect("error"))["code"] == "rate_limited"
    await a.send({"type": "heartbeat"})
    await a.expect("heartbeat-ack")


async def test_end_session_tells_both(make_users: MakeUsers) -> None:
    a, b, session = await pair(make_users)
    await b.send({"type": "end-session", "sessionId": session, "reason": "bye"})
    assert (await b.expect("session-ended"))["sessionId"] == session
    assert (await a.expect("session-ended"))["sessionId"] == session


async def test_closing_a_socket_tells_the_peer_at_once(make_users: MakeUsers) -> None:
    a, b, session = await pair(make_users)
    assert a.ws is not None
    await a.ws.close()
    assert await b.expect("peer-disconnected", timeout=2.0) == {
        "type": "peer-disconnected",
        "sessionId": session,
    }


async def test_bad_input_gets_an_error_and_the_socket_stays_open(make_users: MakeUsers) -> None:
    (a,) = await make_users(1)
    await a.connect()
    assert a.ws is not None
    for bad in [
        "not json",
        "[]",
        json.dumps({"type": "nope"}),
        json.dumps({"type": "join-queue", "chainId": "one"}),
        json.dumps({"type": "chat", "sessionId": "x", "text": "y" * 2001}),
        json.dumps({"type": "join-queue", "chainId": 999}),
    ]:
        await a.ws.send(bad)
        error = await a.expect("error")
        assert error["code"] and error["message"]
    await a.send({"type": "heartbeat"})
    await a.expect("heartbeat-ack")


async def test_joining_while_in_a_session_is_refused(make_users: MakeUsers) -> None:
    a, _b, _ = await pair(make_users)
    await a.send({"type": "join-queue", "chainId": 1})
    assert (await a.expect("error"))["code"] == "already_in_session"


async def test_leave_queue_removes_the_user(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    await a.join()
    await a.send({"type": "leave-queue"})
    await a.expect("queue-left")
    await b.join()
    await asyncio.sleep(0.3)
    await b.send({"type": "heartbeat"})
    assert (await b.expect("heartbeat-ack"))["type"] == "heartbeat-ack"


async def test_users_of_different_chains_never_meet(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    assert (await a.join(chain_id=1))["chainId"] == 1
    await b.send({"type": "join-queue", "chainId": 10})
    assert (await b.expect("error"))["code"] == "chain_not_allowed"


async def test_shared_interests_are_preferred_and_others_wait_for_the_window(
    make_users: MakeUsers,
) -> None:
    a, b, c = await make_users(3)
    for u in (a, b, c):
        await u.connect()
    await a.join(interests=["music"])
    await b.join(interests=["art"])
    # a and b share nothing: no match at once.
    await c.join(interests=["art", "chess"])
    assert (await c.expect("match-found"))["peerId"] == b.address
    await b.expect("match-found")
    # a, alone, is still waiting; a newcomer with other interests meets a after the window (1 s).
    (d,) = await make_users(1)
    await d.connect()
    await d.join(interests=["golf"])
    found = await d.expect("match-found", timeout=4.0)
    assert found["peerId"] == a.address
