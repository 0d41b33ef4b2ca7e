"""Builds the health monitor of one node and its alert channels from the settings."""

from __future__ import annotations

import socket

from roulette.api.services import Services
from roulette.config import Config
from roulette.observability.channels import (
    Channel,
    ConsoleChannel,
    Dispatcher,
    EmailChannel,
    WebhookChannel,
)
from roulette.observability.monitor import Monitor, Probes, sends_alerts

__all__ = ["build_monitor"]


def build_monitor(config: Config, svc: Services, worker_id: str | None) -> Monitor | None:
    """The monitor (None with ``MONITORING_ENABLED=false``); only one worker gets channels."""
    settings = config.monitor
    if not settings.enabled:
        return None
    source = f"{socket.gethostname()} {config.host}:{config.port}"
    dispatcher = None
    if sends_alerts(worker_id):
        channels: list[Channel] = [ConsoleChannel()]
        if settings.webhook is not None:
            channels.append(WebhookChannel(settings.webhook, source))
        if settings.email is not None:
            channels.append(EmailChannel(settings.email, source))
        dispatcher = Dispatcher(
            channels,
            queue_size=settings.queue_size,
            retries=settings.retries,
            retry_delay=settings.retry_delay_seconds,
        )
    probes = Probes(
        checks=svc.vitals.checks,
        sockets=lambda: len(svc.hub),
        relayed=lambda: svc.hub.relayed,
        max_sockets=config.limits.max_connections,
        relay_p95_ms=svc.hub.latency.p95_ms,
    )
    return Monitor(settings, svc.vitals, probes, dispatcher, source=source)
