"""The review queue against a real server: auto-suspension, histories, decisions, audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from support.server import RunningServer, running_server
from support.users import User, signed_in_users

TOKEN = "review-admin-token-0123456789"
MIN_AGE = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir: Path = tmp_path_factory.mktemp("node")
    env = {
        "ADMIN_TOKEN": TOKEN,
        "REPORT_SUSPEND_THRESHOLD": "3",
        "REPORT_WINDOW_SECONDS": "600",
        "REPORTER_MIN_AGE_SECONDS": str(MIN_AGE),
    }
    with running_server(data_dir, env) as running:
        yield running


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Moderator": "ann"}
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as client:
        yield client


@pytest.fixture
async def users(server: RunningServer) -> AsyncIterator[Any]:
    made: list[User] = []

    async def make(count: int) -> list[User]:
        new = await signed_in_users(server, count)
        made.extend(new)
        return new

    yield make
    for user in made:
        await user.close()


async def _report(reporter: User, target: User, reason: str = "harassment") -> int:
    response = await reporter.http.post(
        "/reports", json={"targetAddr": target.address, "reason": reason}
    )
    assert response.status_code == 201, response.text
    report_id: int = response.json()["id"]
    return report_id


async def _is_banned(admin: httpx.AsyncClient, address: str) -> bool:
    bans = (await admin.get("/admin/bans")).json()["bans"]
    return any(b["address"] == address for b in bans)


async def test_a_flood_of_fresh_reporters_does_not_suspend_but_established_ones_do(
    users: Any, admin: httpx.AsyncClient
) -> None:
    target, *established = await users(3)
    await target.connect()
    await asyncio.sleep(MIN_AGE + 0.2)  # these three are now established wallets
    fresh = await users(6)
    for reporter in fresh:
        await _report(reporter, target, "spam")
    assert not await _is_banned(admin, target.address)  # 6 fresh reporters count for nothing

    await _report(established[0], target)  # 1 established + 1 fresh = 2 < 3
    assert not await _is_banned(admin, target.address)
    await _report(established[1], target)  # 2 + 2 = 4 >= 3: suspended pending review
    assert await _is_banned(admin, target.address)

    assert target.ws is not None
    with pytest.raises(ConnectionClosed) as closed:
        await target.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    (suspension,) = (await admin.get("/admin/audit", params={"target": target.address})).json()[
        "entries"
    ]
    assert (suspension["actor"], suspension["action"]) == ("auto-suspend", "auto_suspend")
    assert len(suspension["details"]["reporters"]) == 8


async def test_show_gives_both_histories_and_dismiss_lifts_a_suspension(
    users: Any, admin: httpx.AsyncClient
) -> None:
    target, *reporters = await users(4)
    await asyncio.sleep(MIN_AGE + 0.2)
    ids = [await _report(r, target) for r in reporters]
    assert await _is_banned(admin, target.address)

    queue = (await admin.get("/admin/reports")).json()["reports"]
    assert {r["id"] for r in queue} >= set(ids)
    shown = (await admin.get(f"/admin/reports/{ids[0]}")).json()
    assert shown["report"]["reporter"] == reporters[0].address
    assert shown["target"]["address"] == target.address
    assert shown["target"]["openReportsReceived"] == 3
    assert shown["target"]["ban"]["by"] == "auto-suspend"
    assert shown["target"]["firstSeen"] is not None
    assert shown["reporter"]["reportsMade"] == 1 and shown["reporter"]["ban"] is None

    resolved = await admin.post(
        f"/admin/reports/{ids[1]}/resolve", json={"action": "dismiss", "reason": "banter"}
    )
    assert resolved.status_code == 200 and resolved.json()["resolved"] == ids
    assert not await _is_banned(admin, target.address)
    twice = await admin.post(
        f"/admin/reports/{ids[1]}/resolve", json={"action": "dismiss", "reason": "again"}
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "report_resolved"
    missing = await admin.get("/admin/reports/999999")
    assert missing.status_code == 404

    entries = (await admin.get("/admin/audit", params={"target": target.address})).json()
    actions = [(e["actor"], e["action"]) for e in entries["entries"]]
    assert actions == [
        ("admin-api:ann", "resolve_reports"),
        ("admin-api:ann", "unban"),
        ("auto-suspend", "auto_suspend"),
    ]
    assert entries["entries"][0]["reason"] == "banter"


async def test_resolve_with_a_ban_that_expires(users: Any, admin: httpx.AsyncClient) -> None:
    reporter, target = await users(2)
    report_id = await _report(reporter, target)
    response = await admin.post(
        f"/admin/reports/{report_id}/resolve",
        json={"action": "ban", "reason": "threats", "expiresIn": 2},
    )
    assert response.status_code == 200
    banned = (await admin.get("/admin/bans")).json()["bans"]
    (ban,) = [b for b in banned if b["address"] == target.address]
    assert ban["by"] == "admin-api:ann" and ban["expiresAt"] is not None
    message, signature = await target.sign_in_message()
    refused = await target.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": signature}
    )
    assert refused.status_code == 403
    await asyncio.sleep(2.2)
    await target.sign_in()  # the ban lapsed on its own


async def test_admin_review_needs_the_token_and_bad_input_is_4xx(
    server: RunningServer, admin: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as anonymous:
        assert (await anonymous.get("/admin/reports")).status_code == 403
        assert (await anonymous.get("/admin/audit")).status_code == 403
    assert (await admin.get(f"/admin/reports/{2**40}")).status_code == 422
    assert (await admin.get("/admin/audit", params={"before": 2**63})).status_code == 422
    bad = await admin.post("/admin/reports/1/resolve", json={"action": "nuke", "reason": "x"})
    assert bad.status_code == 422
    assert (await admin.get("/admin/reports", params={"status": "weird"})).status_code == 422
    long_name = await admin.get("/admin/reports", headers={"X-Moderator": "x" * 41})
    assert long_name.status_code == 200  # reads are not audited; the name is not checked
    ban = await admin.post(
        "/admin/bans",
        json={"address": "0x" + "ab" * 20, "reason": "x"},
        headers={"X-Moderator": "x" * 41},
    )
    assert ban.status_code == 400 and ban.json()["error"]["code"] == "bad_moderator"
