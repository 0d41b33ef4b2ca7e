"""The health monitor of a real ``roulette serve``: a stopped Redis makes ``/health/ready``
503 and pages once (webhook and email), its return resolves once, a second outage inside the
cooldown pages nobody; real sockets (and a ``roulette loadtest`` burst) past a low cap fire
and clear the sockets alert."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.redis_fixtures import RedisServer
from support.receivers import Mailbox, Webhook, running_smtp, running_webhook
from support.server import RunningServer, free_port, running_server
from support.users import signed_in_users

OPERATOR = "operator-token-0123456789"
MONITOR_ENV = {
    "MONITOR_INTERVAL_SECONDS": "0.5",
    "HEALTH_PROBE_TIMEOUT_SECONDS": "1",
    "ALERT_RETRY_DELAY_SECONDS": "0.1",
    "MANAGEMENT_TOKEN": OPERATOR,
    # Eight builds share this host: its CPU, memory and loop lag must not page in these tests.
    **{
        f"ALERT_{figure}_{level}": "100000"
        for figure in ("CPU_PERCENT", "MEMORY_PERCENT", "LOOP_LAG_MS", "RESPONSE_P95_MS")
        for level in ("WARNING", "CRITICAL")
    },
}


def notices(hook: Webhook) -> list[tuple[str, str]]:
    """(alert, kind) of every notice the webhook received, in order."""
    return [
        (f["value"], a["fields"][1]["value"])
        for body in hook.bodies()
        for a in body["attachments"]
        for f in a["fields"][:1]
    ]


async def wait_ready(http: httpx.AsyncClient, status: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = await http.get("/health/ready")
        if answer.status_code == status or time.monotonic() > deadline:
            assert answer.status_code == status, answer.text
            body: dict[str, Any] = answer.json()
            return body
        await asyncio.sleep(0.1)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    # A probed port: redis-server cannot report a port-0 bind, and restarts on the same port.
    server = RedisServer(port=free_port(), directory=tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(120)
async def test_a_redis_outage_pages_once_and_resolves_once(
    tmp_path: Path, redis: RedisServer
) -> None:
    smtp_port = free_port()  # aiosmtpd's Controller connects to its port to start: not 0
    with (
        running_webhook() as hook,
        running_smtp(tmp_path, smtp_port, "alerts", "smtp-password-123") as box,
    ):
        env = MONITOR_ENV | {
            "REDIS_URL": redis.url,
            "ALERT_COOLDOWN_SECONDS": "60",
            "ALERT_WEBHOOK_URL": hook.url,
            "ALERT_WEBHOOK_SECRET": "webhook-secret-0123456789",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_USERNAME": "alerts",
            "SMTP_PASSWORD": "smtp-password-123",
            "SMTP_CA_FILE": str(tmp_path / "smtp.crt"),
            "ALERT_EMAIL_TO": "ops@example.org",
        }
        with running_server(tmp_path / "node", env) as node:
            await outage_and_recovery(node, redis, hook, box)


async def outage_and_recovery(
    node: RunningServer, redis: RedisServer, hook: Webhook, box: Mailbox
) -> None:
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as http:
        body = await wait_ready(http, 200)
        assert set(body["dependencies"]) == {"database", "redis"}
        assert body["dependencies"]["redis"]["latencyMs"] > 0

        stopped = time.time()
        redis.stop()
        body = await wait_ready(http, 503)
        assert "redis:down" in body["reasons"]
        assert body["dependencies"]["redis"]["ok"] is False
        during = await http.get("/metrics")  # the scrape still answers, and says why
        assert during.status_code == 200
        assert 'roulette_dependency_up{dependency="redis"} 0.0' in during.text
        await asyncio.to_thread(hook.wait_for, 1)
        fired = time.time()

        restarted = time.time()
        redis.start()
        body = await wait_ready(http, 200)
        recovered = time.time()
        await asyncio.to_thread(hook.wait_for, 2)
        resolved = time.time()
        assert notices(hook) == [("redis_down", "firing"), ("redis_down", "resolved")]
        assert len(await asyncio.to_thread(box.wait_for, 2)) == 2

        # A second outage inside the 60 s cooldown: held back, so neither page nor resolution.
        redis.stop()
        await wait_ready(http, 503)
        await asyncio.sleep(2.0)
        redis.start()
        await wait_ready(http, 200)
        await asyncio.sleep(2.0)
        assert notices(hook) == [("redis_down", "firing"), ("redis_down", "resolved")]
        assert len(box.messages) == 2

        perf = await http.get(
            "/health/performance", headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert perf.status_code == 200
        events = (
            await http.get("/dashboard/data", headers={"Authorization": f"Bearer {OPERATOR}"})
        ).json()["events"]
        metrics = (await http.get("/metrics")).text
    assert [e["name"] for e in events if e["kind"] == "alert"] == [
        "redis_down firing",
        "redis_down resolved",
    ]
    assert 'roulette_alert_notices_total{alert="redis_down",kind="firing"} 1.0' in metrics
    assert 'roulette_alert_deliveries_total{channel="webhook",outcome="sent"} 2.0' in metrics
    assert 'roulette_alert_deliveries_total{channel="email",outcome="sent"} 2.0' in metrics
    assert 'roulette_redis_command_duration_seconds_count{command="PING"}' in metrics
    stamp = [
        time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"
        for t in (stopped, fired, restarted, recovered, resolved)
    ]
    print(
        f"\nredis outage timeline (UTC): stopped {stamp[0]}, webhook fired {stamp[1]}, "
        f"redis restarted {stamp[2]}, ready again {stamp[3]}, resolved notice {stamp[4]}"
    )


@pytest.mark.timeout(90)
async def test_sockets_over_a_low_cap_fire_the_alert_and_closing_them_clears_it(
    tmp_path: Path,
) -> None:
    with running_webhook() as hook:
        env = MONITOR_ENV | {
            "MAX_CONNECTIONS": "10",
            "ALERT_SOCKETS_PERCENT_WARNING": "50",
            "ALERT_SOCKETS_PERCENT_CRITICAL": "100",
            "ALERT_COOLDOWN_SECONDS": "0",
            "ALERT_WEBHOOK_URL": hook.url,
        }
        with running_server(tmp_path / "node", env) as node:
            users = await signed_in_users(node, 6)
            for user in users:
                await user.connect()
            await asyncio.to_thread(hook.wait_for, 1)
            assert notices(hook) == [("sockets", "firing")]
            assert hook.bodies()[0]["text"].startswith("[WARNING] sockets firing")
            for user in users:
                await user.close()
            await asyncio.to_thread(hook.wait_for, 2)
    assert notices(hook) == [("sockets", "firing"), ("sockets", "resolved")]


@pytest.mark.timeout(150)
async def test_a_loadtest_burst_fires_the_sockets_alert_once_and_resolves_it_once(
    tmp_path: Path,
) -> None:
    with running_webhook() as hook:
        env = MONITOR_ENV | {
            "MAX_CONNECTIONS": "40",
            "ALERT_SOCKETS_PERCENT_WARNING": "50",
            "ALERT_SOCKETS_PERCENT_CRITICAL": "1000",
            "ALERT_COOLDOWN_SECONDS": "0",
            "ALERT_WEBHOOK_URL": hook.url,
        }
        with running_server(tmp_path / "node", env) as node:
            burst = [
                sys.executable, "-m", "roulette", "loadtest", "--url", node.http_url,
                "--users", "30", "--ramp", "2", "--duration", "12",
                "--think-min", "1", "--think-max", "2", "--no-live",
            ]  # fmt: skip
            done = await asyncio.to_thread(
                subprocess.run, burst, capture_output=True, timeout=90, check=False
            )
            assert done.returncode == 0, done.stdout + done.stderr
            await asyncio.to_thread(hook.wait_for, 2)
            await asyncio.sleep(2.0)  # nothing more may arrive
    assert notices(hook) == [("sockets", "firing"), ("sockets", "resolved")]
