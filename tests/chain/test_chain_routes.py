"""The chain routes in a small FastAPI app: real service, real anvil, real SQLite (migrated).

Every tip here is a real transaction on the local node; forged ones are refused with the code
a client sees in ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chain.conftest import CHAIN, ETHER, OTHER_CHAIN, World
from roulette.api.chain_routes import EndedSession, chain_router
from roulette.chain import ChainService, ChainSettings, TipRechecker, TipRecord
from roulette.chain.abi import call_data
from roulette.chain.recheck import notify_tip
from roulette.errors import (
    RouletteError,
    Unauthenticated,
    Unavailable,
    http_status,
    public_message,
)
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.storage.sql.database import create_engine, upgrade
from roulette.storage.sql.tips import SqlTips


@dataclass
class Harness:
    """The app's collaborators, visible to the test."""

    client: httpx.AsyncClient
    service: ChainService
    tips: SqlTips
    sessions: dict[str, Session | EndedSession] = field(default_factory=dict)
    notified: list[tuple[Address, dict[str, object]]] = field(default_factory=list)

    def session(self, a: Address, b: Address, *, started: float | None = None) -> str:
        sid = f"s{len(self.sessions) + 1}"
        self.sessions[sid] = Session(
            SessionId(sid), CHAIN, a, b, WorkerId("w1"), WorkerId("w1"),
            started if started is not None else time.time() - 60,
        )  # fmt: skip
        return sid

    async def post_tip(
        self, caller: Address, sid: str, tx_hash: str, chain_id: int = CHAIN
    ) -> httpx.Response:
        body = {"sessionId": sid, "chainId": chain_id, "txHash": tx_hash}
        return await self.client.post("/tips", json=body, headers={"x-address": caller})


async def _notify(harness: Harness, address: Address, data: bytes) -> None:
    harness.notified.append((address, json.loads(data)))


def _app(harness_ref: list[Harness], service: ChainService, tips: SqlTips) -> FastAPI:
    app = FastAPI()

    async def current_address(request: Request) -> Address:
        address = request.headers.get("x-address")
        if address is None:
            raise Unauthenticated("sign in first")
        return Address(address)

    async def lookup(sid: str) -> Session | EndedSession | None:
        return harness_ref[0].sessions.get(sid)

    async def notify(address: Address, data: bytes) -> None:
        await _notify(harness_ref[0], address, data)

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        code, message = public_message(exc)
        return JSONResponse({"error": {"code": code, "message": message}}, http_status(exc))

    app.add_exception_handler(RouletteError, on_error)
    app.include_router(
        chain_router(
            service, tips, current_address=current_address, session_lookup=lookup, notify=notify
        )
    )
    return app


@asynccontextmanager
async def _harness(settings: ChainSettings, tmp_path: Path) -> AsyncIterator[Harness]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roulette.db'}"
    await upgrade(url)
    engine = create_engine(url)
    service = ChainService.create(settings)
    tips = SqlTips(engine)
    ref: list[Harness] = []
    transport = httpx.ASGITransport(app=_app(ref, service, tips))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ref.append(Harness(client, service, tips))
        yield ref[0]
    await service.aclose()
    await engine.dispose()


