"""Reports, blocks and bans against a real server: durable, and enforced by matching."""

from __future__ import annotations

import asyncio

import httpx
from eth_account import Account

from conftest import MakeUsers
from support.server import RunningServer

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


async def test_report_is_stored_and_self_report_is_400(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    created = await a.http.post(
        "/reports", json={"targetAddr": b.address, "reason": "harassment", "notes": "rude"}
    )
    assert created.status_code == 201 and isinstance(created.json()["id"], int)
    self_report = await a.http.post("/reports", json={"targetAddr": a.address, "reason": "spam"})
    assert self_report.status_code == 400
    bad = await a.http.post("/reports", json={"targetAddr": "0x123", "reason": "spam"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_address"


async def test_reports_need_a_signed_in_user(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/reports", json={"targetAddr": Account.create().address, "reason": "spam"}
        )
    assert response.status_code == 401


async def test_block_list_and_unblock(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    assert (await a.http.post("/blocks", json={"targetAddr": b.address.lower()})).status_code == 201
    again = await a.http.post("/blocks", json={"targetAddr": b.address})
    assert again.status_code == 409
    listed = (await a.http.get("/blocks")).json()
    assert listed["total"] == 1 and listed["blocklist"][0]["address"] == b.address
    assert (await a.http.delete(f"/blocks/{b.address}")).status_code == 200
    assert (await a.http.get("/blocks")).json() == {"blocklist": [], "total": 0}
    assert (await a.http.delete(f"/blocks/{b.address}")).status_code == 404


async def test_a_block_made_while_queued_applies_at_once(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    await a.join()
    assert (await b.http.post("/blocks", json={"targetAddr": a.address})).status_code == 201
    await b.join()
    await asyncio.sleep(0.3)
    await b.send({"type": "heartbeat"})
    assert (await b.expect("heartbeat-ack"))["type"] == "heartbeat-ack"
    # A third user still meets the first one waiting.
    (c,) = await make_users(1)
    await c.connect()
    await c.join()
    assert (await c.expect("match-found"))["peerId"] == a.address


async def test_admin_ban_needs_the_token_and_refuses_the_user_everywhere(
    make_users: MakeUsers, server: RunningServer
) -> None:
    (user,) = await make_users(1)
    await user.connect()
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        denied = await http.post("/admin/bans", json={"address": user.address, "reason": "spam"})
        assert denied.status_code == 403
        banned = await http.post(
            "/admin/bans", json={"address": user.address, "reason": "spam"}, headers=ADMIN
        )
        assert banned.status_code == 201
        listed = (await http.get("/admin/bans", headers=ADMIN)).json()
        assert user.address in [b["address"] for b in listed["bans"]]
    assert user.ws is not None
    await asyncio.wait_for(user.ws.wait_closed(), 3.0)
    assert user.ws.close_code == 1008
    message, signature = await user.sign_in_message()
    again = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": signature}
    )
    assert again.status_code == 403 and again.json()["error"]["code"] == "banned"
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        lifted = await http.delete(f"/admin/bans/{user.address}", headers=ADMIN)
        assert lifted.status_code == 200
