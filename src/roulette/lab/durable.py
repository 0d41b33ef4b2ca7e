"""Durable records written before a fault and looked for after it: a ban, a block, a report,
a token revocation. Each goes through the public API (the balancer); the report, which has no
read route, is looked up in the lab's database."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from roulette.lab.probe import connect_user
from roulette.loadtest.client import discover, sign_in
from roulette.loadtest.wallet import Wallet
from roulette.storage.sql import create_engine
from roulette.storage.sql.schema import reports

__all__ = ["DurableSeed", "seed", "verify"]

TIMEOUT = 30.0


@dataclass(frozen=True)
class DurableSeed:
    """What was written before the fault."""

    banned: str
    blocker_token: str
    blocked: str
    report_id: object
    revoked_token: str


async def seed(url: str, admin_token: str, rng: random.Random) -> DurableSeed:
    """Write one of each durable record through the service at ``url``.

    Raises:
        httpx.HTTPStatusError: the service refused one of them.
    """
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        info = await discover(http, url)
        banned, blocked = Wallet.generate(rng).address, Wallet.generate(rng).address
        admin = {"Authorization": f"Bearer {admin_token}"}
        ban = {"address": banned, "reason": "lab durability check"}
        (await http.post(f"{url}/admin/bans", json=ban, headers=admin)).raise_for_status()
        token = await sign_in(http, info, Wallet.generate(rng))
        me = {"Authorization": f"Bearer {token}"}
        block = {"targetAddr": blocked, "reason": "lab"}
        (await http.post(f"{url}/blocks", json=block, headers=me)).raise_for_status()
        report = {"targetAddr": blocked, "reason": "spam"}
        made = await http.post(f"{url}/reports", json=report, headers=me)
        made.raise_for_status()
        revoked, sock = await connect_user(http, info, Wallet.generate(rng))
        sock.close()
        gone = {"Authorization": f"Bearer {revoked}"}
        (await http.post(f"{url}/auth/logout", headers=gone)).raise_for_status()
        return DurableSeed(banned, token, blocked, made.json()["id"], revoked)


async def verify(url: str, admin_token: str, sql_url: str, seeded: DurableSeed) -> list[str]:
    """What of ``seeded`` is lost (empty when everything is still there)."""
    lost = []
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        admin = {"Authorization": f"Bearer {admin_token}"}
        bans = (await http.get(f"{url}/admin/bans", headers=admin)).json()
        if seeded.banned not in str(bans):
            lost.append(f"ban of {seeded.banned}")
        mine = {"Authorization": f"Bearer {seeded.blocker_token}"}
        blocks = (await http.get(f"{url}/blocks", headers=mine)).json()
        if seeded.blocked not in str(blocks):
            lost.append(f"block of {seeded.blocked}")
        gone = {"Authorization": f"Bearer {seeded.revoked_token}"}
        if (await http.get(f"{url}/auth/me", headers=gone)).status_code != 401:
            lost.append("token revocation (the revoked token works again)")
    engine = create_engine(sql_url)
    try:
        async with engine.connect() as connection:
            row = await connection.execute(
                select(reports.c.id).where(reports.c.id == seeded.report_id)
            )
            if row.first() is None:
                lost.append(f"report {seeded.report_id}")
    finally:
        await engine.dispose()
    return lost
