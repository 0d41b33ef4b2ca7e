"""Health endpoints, the operator view and the dashboard against a real server."""

from __future__ import annotations

import httpx

from support.server import RunningServer

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


async def test_live_and_ready_answer_with_the_probed_dependencies(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/health/live")).json() == {"status": "alive"}
        ready = await http.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["ready"], body["reasons"]) == (True, [])
    assert set(body["dependencies"]) == {"database"}  # embedded state: no Redis, no RPC
    assert body["dependencies"]["database"]["ok"] is True
    assert body["dependencies"]["database"]["latencyMs"] > 0


async def test_the_public_summary_shows_no_internals(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        body = (await http.get("/health")).json()
    # Breaker states and the shedding flag (issue 11) name no host, address or figure.
    assert set(body) == {"status", "checks", "uptime", "worker", "breakers", "shedding"}
    assert set(body["checks"].values()) == {"ok"}  # a failure says "failing", never why
    assert set(body["breakers"]) == {"sql"}
    assert body["shedding"] is False


async def test_performance_needs_the_operator_token(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/health/performance")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token-0123456789"}
        assert (await http.get("/health/performance", headers=wrong)).status_code == 403
        for _ in range(5):
            await http.get("/health/live")
        await http.get("/no/such/route")
        answer = await http.get("/health/performance", headers=ADMIN)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body["windows"]) == {"1m", "5m", "1h"}
    minute = body["windows"]["1m"]
    assert minute["routes"]["/health/live"]["count"] >= 5
    assert minute["routes"]["/health/live"]["p95Ms"] is not None
    assert {"error": "peer:not_found", "count": 1} in minute["topErrors"]
    assert "select" in body["windows"]["1h"]["sql"]
    assert body["workers"]["this"]["pid"] > 0
    assert body["relay"]["relayedTotal"] >= 0


async def test_the_dashboard_page_is_self_contained_and_its_data_needs_the_token(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        page = await http.get("/dashboard")
        assert (await http.get("/dashboard/data")).status_code == 401
        data = (await http.get("/dashboard/data", headers=ADMIN)).json()
    assert page.status_code == 200
    assert "<script" in page.text
    assert "src=" not in page.text  # no external scripts, fonts or images
    assert set(data) >= {"series", "aggregates", "events", "alerts", "levels", "notReady"}
    assert set(data["aggregates"]) == {"1m", "5m", "1h"}


async def test_metrics_cover_the_system_application_and_scaling_categories(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        await http.get("/no/such/route")
        text = (await http.get("/metrics")).text
    for series in (
        "roulette_system_load_average{",
        "roulette_system_memory_percent ",
        "roulette_system_network_bytes_total{",
        "roulette_process_resident_memory_bytes ",
        "roulette_process_starts_total ",
        "roulette_http_requests_in_flight ",
        'roulette_errors_total{code="not_found",type="peer"}',
        'roulette_sql_query_duration_seconds_bucket{le="0.001",statement="select"}',
        "roulette_event_loop_lag_seconds_bucket",
        'roulette_dependency_up{dependency="database"} 1.0',
        "roulette_ws_connections_limit 19000.0",
        "roulette_session_duration_seconds_bucket",
    ):
        assert series in text, series
    assert "0x" not in text  # no address ever becomes a label
