"""Alert channels: console (a structured log line), webhook (Slack-compatible JSON, signed)
and email (SMTP submission with STARTTLS and AUTH), fed through bounded queues.

The monitor only ever calls :meth:`Dispatcher.offer`, which never waits: each channel has its
own bounded queue and sender task, so a dead SMTP server delays nobody but its own mail. A
failed send is retried (``ALERT_RETRIES``, growing delay); every outcome is counted in
``roulette_alert_deliveries_total{channel,outcome}`` (sent, retried, failed, dropped).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, Protocol

from roulette.monitor_settings import EmailSettings, WebhookSettings
from roulette.observability.alerting import Batch, Notice, NoticeKind
from roulette.observability.metrics import ALERT_DELIVERIES
from roulette.observability.thresholds import Level

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Channel",
    "ConsoleChannel",
    "Dispatcher",
    "EmailChannel",
    "WebhookChannel",
    "sign",
]

log = logging.getLogger("roulette.alerts")

SIGNATURE_HEADER = "X-Roulette-Signature"
TIMESTAMP_HEADER = "X-Roulette-Timestamp"
SEND_TIMEOUT_SECONDS = 10.0
_COLORS = {Level.OK: "#2eb67d", Level.WARNING: "#ecb22e", Level.CRITICAL: "#e01e5a"}


class Channel(Protocol):
    """Somewhere alerts go."""

    name: str

    def accepts(self, notice: Notice) -> bool:
        """Whether this channel wants ``notice``."""

    async def send(self, batch: Batch) -> None:
        """Deliver one batch; raise on failure (the dispatcher retries)."""


def _describe(notice: Notice) -> str:
    value = "n/a" if notice.value is None else f"{notice.value:g}"
    return f"{notice.alert} {notice.kind.value} ({notice.level.label}, value {value})"


class ConsoleChannel:
    """One structured log line per notice (``roulette.alerts`` logger)."""

    name = "console"

    def accepts(self, notice: Notice) -> bool:
        """Every notice is logged."""
        return True

    async def send(self, batch: Batch) -> None:
        """Log the notices of ``batch``."""
        for n in batch.notices:
            log.warning(
                "alert_notice alert=%s kind=%s level=%s value=%s started_at=%.3f at=%.3f",
                *(n.alert, n.kind.value, n.level.label, n.value, n.started_at, n.at),
            )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 (RFC 2104) of ``timestamp.body`` — a receiver recomputes it
    and compares in constant time; the timestamp lets it refuse replays."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def slack_payload(batch: Batch, source: str) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` plus one attachment per notice)."""
    return {
        "text": f"{batch.title} — {source}",
        "attachments": [
            {
                "color": _COLORS[Level.OK if n.kind is NoticeKind.RESOLVED else n.level],
                "title": _describe(n),
                "text": n.summary,
                "ts": int(n.at),
                "fields": [
                    {"title": "alert", "value": n.alert, "short": True},
                    {"title": "status", "value": n.kind.value, "short": True},
                    {"title": "level", "value": n.level.label, "short": True},
                    {"title": "since", "value": f"{n.started_at:.0f}", "short": True},
                ],
            }
            for n in batch.notices
        ],
    }


