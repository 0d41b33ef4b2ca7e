"""Issue 10, holes 1 and 2: frames RFC 6455 forbids, and malformed JSON, against a real server.

Hole 1: text that is not UTF-8 was relayed (the peer's client then failed *its* connection),
binary frames were taken as text, RSV bits were ignored. Hole 2: deep JSON and bad UTF-8 in a
chat line raised inside the handler: close 1011 and a traceback in the log.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from picows import WSMsgType

from conftest import MakeUsers
from support.raw_ws import RawSocket, open_raw
from support.server import RunningServer
from support.users import User

pytestmark = pytest.mark.usefixtures("raw_cleanup")


async def raw_pair(server: RunningServer, make_users: MakeUsers) -> tuple[RawSocket, User, str]:
    """A raw (attacker) client and a normal user, matched; returns both and the session id."""
    attacker, victim = await make_users(2)
    raw = await open_raw(server.ws_url, attacker.bearer)
    await victim.connect()
    raw.send_text(json.dumps({"type": "join-queue", "chainId": 1}).encode())
    await raw.expect("queue-joined")
    await victim.join()
    session = (await victim.expect("match-found"))["sessionId"]
    await raw.expect("match-found")
    return raw, victim, str(session)


async def assert_victim_unharmed(victim: User) -> None:
    """The victim's socket is open and served; it never received the attacker's frame."""
    message = await victim.recv()
    assert message["type"] == "peer-disconnected", message  # the attacker was closed
    await victim.send({"type": "heartbeat"})
    await victim.expect("heartbeat-ack")
    assert victim.ws is not None and victim.ws.close_code is None


def assert_no_traceback(server: RunningServer) -> None:
    assert "Traceback" not in server.log()


async def test_hole1_invalid_utf8_in_an_offer_closes_1007_and_never_reaches_the_peer(
    server: RunningServer, make_users: MakeUsers
) -> None:
    raw, victim, session = await raw_pair(server, make_users)
    head = json.dumps({"type": "offer", "sessionId": session}).encode()[:-1]
    raw.send_text(head + b', "data": {"sdp": "\xff"}}')
    assert await raw.close_code_within() == 1007
    await assert_victim_unharmed(victim)


async def test_hole1_a_binary_frame_closes_1003(
    server: RunningServer, make_users: MakeUsers
) -> None:
    (user,) = await make_users(1)
    raw = await open_raw(server.ws_url, user.bearer)
    raw.send(WSMsgType.BINARY, json.dumps({"type": "heartbeat"}).encode())
    assert await raw.close_code_within() == 1003


async def test_hole1_an_rsv1_bit_without_an_extension_closes_1002(
    server: RunningServer, make_users: MakeUsers
) -> None:
    (user,) = await make_users(1)
    raw = await open_raw(server.ws_url, user.bearer)
    raw.send(WSMsgType.TEXT, json.dumps({"type": "heartbeat"}).encode(), rsv1=True)
    assert await raw.close_code_within() == 1002


async def test_hole1_a_new_message_inside_a_fragmented_one_closes_1002(
    server: RunningServer, make_users: MakeUsers
) -> None:
    (user,) = await make_users(1)
    raw = await open_raw(server.ws_url, user.bearer)
    raw.send(WSMsgType.TEXT, b'{"type":', fin=False)
    raw.send(WSMsgType.TEXT, b'"heartbeat"}')
    assert await raw.close_code_within() == 1002


async def test_hole1_utf8_is_checked_on_the_whole_fragmented_message(
    server: RunningServer, make_users: MakeUsers
) -> None:
    (user,) = await make_users(1)
    raw = await open_raw(server.ws_url, user.bearer)
    e_acute = "é".encode()  # a valid character split between two fragments passes
    raw.send(WSMsgType.TEXT, b'{"type":"heartbeat","pad":"' + e_acute[:1], fin=False)
    raw.send(WSMsgType.CONTINUATION, e_acute[1:] + b'"}')
    await raw.expect("heartbeat-ack")
    raw.send(WSMsgType.TEXT, b'{"type":"heartbeat","pad":"\xc3', fin=False)
    raw.send(WSMsgType.CONTINUATION, b'"}')  # a lone lead byte: invalid
    assert await raw.close_code_within() == 1007


async def test_hole2_json_nested_1000_deep_gets_an_error_and_no_traceback(
    server: RunningServer, make_users: MakeUsers
) -> None:
    raw, victim, session = await raw_pair(server, make_users)
    deep = b"[" * 1000 + b"]" * 1000
    raw.send_text(b'{"type":"offer","sessionId":"' + session.encode() + b'","data":' + deep + b"}")
    error = await raw.expect("error")
    assert error["code"] == "too_deep"
    raw.send_text(b'{"type":"heartbeat"}')
    await raw.expect("heartbeat-ack")  # the socket stays open
    raw.send_text(b'{"type":"chat","sessionId":"' + session.encode() + b'","text":"still here"}')
    assert (await victim.expect("chat"))["text"] == "still here"
    assert_no_traceback(server)


async def test_hole2_invalid_utf8_in_chat_text_closes_1007_not_1011(
    server: RunningServer, make_users: MakeUsers
) -> None:
    raw, victim, session = await raw_pair(server, make_users)
    raw.send_text(
        b'{"type":"chat","sessionId":"' + session.encode() + b'","text":"hi \xed\xa0\x80"}'
    )
    assert await raw.close_code_within() == 1007
    await assert_victim_unharmed(victim)
    await asyncio.sleep(0.1)
    assert_no_traceback(server)
