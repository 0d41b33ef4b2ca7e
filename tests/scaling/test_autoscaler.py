"""The autoscaler end to end as a pure object: proposals, windows, rules, override, events."""

from __future__ import annotations

import pytest

from roulette.scaling.autoscaler import Autoscaler, OutOfBounds
from roulette.scaling.behavior import Bounds
from roulette.scaling.hpa import Target, WorkerSample
from roulette.scaling.rules import DEFAULT_RULES
from roulette.scaling.settings import ScalingPolicy

SOCKETS = ScalingPolicy(targets=(Target("sockets", 60.0),), rules=())


def at(percent: float, count: int) -> list[WorkerSample]:
    return [WorkerSample(True, {"sockets": percent}) for _ in range(count)]


WIDE = Bounds(1, 10)


def make(policy: ScalingPolicy = SOCKETS, bounds: Bounds = WIDE) -> Autoscaler:
    return Autoscaler(policy, bounds)


def test_overload_scales_up_at_once_and_records_why() -> None:
    scaler = make()
    decision = scaler.evaluate(at(120, 2), {}, current=2, now=0)
    assert decision.desired == 4
    assert decision.events[0].kind == "scale"
    assert "sockets" in decision.events[0].reason
    assert scaler.status()["events"][0]["to"] == 4


def test_scale_down_waits_for_its_window() -> None:
    scaler = make()
    scaler.evaluate(at(60, 4), {}, current=4, now=0)
    for t in range(15, 300, 15):
        assert scaler.evaluate(at(15, 4), {}, current=4, now=t).desired == 4
    assert scaler.evaluate(at(15, 4), {}, current=4, now=300).desired == 1


def test_noise_inside_the_tolerance_never_moves() -> None:
    scaler = make()
    for i in range(100):
        noisy = 60 * (1.08 if i % 2 else 0.92)
        assert scaler.evaluate(at(noisy, 3), {}, current=3, now=i * 15).desired == 3
    assert not scaler.events


def test_max_bound_caps_and_says_so() -> None:
    decision = make(bounds=Bounds(1, 3)).evaluate(at(600, 2), {}, current=2, now=0)
    assert decision.desired == 3
    assert "MAX_INSTANCES=3" in decision.reason


def test_a_rule_fires_then_cools_down() -> None:
    policy = ScalingPolicy(targets=(), rules=DEFAULT_RULES)
    scaler = make(policy)
    first = scaler.evaluate([], {"cpu": 90}, current=2, now=0)
    assert first.desired == 4
    again = scaler.evaluate([], {"cpu": 90}, current=4, now=60)
    assert again.desired == 4
    assert "cooling down" in again.rules[0].reason
    assert scaler.evaluate([], {"cpu": 90}, current=4, now=301).desired == 6


def test_manual_override_holds_against_the_policy_and_records_proposals() -> None:
    scaler = make()
    event = scaler.set_manual(6, reason="High CPU load", by="ops", ttl=None, current=2, now=0)
    assert (event.kind, event.from_count, event.to_count, event.by) == ("manual", 2, 6, "ops")
    for t in (15, 30, 45):
        decision = scaler.evaluate(at(5, 6), {}, current=6, now=t)
        assert decision.desired == 6
        assert "manual override by ops" in decision.reason
    held = scaler.status()["heldProposals"]
    assert len(held) == 1  # the same proposal is recorded once
    assert held[0]["to"] == 1  # no history yet, so nothing stabilizes the proposal
    assert scaler.clear_manual(by="ops", current=6, now=50) is not None
    assert scaler.clear_manual(by="ops", current=6, now=50) is None


def test_manual_override_expires_after_its_ttl() -> None:
    scaler = make()
    scaler.set_manual(5, reason="event", by="ops", ttl=60, current=2, now=0)
    assert scaler.evaluate(at(60, 5), {}, current=5, now=59).desired == 5
    decision = scaler.evaluate(at(150, 5), {}, current=5, now=60)
    assert decision.events[0].kind == "manual-expired"
    assert decision.desired == 10  # the policy is back: 5 × 150/60 = 12.5, capped at 10
    assert scaler.override is None


@pytest.mark.parametrize(("instances", "ttl"), [(0, None), (11, None), (3, 0.0), (3, 1e9)])
def test_manual_outside_the_bounds_is_refused(instances: int, ttl: float | None) -> None:
    with pytest.raises(OutOfBounds):
        make().set_manual(instances, reason="x", by="ops", ttl=ttl, current=2, now=0)


def test_disabled_autoscaling_computes_but_does_not_apply() -> None:
    scaler = Autoscaler(SOCKETS, Bounds(1, 10), enabled=False)
    decision = scaler.evaluate(at(120, 2), {}, current=2, now=0)
    assert decision.desired == 2
    assert decision.proposed == 4
    assert "AUTO_SCALING_ENABLED is off" in decision.reason
    status = scaler.status()
    assert status["enabled"] is False
    assert status["last"]["targets"][0]["proposal"] == 4


def test_status_shape() -> None:
    scaler = make(ScalingPolicy())
    scaler.evaluate(at(30, 2), {"cpu": 10.0}, current=2, now=0)
    status = scaler.status()
    assert status["bounds"] == {"min": 1, "max": 10}
    assert [r["rule"] for r in status["last"]["rules"]] == [
        "high-cpu-scale-up",
        "high-memory-scale-up",
    ]
    assert status["last"]["rules"][0]["reason"] == "not cpu 10 >= 80"
    assert status["last"]["rules"][1]["reason"] == "no data for memory"