@pytest.fixture
async def api(settings: ChainSettings, tmp_path: Path) -> AsyncIterator[Harness]:
    async with _harness(settings, tmp_path) as harness:
        yield harness


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_a_native_tip_is_verified_recorded_and_announced(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.bob, world.alice, value=ETHER // 100)

    response = await api.post_tip(world.bob, sid, tx)

    assert response.status_code == 201, response.text
    tip = response.json()
    assert (tip["from"], tip["to"], tip["token"]) == (world.bob, world.alice, None)
    assert (tip["amount"], tip["status"], tip["txHash"]) == (str(ETHER // 100), "confirmed", tx)
    assert api.notified == [
        (
            world.alice,
            {
                "type": "tip-received",
                "sessionId": sid,
                "from": world.bob,
                "chainId": CHAIN,
                "token": None,
                "amount": str(ETHER // 100),
                "txHash": tx,
            },
        )
    ]


async def test_an_erc20_tip_is_verified_from_its_transfer_log(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.transact(
        world.bob, world.token, "transfer(address,uint256)", world.alice, 3 * ETHER
    )

    response = await api.post_tip(world.bob, sid, tx.upper().replace("0X", "0x"))

    assert response.status_code == 201, response.text
    assert (response.json()["token"], response.json()["amount"]) == (world.token, str(3 * ETHER))
    assert api.notified[0][1]["token"] == world.token


async def test_tips_are_listed_as_sent_and_received(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.bob, world.alice, value=1234)
    assert (await api.post_tip(world.bob, sid, tx)).status_code == 201

    bobs = (await api.client.get("/tips", headers={"x-address": world.bob})).json()
    alices = (await api.client.get("/tips", headers={"x-address": world.alice})).json()

    assert [t["txHash"] for t in bobs["sent"]] == [tx]
    assert bobs["received"] == []
    assert [t["txHash"] for t in alices["received"]] == [tx]


async def test_a_replayed_hash_counts_once(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.bob, world.alice, value=1)
    assert (await api.post_tip(world.bob, sid, tx)).status_code == 201

    again = await api.post_tip(world.bob, sid, tx)

    assert (again.status_code, _error(again)) == (409, "tip_already_recorded")
    assert len(api.notified) == 1


async def test_a_tip_to_someone_else_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.bob, world.carol, value=ETHER // 10)

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (400, "tip_wrong_recipient")
    assert api.notified == []


async def test_a_transfer_of_an_unconfigured_token_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.transact(
        world.bob, world.stray_token, "transfer(address,uint256)", world.alice, ETHER
    )

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (400, "tip_wrong_recipient")


async def test_a_reverted_transaction_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    too_much = call_data("transfer(address,uint256)", world.alice, 10**30)
    tx = world.evm.send(world.bob, world.token, too_much, gas=100_000)
    assert world.evm.receipt(tx)["status"] == "0x0"

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (400, "tip_reverted")


async def test_a_tip_sent_by_someone_else_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.carol, world.alice, value=ETHER // 10)

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (403, "tip_wrong_sender")


async def test_a_tip_on_another_chain_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.other.send(world.bob, world.alice, value=ETHER // 10)

    as_other = await api.post_tip(world.bob, sid, tx, chain_id=OTHER_CHAIN)
    as_this = await api.post_tip(world.bob, sid, tx, chain_id=CHAIN)

    assert (as_other.status_code, _error(as_other)) == (400, "tip_wrong_chain")
    assert (as_this.status_code, _error(as_this)) == (409, "tip_not_mined")


async def test_a_tip_long_after_the_session_ended_is_refused(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob, started=time.time() - 4000)
    ended = api.sessions[sid]
    assert isinstance(ended, Session)
    api.sessions[sid] = EndedSession(ended, ended_at=time.time() - 3000)
    tx = world.evm.send(world.bob, world.alice, value=ETHER // 10)

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (400, "tip_outside_window")


async def test_a_tip_shortly_after_the_session_ended_is_accepted(
    api: Harness, world: World
) -> None:
    sid = api.session(world.alice, world.bob, started=time.time() - 600)
    live = api.sessions[sid]
    assert isinstance(live, Session)
    api.sessions[sid] = EndedSession(live, ended_at=time.time() - 120)
    tx = world.evm.send(world.bob, world.alice, value=ETHER // 10)

    assert (await api.post_tip(world.bob, sid, tx)).status_code == 201


async def test_a_tip_sent_before_the_session_is_refused(api: Harness, world: World) -> None:
    tx = world.evm.send(world.bob, world.alice, value=ETHER // 10)
    sid = api.session(world.alice, world.bob, started=time.time() + 600)

    response = await api.post_tip(world.bob, sid, tx)

    assert (response.status_code, _error(response)) == (400, "tip_outside_window")


async def test_a_session_the_caller_is_not_in_is_not_found(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)
    tx = world.evm.send(world.carol, world.alice, value=1)

    response = await api.post_tip(world.carol, sid, tx)
    unknown = await api.post_tip(world.carol, "nope", tx)

    assert (response.status_code, _error(response)) == (404, "session_not_found")
    assert (unknown.status_code, _error(unknown)) == (404, "session_not_found")


async def test_a_malformed_hash_is_a_bad_request(api: Harness, world: World) -> None:
    sid = api.session(world.alice, world.bob)

    response = await api.post_tip(world.bob, sid, "0x1234")

    assert (response.status_code, _error(response)) == (400, "invalid_tx_hash")


async def test_a_tip_under_too_few_confirmations_is_pending_until_rechecked(
    settings: ChainSettings, tmp_path: Path, world: World
) -> None:
    async with _harness(replace(settings, tip_confirmations=3), tmp_path) as api:
        sid = api.session(world.alice, world.bob)
        tx = world.evm.send(world.bob, world.alice, value=ETHER // 1000)

        response = await api.post_tip(world.bob, sid, tx)
        assert (response.status_code, response.json()["status"]) == (202, "pending")
        assert api.notified == []

        rechecker = TipRechecker(api.service, api.tips, partial(_notify, api))
        assert await rechecker.recheck_once() == []
        world.evm.mine(2)
        settled = await rechecker.recheck_once()

        assert [(t.tx_hash, t.status.value) for t in settled] == [(tx, "confirmed")]
        assert [n[1]["txHash"] for n in api.notified] == [tx]
        listed = (await api.client.get("/tips", headers={"x-address": world.bob})).json()
        assert listed["sent"][0]["status"] == "confirmed"


async def test_balances_route_shows_amounts_as_strings(api: Harness, world: World) -> None:
    response = await api.client.get(
        "/balances", params={"chainId": CHAIN}, headers={"x-address": world.alice}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chainId"] == CHAIN
    assert body["address"] == world.alice
    assert {t["symbol"]: t["formatted"] for t in body["tokens"]}["USDX"] == "2.5"
    assert isinstance(body["native"]["raw"], str)


async def test_balances_route_refuses_an_unknown_chain(api: Harness, world: World) -> None:
    response = await api.client.get(
        "/balances", params={"chainId": 999}, headers={"x-address": world.alice}
    )

    assert (response.status_code, _error(response)) == (400, "unsupported_chain")


async def test_the_recheck_loop_runs_in_a_task_group_until_cancelled(
    settings: ChainSettings, tmp_path: Path, world: World
) -> None:
    async with _harness(replace(settings, tip_confirmations=2), tmp_path) as api:
        sid = api.session(world.alice, world.bob)
        tx = world.evm.send(world.bob, world.alice, value=ETHER // 1000)
        assert (await api.post_tip(world.bob, sid, tx)).status_code == 202
        told = asyncio.Event()

        async def notify(address: Address, data: bytes) -> None:
            await _notify(api, address, data)
            told.set()

        world.evm.mine(1)
        rechecker = TipRechecker(api.service, api.tips, notify, interval=0.01)
        async with asyncio.TaskGroup() as tg:
            loop = tg.create_task(rechecker.run())
            await asyncio.wait_for(told.wait(), timeout=5)
            loop.cancel()

        assert [n[1]["txHash"] for n in api.notified] == [tx]


async def test_a_failed_notification_leaves_the_tip_recorded(
    settings: ChainSettings, tmp_path: Path, world: World
) -> None:
    async with _harness(settings, tmp_path) as api:
        sid = api.session(world.alice, world.bob)

        async def offline(address: Address, data: bytes) -> None:
            raise Unavailable("the peer is offline")

        tx = world.evm.send(world.bob, world.alice, value=7)
        await notify_tip(offline, await _verified(api, world, sid, tx))

        assert (await api.tips.get(tx)) is not None


async def _verified(api: Harness, world: World, sid: str, tx: str) -> TipRecord:
    assert (await api.post_tip(world.bob, sid, tx)).status_code == 201
    tip = await api.tips.get(tx)
    assert tip is not None
    return tip
