"""HPA's proportional rule, with the Kubernetes documentation's worked examples as golden cases."""

from __future__ import annotations

import pytest

from roulette.scaling.hpa import Proposal, Target, WorkerSample, combine, propose

CPU = Target("cpu", 100.0)


def ready(*values: float) -> list[WorkerSample]:
    return [WorkerSample(True, {"cpu": v}) for v in values]


@pytest.mark.parametrize(
    ("current", "samples", "expected"),
    [
        # Docs: "current metric value is 200m, desired 100m: the number of replicas is doubled".
        (3, ready(200, 200, 200), 6),
        # Docs: "if the current value is instead 50m, you'll halve the number of replicas".
        (4, ready(50, 50, 50, 50), 2),
        # Docs: within the tolerance (0.1 by default) nothing changes.
        (4, ready(109, 109, 109, 109), 4),
        (4, ready(91, 91, 91, 91), 4),
        # Just outside the tolerance: ceil(4 × 1.11) = 5.
        (4, ready(111, 111, 111, 111), 5),
        # The ratio uses the average: ceil(2 × 150/100) = 3.
        (2, ready(100, 200), 3),
    ],
)
def test_proportional_rule_matches_the_documented_examples(
    current: int, samples: list[WorkerSample], expected: int
) -> None:
    assert propose(current, samples, CPU).replicas == expected


def test_missing_instances_count_as_zero_on_a_scale_up() -> None:
    """Two of four report 200 % of target: naïvely ceil(2 × 2.0) = 4 — with the two missing at
    0 % the average is 100 %, inside the tolerance: hold."""
    proposal = propose(4, ready(200, 200), CPU)
    assert proposal.replicas == 4
    assert "missing" in proposal.reason


def test_missing_instances_dampen_but_do_not_stop_a_big_scale_up() -> None:
    # Two report 400 %, two missing → average with zeros 200 % → ceil(4 × 2.0) = 8.
    assert propose(4, ready(400, 400), CPU).replicas == 8


def test_missing_instances_count_as_the_target_on_a_scale_down() -> None:
    # Two at 20 %, two missing at 100 % → 60 % → ceil(4 × 0.6) = 3 (not ceil(2 × 0.2) = 1).
    assert propose(4, ready(20, 20), CPU).replicas == 3


def test_missing_instances_that_reverse_the_direction_hold() -> None:
    # One at 85 %, three missing at 100 % → 96 %: within tolerance → hold.
    assert propose(4, ready(85), CPU).replicas == 4


def test_unready_instances_count_as_zero_on_a_scale_up() -> None:
    samples = [*ready(300, 300), WorkerSample(False, {"cpu": 900})]
    # Ready average 300 % → with the unready one at 0: 200 % over 3 → 6.
    assert propose(3, samples, CPU).replicas == 6


def test_unready_instances_are_ignored_on_a_scale_down() -> None:
    samples = [*ready(40, 40), WorkerSample(False, {"cpu": 900})]
    assert propose(3, samples, CPU).replicas == 1


def test_no_ready_value_gives_no_proposal() -> None:
    proposal = propose(2, [WorkerSample(True, {})], CPU)
    assert proposal.replicas is None
    assert proposal.value is None


def test_the_raw_average_is_reported_not_the_conservative_one() -> None:
    assert propose(4, ready(200, 200), CPU).value == 200


def test_a_target_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        Target("cpu", 0)


@pytest.mark.parametrize(
    ("proposals", "expected"),
    [
        # The largest proposal across metrics wins.
        ([Proposal("cpu", 3, 1, ""), Proposal("sockets", 5, 1, "")], 5),
        # A metric without data blocks a scale-down...
        ([Proposal("cpu", 2, 1, ""), Proposal("sockets", None, None, "")], 4),
        # ...but not a scale-up.
        ([Proposal("cpu", 6, 1, ""), Proposal("sockets", None, None, "")], 6),
        # Nothing usable: hold.
        ([Proposal("cpu", None, None, "")], 4),
    ],
)
def test_combine_takes_the_largest_and_is_cautious_without_data(
    proposals: list[Proposal], expected: int
) -> None:
    assert combine(4, proposals)[0] == expected
