"""Health, metrics, client config and stats against a real server."""

from __future__ import annotations

import httpx

from conftest import MakeUsers
from support.server import RunningServer


async def test_health_is_public_and_200(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "state": "ok"}


async def test_config_tells_clients_where_the_websocket_is(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        body = (await http.get("/config")).json()
    assert body["websocketUrl"] == server.ws_url
    assert body["chainIds"] == [1]
    assert body["iceServers"] == []
    # The web client waits these out instead of hard-coding them (web/js/timings.js).
    assert body["reconnectGraceSeconds"] == 30.0
    assert body["nextIntervalSeconds"] == 2.0


async def test_metrics_expose_the_promised_series(
    make_users: MakeUsers, server: RunningServer
) -> None:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    await a.join()
    await b.join()
    await a.expect("match-found")
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        text = (await http.get("/metrics")).text
    for series in (
        "roulette_ws_connections ",
        'roulette_queue_length{chain_id="1"}',
        "roulette_matches_total ",
        "roulette_relayed_messages_total ",
        "roulette_auth_success_total ",
        "roulette_auth_failures_total ",
        "roulette_http_request_duration_seconds_bucket",
    ):
        assert series in text, series


async def test_webrtc_stats_need_a_token(make_users: MakeUsers, server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/api/webrtc/stats")).status_code == 401
    (user,) = await make_users(1)
    body = (await user.http.get("/api/webrtc/stats")).json()
    assert {"activeSessions", "queued", "connections"} <= set(body)


async def test_unknown_routes_and_huge_bodies_get_the_error_shape(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        missing = await http.get("/nope")
        huge = await http.post(
            "/reports", content=b"x" * 100_000, headers={"content-type": "application/json"}
        )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