class WebhookChannel:
    """POST a Slack-compatible JSON body, signed with ``ALERT_WEBHOOK_SECRET`` when set."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings, source: str) -> None:
        self._settings = settings
        self._source = source

    def accepts(self, notice: Notice) -> bool:
        """Every notice goes to the webhook."""
        return True

    async def send(self, batch: Batch) -> None:
        """POST the batch; any non-2xx answer is a failure."""
        body = json.dumps(slack_payload(batch, self._source)).encode()
        headers = {"Content-Type": "application/json"}
        if self._settings.secret:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(self._settings.secret, stamp, body)
        import httpx  # noqa: PLC0415 - ~0.15 s of import, kept off the worker's start path

        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as client:
            answer = await client.post(self._settings.url, content=body, headers=headers)
        answer.raise_for_status()


class EmailChannel:
    """Mail notices at or above ``ALERT_EMAIL_MIN_LEVEL`` (and their resolutions)."""

    name = "email"

    def __init__(self, settings: EmailSettings, source: str) -> None:
        self._settings = settings
        self._source = source

    def accepts(self, notice: Notice) -> bool:
        """Notices at the minimum level or above (a resolution carries its incident's level)."""
        return notice.level >= self._settings.min_level

    async def send(self, batch: Batch) -> None:
        """Submit one message; smtplib blocks, so it runs in a thread."""
        await asyncio.to_thread(self._submit, self.message(batch))

    def message(self, batch: Batch) -> EmailMessage:
        """The mail for ``batch``."""
        s = self._settings
        mail = EmailMessage()
        mail["Subject"] = f"{batch.title} — {self._source}"
        mail["From"] = s.sender
        mail["To"] = ", ".join(s.recipients)
        lines = [
            f"{_describe(n)}\n  {n.summary}\n  since {n.started_at:.0f}" for n in batch.notices
        ]
        mail.set_content("\n\n".join(lines) + "\n")
        return mail

    def _submit(self, mail: EmailMessage) -> None:
        s = self._settings
        with smtplib.SMTP(s.host, s.port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if s.starttls:  # RFC 3207; the certificate is verified (SMTP_CA_FILE for a private CA)
                context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
                smtp.starttls(context=context)
            if s.username and s.password:  # RFC 4954, only ever over TLS when STARTTLS is on
                smtp.login(s.username, s.password)
            smtp.send_message(mail)


class Dispatcher:
    """Bounded queues and one sender task per channel.

    Args:
        channels: where alerts go.
        queue_size: batches waiting per channel at most; more are dropped (counted).
        retries: extra attempts after a failed send.
        retry_delay: seconds before the first retry; doubled each time.
    """

    def __init__(
        self, channels: Sequence[Channel], *, queue_size: int, retries: int, retry_delay: float
    ) -> None:
        self.channels = tuple(channels)
        self._queues: dict[str, asyncio.Queue[Batch]] = {
            c.name: asyncio.Queue(maxsize=queue_size) for c in self.channels
        }
        self._retries = retries
        self._retry_delay = retry_delay

    def offer(self, batch: Batch) -> None:
        """Queue the notices each channel accepts; never waits."""
        for channel in self.channels:
            wanted = tuple(n for n in batch.notices if channel.accepts(n))
            if not wanted:
                continue
            try:
                self._queues[channel.name].put_nowait(Batch(wanted, batch.level))
            except asyncio.QueueFull:
                ALERT_DELIVERIES.labels(channel.name, "dropped").inc()
                log.error("alert_dropped channel=%s reason=queue-full", channel.name)

    def start(self, tasks: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        """Start one sender per channel in ``tasks``; they end when cancelled."""
        return [tasks.create_task(self._sender(c)) for c in self.channels]

    async def _sender(self, channel: Channel) -> None:
        queue = self._queues[channel.name]
        while True:
            batch = await queue.get()
            try:
                await self._deliver(channel, batch)
            finally:
                queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued batch was delivered or given up (senders must run)."""
        for queue in self._queues.values():
            await queue.join()

    async def _deliver(self, channel: Channel, batch: Batch) -> None:
        delay = self._retry_delay
        for attempt in range(self._retries + 1):
            try:
                await channel.send(batch)
            except Exception as exc:  # a channel's failure is counted, never raised
                log.warning(
                    "alert_send_failed channel=%s attempt=%d error=%s",
                    *(channel.name, attempt + 1, type(exc).__name__),
                )
                if attempt < self._retries:
                    ALERT_DELIVERIES.labels(channel.name, "retried").inc()
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            ALERT_DELIVERIES.labels(channel.name, "sent").inc()
            return
        ALERT_DELIVERIES.labels(channel.name, "failed").inc()
        log.error("alert_given_up channel=%s title=%r", channel.name, batch.title)
