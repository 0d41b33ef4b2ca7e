"""Recovery decisions: shed while this process is saturated, ask for instances once per page."""

from __future__ import annotations

from roulette.observability.alerting import AlertBook
from roulette.observability.recovery import Action, ActionKind, decide
from roulette.observability.thresholds import Level

C, W, OK = Level.CRITICAL, Level.WARNING, Level.OK


def test_a_critical_saturation_alert_sheds_and_asks_for_instances_once() -> None:
    book = AlertBook(cooldown=300.0)
    levels = {"event_loop_lag": C, "redis_down": OK}
    first = decide(levels, book.observe(levels, {}, 0.0), shedding=False)
    assert first == [
        Action(ActionKind.SCALE_UP, "event_loop_lag"),
        Action(ActionKind.SHED_START, "event_loop_lag"),
    ]
    assert decide(levels, book.observe(levels, {}, 5.0), shedding=True) == []
    calm = {"event_loop_lag": W, "redis_down": OK}
    assert decide(calm, book.observe(calm, {}, 10.0), shedding=True) == [
        Action(ActionKind.SHED_STOP, "load back below critical")
    ]


def test_host_cpu_asks_for_instances_but_does_not_shed() -> None:
    book = AlertBook(cooldown=0.0)
    levels = {"cpu": C}
    assert decide(levels, book.observe(levels, {}, 0.0), shedding=False) == [
        Action(ActionKind.SCALE_UP, "cpu")
    ]


def test_a_dependency_down_neither_scales_nor_sheds() -> None:
    book = AlertBook(cooldown=0.0)
    levels = {"redis_down": C}
    assert decide(levels, book.observe(levels, {}, 0.0), shedding=False) == []
