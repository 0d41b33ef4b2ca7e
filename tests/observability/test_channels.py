"""Alert channels against real receivers on loopback: an HTTP webhook and an SMTP server with
STARTTLS and AUTH; failures are retried and counted, a full queue drops (counted)."""

from __future__ import annotations

import asyncio
import email
import hmac
from email.policy import default
from pathlib import Path

import pytest

from roulette.monitor_settings import EmailSettings, WebhookSettings
from roulette.observability.alerting import AlertBook, Batch, group
from roulette.observability.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ConsoleChannel,
    Dispatcher,
    EmailChannel,
    WebhookChannel,
    sign,
)
from roulette.observability.metrics import ALERT_DELIVERIES
from roulette.observability.thresholds import Level
from support.receivers import running_smtp, running_webhook
from support.server import free_port

SECRET = "webhook-secret-0123456789"


def firing_and_resolved() -> tuple[Batch, Batch]:
    book = AlertBook(cooldown=0.0, summaries={"redis_down": "redis does not answer"})
    fired = group(book.observe({"redis_down": Level.CRITICAL}, {"redis_down": 1.0}, 100.0))
    resolved = group(book.observe({"redis_down": Level.OK}, {"redis_down": 0.0}, 130.0))
    assert fired is not None
    assert resolved is not None
    return fired, resolved


def delivered(channel: str, outcome: str) -> float:
    return float(ALERT_DELIVERIES.labels(channel, outcome)._value.get())


async def deliver(dispatcher: Dispatcher, *batches: Batch, until: float = 20.0) -> None:
    """Run the dispatcher's senders until they have emptied their queues (or ``until``)."""
    async with asyncio.TaskGroup() as tasks:
        senders = dispatcher.start(tasks)
        for batch in batches:
            dispatcher.offer(batch)
        async with asyncio.timeout(until):
            await dispatcher.flush()
        for task in senders:
            task.cancel()


async def test_the_webhook_gets_a_signed_slack_compatible_body() -> None:
    fired, resolved = firing_and_resolved()
    with running_webhook() as hook:
        channel = WebhookChannel(WebhookSettings(hook.url, SECRET), "node-a")
        dispatcher = Dispatcher([channel], queue_size=4, retries=0, retry_delay=0.0)
        async with asyncio.TaskGroup() as tasks:
            senders = dispatcher.start(tasks)
            dispatcher.offer(fired)
            dispatcher.offer(resolved)
            await asyncio.to_thread(hook.wait_for, 2)
            for task in senders:
                task.cancel()
    (h1, b1), _ = hook.received
    expected = sign(SECRET, h1[TIMESTAMP_HEADER], b1)
    assert hmac.compare_digest(h1[SIGNATURE_HEADER], expected)
    first, second = hook.bodies()
    assert first["text"].startswith("[CRITICAL] redis_down firing")
    assert first["attachments"][0]["fields"][1] == {
        "title": "status",
        "value": "firing",
        "short": True,
    }
    assert second["text"].startswith("[OK] redis_down resolved")
    assert sign("another-secret-123456", h1[TIMESTAMP_HEADER], b1) != h1[SIGNATURE_HEADER]


async def test_a_failing_webhook_is_retried_and_each_outcome_counted() -> None:
    fired, _ = firing_and_resolved()
    retried, sent, failed = (delivered("webhook", o) for o in ("retried", "sent", "failed"))
    with running_webhook() as hook:
        hook.fail_next = 2
        channel = WebhookChannel(WebhookSettings(hook.url, SECRET), "node-a")
        dispatcher = Dispatcher([channel], queue_size=4, retries=3, retry_delay=0.01)
        async with asyncio.TaskGroup() as tasks:
            senders = dispatcher.start(tasks)
            dispatcher.offer(fired)
            await asyncio.to_thread(hook.wait_for, 1)
            for task in senders:
                task.cancel()
        assert (hook.refused, len(hook.received)) == (2, 1)
    assert delivered("webhook", "retried") - retried == 2
    assert delivered("webhook", "sent") - sent == 1
    assert delivered("webhook", "failed") == failed


async def test_an_unreachable_webhook_gives_up_without_blocking_and_a_full_queue_drops() -> None:
    fired, _ = firing_and_resolved()
    dead_url = f"http://127.0.0.1:{free_port()}/x"  # nobody listens there
    dead = WebhookChannel(WebhookSettings(dead_url), "node-a")
    failed, dropped = delivered("webhook", "failed"), delivered("webhook", "dropped")
    dispatcher = Dispatcher([dead, ConsoleChannel()], queue_size=1, retries=1, retry_delay=0.01)
    for _ in range(3):
        dispatcher.offer(fired)  # never waits: the queue holds one, the rest are dropped
    assert delivered("webhook", "dropped") - dropped == 2
    await deliver(dispatcher)
    assert delivered("webhook", "failed") - failed == 1


async def test_email_goes_over_starttls_with_auth_and_only_at_the_minimum_level(
    tmp_path: Path,
) -> None:
    fired, resolved = firing_and_resolved()
    book = AlertBook(cooldown=0.0)
    warning = group(book.observe({"cpu": Level.WARNING}, {"cpu": 85.0}, 1.0))
    assert warning is not None
    port = free_port()  # aiosmtpd's Controller connects to its port to start: not 0
    cert = tmp_path / "smtp.crt"
    with running_smtp(tmp_path, port, "alerts", "smtp-password-123") as box:
        settings = EmailSettings(
            host="127.0.0.1",
            port=port,
            sender="roulette@example.org",
            recipients=("ops@example.org", "oncall@example.org"),
            username="alerts",
            password="smtp-password-123",
            starttls=True,
            ca_file=cert,
            min_level=Level.CRITICAL,
        )
        dispatcher = Dispatcher(
            [EmailChannel(settings, "node-a")], queue_size=4, retries=0, retry_delay=0
        )
        await deliver(dispatcher, warning, fired, resolved)
        messages = await asyncio.to_thread(box.wait_for, 2)
    assert box.logins == ["alerts", "alerts"]
    assert box.tls_sessions == 2
    assert [m.rcpt_tos for m in messages] == [["ops@example.org", "oncall@example.org"]] * 2
    subjects = [
        email.message_from_bytes(m.original_content or b"", policy=default)["Subject"]
        for m in messages
    ]
    assert subjects == [
        "[CRITICAL] redis_down firing — node-a",
        "[OK] redis_down resolved — node-a",
    ]


async def test_an_unreachable_smtp_server_is_retried_then_counted_as_failed() -> None:
    fired, _ = firing_and_resolved()
    failed, retried = delivered("email", "failed"), delivered("email", "retried")
    nobody = free_port()  # nobody listens there
    settings = EmailSettings(host="127.0.0.1", port=nobody, recipients=("ops@example.org",))
    dispatcher = Dispatcher([EmailChannel(settings, "n")], queue_size=4, retries=2, retry_delay=0)
    await deliver(dispatcher, fired)
    assert delivered("email", "retried") - retried == 2
    assert delivered("email", "failed") - failed == 1


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    """Without SMTP_CA_FILE the self-signed certificate does not verify: no silent downgrade."""
    fired, _ = firing_and_resolved()
    port = free_port()  # aiosmtpd's Controller connects to its port to start: not 0
    with running_smtp(tmp_path, port, "alerts", "smtp-password-123") as box:
        settings = EmailSettings(host="127.0.0.1", port=port, recipients=("ops@example.org",))
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            EmailChannel(settings, "n")._submit(EmailChannel(settings, "n").message(fired))
    assert box.messages == []
