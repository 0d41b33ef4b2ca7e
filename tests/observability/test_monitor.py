"""One monitor pass at a time: figures in, levels, notices, history and recovery out."""

from __future__ import annotations

from roulette.monitor_settings import MonitorSettings
from roulette.observability.monitor import Monitor, Probes
from roulette.observability.probes import Check
from roulette.observability.thresholds import Level
from roulette.observability.vitals import Vitals


async def answers() -> bool:
    return True


async def refuses() -> bool:
    raise ConnectionRefusedError


def monitor(sockets: list[int], checks: dict[str, Check]) -> Monitor:
    settings = MonitorSettings.from_env(
        {"ALERT_CPU_PERCENT_WARNING": "1000", "ALERT_CPU_PERCENT_CRITICAL": "1000",
         "ALERT_MEMORY_PERCENT_WARNING": "1000", "ALERT_MEMORY_PERCENT_CRITICAL": "1000",
         "ALERT_COOLDOWN_SECONDS": "0", "HEALTH_PROBE_TIMEOUT_SECONDS": "1"}
    )  # fmt: skip
    probes = Probes(
        checks=checks,
        sockets=lambda: sockets[0],
        relayed=lambda: 0,
        max_sockets=10,
    )
    return Monitor(settings, Vitals(), probes, None, source="test")


async def test_a_saturated_process_sheds_and_asks_for_instances_until_it_recovers() -> None:
    sockets = [10]
    m = monitor(sockets, {"database": answers})
    asked: list[str] = []
    m.scale_up.append(asked.append)
    await m.run_pass(100.0)
    assert m.vitals.levels["sockets"] is Level.CRITICAL
    assert m.vitals.gate.reasons() == ["shedding:monitor"]
    assert asked == ["sockets"]
    sockets[0] = 1
    await m.run_pass(101.0)
    assert m.vitals.gate.reasons() == []
    kinds = [(e["kind"], e["name"]) for e in m.vitals.history.events(0.0)]
    assert kinds == [
        ("alert", "sockets firing"),
        ("recovery", "scale_up"),
        ("recovery", "shed_start"),
        ("alert", "sockets resolved"),
        ("recovery", "shed_stop"),
    ]
    series = m.vitals.history.series(0.0)
    assert series["sockets_percent"] == [100.0, 10.0]
    assert series["database_down"] == [0.0, 0.0]


async def test_a_failing_probe_is_a_critical_dependency_alert_and_no_recovery() -> None:
    m = monitor([0], {"database": answers, "redis": refuses})
    await m.run_pass(5.0)
    assert m.vitals.levels["redis_down"] is Level.CRITICAL
    assert m.vitals.probes["redis"].error == "ConnectionRefusedError"
    assert m.vitals.gate.reasons() == []
    assert [e["name"] for e in m.vitals.history.events(0.0)] == ["redis_down firing"]
