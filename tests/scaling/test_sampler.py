"""The sampler against real processes and real Prometheus multiprocess files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roulette.scaling.sampler import HistogramDeltas, NodeSampler, WorkerReport, read_histograms

BURN = (
    "import time\nprint('burning', flush=True)\n"
    "end = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"
)


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # the interpreter is up (its RSS is real) and spinning
    yield process
    process.kill()
    process.wait()
    process.stdout.close()


def report(pid: int, **kw: object) -> WorkerReport:
    fields: dict[str, object] = {
        "worker_id": "w1",
        "ready": True,
        "connections": 95,
        "counters": {"connections_opened": 10, "handshakes_refused": 0},
        "beat_gap": 1.25,
    }
    fields.update(kw)
    return WorkerReport(pid, **fields)  # type: ignore[arg-type]


def test_a_busy_worker_reads_as_cpu_rss_sockets_lag_and_errors(
    busy: subprocess.Popen[bytes],
) -> None:
    sampler = NodeSampler("n1", socket_cap=100, metrics_dir=None)
    first = sampler.sample([report(busy.pid)], now=0.0)
    (w,) = first.workers
    assert w.cpu is None  # psutil needs two readings
    assert w.rss_bytes is not None and w.rss_bytes > 1024 * 1024
    assert w.loop_lag_ms == pytest.approx(250.0)
    assert w.error_rate is None  # counters need two readings
    time.sleep(2.0)
    counters = {"connections_opened": 13, "handshakes_refused": 1}
    second = sampler.sample([report(busy.pid, counters=counters, beat_gap=None)], now=1.0)
    (w,) = second.workers
    # A spinning process; the machine's 2 cores are shared with other suites, so only "busy".
    assert w.cpu is not None and w.cpu > 2.0
    assert w.error_rate == pytest.approx(25.0)
    assert w.loop_lag_ms == pytest.approx(250.0)  # no beat since: the last gap seen stays
    values = second.values()
    assert values["sockets"] == 95.0
    assert 0 < values["memory"] <= 100


def test_gone_and_starting_workers() -> None:
    sampler = NodeSampler("n1", socket_cap=100, metrics_dir=None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    signals = sampler.sample([report(dead.pid), report(os.getpid(), ready=False)], now=0.0)
    gone, starting = signals.workers
    assert (gone.cpu, gone.rss_bytes) == (None, None)
    assert starting.ready is False
    assert starting.values() == {}


def test_histograms_from_multiprocess_files(tmp_path: Path) -> None:
    """A real child writes a histogram in multiprocess mode; the p95 is over the delta."""
    script = (
        "from prometheus_client import Histogram\n"
        "h = Histogram('roulette_http_request_duration_seconds', 'x', ['route'],"
        " buckets=(0.01, 0.1, 1.0))\n"
        "import sys\n"
        "for v in sys.argv[1:]: h.labels('/a').observe(float(v))\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script, *["0.005"] * 100], env=env, check=True)
    deltas = HistogramDeltas()
    first = deltas.p95s(read_histograms(tmp_path))
    assert first["httpP95"] == pytest.approx(9.5)  # ms: all in the first bucket
    subprocess.run([sys.executable, "-c", script, *["0.5"] * 100], env=env, check=True)
    second = deltas.p95s(read_histograms(tmp_path))
    assert second["httpP95"] > 100  # only the new, slow observations count
    sampler = NodeSampler("n1", socket_cap=100, metrics_dir=tmp_path)
    assert sampler.sample([], now=0.0).node["httpP95"] > 100  # 200 seen, 100 of them slow
    assert "httpP95" not in sampler.sample([], now=1.0).node  # nothing new since
