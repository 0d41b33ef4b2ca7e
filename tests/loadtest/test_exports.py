"""The public API of ``roulette.loadtest`` is pinned: ``roulette loadtest`` is wired to it."""

from __future__ import annotations

from roulette import loadtest


def test_the_public_names_are_pinned() -> None:
    assert sorted(loadtest.__all__) == [
        "LoadtestOptions",
        "add_arguments",
        "options_from_args",
        "run_loadtest",
    ]


def test_every_public_name_exists() -> None:
    assert all(hasattr(loadtest, name) for name in loadtest.__all__)
