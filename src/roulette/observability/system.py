"""Host figures from psutil: CPU, load, memory, network and disk I/O.

One :class:`HostSampler` per process keeps its own previous CPU times, so the monitor and
the scrape see the same CPU figure (``psutil.cpu_percent(None)`` resets a global reference on
every call, and two callers would halve each other's windows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["HOST", "HostSample", "HostSampler", "SystemCollector"]

MIN_CPU_WINDOW = 1.0
"""Seconds: a CPU figure over a shorter window is noise; the last one is returned instead."""


@dataclass(frozen=True, slots=True)
class HostSample:
    """The host's figures at one moment."""

    cpu_percent: float | None
    memory_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    load: tuple[float, float, float]


class HostSampler:
    """CPU use between calls (at least :data:`MIN_CPU_WINDOW` apart), and the rest as is."""

    def __init__(self) -> None:
        self._last = psutil.cpu_times()
        self._last_at = time.monotonic()
        self._percent: float | None = None

    def cpu_percent(self) -> float | None:
        """Host CPU busy share (0-100) since the previous window; None before the first."""
        now = time.monotonic()
        if now - self._last_at >= MIN_CPU_WINDOW:
            times = psutil.cpu_times()
            total = sum(times) - sum(self._last)
            idle = (times.idle + getattr(times, "iowait", 0.0)) - (
                self._last.idle + getattr(self._last, "iowait", 0.0)
            )
            if total > 0:
                self._percent = max(0.0, min(100.0, 100.0 * (1.0 - idle / total)))
            self._last, self._last_at = times, now
        return self._percent

    def sample(self) -> HostSample:
        """CPU, memory and load now."""
        memory = psutil.virtual_memory()
        return HostSample(
            cpu_percent=self.cpu_percent(),
            memory_percent=memory.percent,
            memory_used_bytes=memory.total - memory.available,
            memory_total_bytes=memory.total,
            load=os.getloadavg(),
        )


HOST = HostSampler()


class SystemCollector(Collector):
    """Host metrics, read at scrape time (they are the same whichever worker answers)."""

    def collect(self) -> Iterator[Metric]:
        sample = HOST.sample()
        if sample.cpu_percent is not None:
            yield GaugeMetricFamily(
                "roulette_system_cpu_percent", "Host CPU in use (%).", value=sample.cpu_percent
            )
        load = GaugeMetricFamily(
            "roulette_system_load_average", "Host load average.", labels=["period"]
        )
        for period, value in zip(("1m", "5m", "15m"), sample.load, strict=True):
            load.add_metric([period], value)
        yield load
        yield GaugeMetricFamily(
            "roulette_system_memory_percent", "Host memory in use (%).", value=sample.memory_percent
        )
        memory = GaugeMetricFamily(
            "roulette_system_memory_bytes", "Host memory by state.", labels=["state"]
        )
        memory.add_metric(["used"], sample.memory_used_bytes)
        memory.add_metric(["total"], sample.memory_total_bytes)
        yield memory
        yield from _io()


def _io() -> Iterator[Metric]:
    net = psutil.net_io_counters()
    network = CounterMetricFamily(
        "roulette_system_network_bytes", "Host network traffic.", labels=["direction"]
    )
    network.add_metric(["sent"], net.bytes_sent)
    network.add_metric(["received"], net.bytes_recv)
    yield network
    disk = psutil.disk_io_counters()
    if disk is not None:
        io = CounterMetricFamily(
            "roulette_system_disk_bytes", "Host disk I/O.", labels=["direction"]
        )
        io.add_metric(["read"], disk.read_bytes)
        io.add_metric(["written"], disk.write_bytes)
        yield io
