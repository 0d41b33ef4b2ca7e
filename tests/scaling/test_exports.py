"""The public API of ``roulette.scaling`` is pinned: the supervisor and the CLI use it."""

from __future__ import annotations

from roulette import scaling


def test_the_public_names_are_pinned() -> None:
    assert sorted(scaling.__all__) == [
        "Autoscaler",
        "Behavior",
        "Bounds",
        "DEFAULT_BEHAVIOR",
        "DEFAULT_RULES",
        "Decision",
        "Event",
        "NodeSignals",
        "OutOfBounds",
        "Override",
        "Proposal",
        "Rule",
        "ScalingPolicy",
        "Target",
        "WorkerSample",
        "WorkerSignals",
        "combine",
        "evaluate_rules",
        "load_policy",
        "parse_policy",
        "propose",
    ]


def test_every_public_name_exists() -> None:
    assert all(hasattr(scaling, name) for name in scaling.__all__)
