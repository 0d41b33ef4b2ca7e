"""The alert book: dedup, cooldown, resolved notices, grouping (pure, time passed in)."""

from __future__ import annotations

from roulette.observability.alerting import AlertBook, NoticeKind, group
from roulette.observability.thresholds import Level

OK, W, C = Level.OK, Level.WARNING, Level.CRITICAL
FIRING, RESOLVED = NoticeKind.FIRING, NoticeKind.RESOLVED


def run(book: AlertBook, timeline: list[tuple[float, Level]]) -> list[tuple[float, str, str]]:
    """Feed one alert's levels; return (time, kind, level) of every notice."""
    out = []
    for now, level in timeline:
        for n in book.observe({"cpu": level}, {"cpu": 1.0}, now):
            out.append((n.at, n.kind.value, n.level.label))
    return out


def test_one_incident_gives_one_firing_and_one_resolved_notice() -> None:
    book = AlertBook(cooldown=60.0)
    notices = run(book, [(0, OK), (5, W), (10, W), (15, W), (20, OK), (25, OK)])
    assert notices == [(5, "firing", "warning"), (20, "resolved", "warning")]


def test_escalation_is_announced_and_a_step_down_is_silent() -> None:
    book = AlertBook(cooldown=0.0)
    notices = run(book, [(0, W), (5, C), (10, W), (15, C), (20, OK)])
    assert notices == [
        (0, "firing", "warning"),
        (5, "firing", "critical"),
        (20, "resolved", "critical"),
    ]


def test_a_refiring_within_the_cooldown_is_held_back_with_its_resolution() -> None:
    book = AlertBook(cooldown=60.0)
    notices = run(book, [(0, W), (10, OK), (20, W), (30, OK), (40, W), (50, W), (60, W), (70, OK)])
    # 20 and 40 fall in the cooldown of the notice at 0; at 60 the alert still fires: announced.
    assert notices == [(0, "firing", "warning"), (10, "resolved", "warning"),
                       (60, "firing", "warning"), (70, "resolved", "warning")]  # fmt: skip


def test_an_escalation_inside_the_cooldown_waits_for_it() -> None:
    book = AlertBook(cooldown=30.0)
    notices = run(book, [(0, W), (10, C), (29, C), (30, C), (40, OK)])
    assert notices == [
        (0, "firing", "warning"),
        (30, "firing", "critical"),
        (40, "resolved", "critical"),
    ]


def test_notices_keep_when_the_incident_started_and_the_summary() -> None:
    book = AlertBook(cooldown=0.0, summaries={"cpu": "CPU in use"})
    book.observe({"cpu": W}, {"cpu": 85.0}, 100.0)
    (resolved,) = book.observe({"cpu": OK}, {"cpu": 10.0}, 160.0)
    assert (resolved.started_at, resolved.at, resolved.summary) == (100.0, 160.0, "CPU in use")
    assert resolved.value == 10.0


def test_alerts_are_independent_and_reported_in_name_order() -> None:
    book = AlertBook(cooldown=300.0)
    notices = book.observe({"redis_down": C, "cpu": W, "memory": OK}, {}, 0.0)
    assert [(n.alert, n.kind) for n in notices] == [("cpu", FIRING), ("redis_down", FIRING)]
    assert book.firing() == {"cpu": W, "redis_down": C}
    assert book.worst() is C
    notices = book.observe({"redis_down": OK, "cpu": W, "memory": OK}, {}, 5.0)
    assert [(n.alert, n.kind) for n in notices] == [("redis_down", RESOLVED)]
    assert book.worst() is W


def test_group_makes_one_batch_per_pass_at_the_worst_firing_level() -> None:
    book = AlertBook(cooldown=0.0)
    assert group([]) is None
    batch = group(book.observe({"cpu": W, "redis_down": C}, {}, 0.0))
    assert batch is not None
    assert batch.level is C
    assert batch.title == "[CRITICAL] cpu firing, redis_down firing"
    resolved = group(book.observe({"cpu": OK, "redis_down": OK}, {}, 1.0))
    assert resolved is not None
    assert resolved.level is OK
    assert len(resolved.notices) == 2
