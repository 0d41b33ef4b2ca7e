"""The options of ``roulette loadtest``: defaults, parsing and the machine's limits."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from roulette.errors import ConfigError
from roulette.loadtest import LoadtestOptions, add_arguments, options_from_args


def _parse(*argv: str) -> LoadtestOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return options_from_args(parser.parse_args(argv))


def test_every_option_parses() -> None:
    options = _parse(
        "--url", "http://127.0.0.1:4000/", "--users", "30000", "--ramp", "60",
        "--duration", "300", "--think-min", "1", "--think-max", "3", "--processes", "3",
        "--source-addresses", "2", "--idle-fraction", "0.9", "--heartbeat-interval", "20",
        "--seed", "42", "--output", "out.json", "--plot", "out.png", "--no-live",
    )  # fmt: skip
    assert options == LoadtestOptions(
        url="http://127.0.0.1:4000",
        users=30000,
        ramp=60.0,
        duration=300.0,
        think_min=1.0,
        think_max=3.0,
        processes=3,
        source_addresses=2,
        idle_fraction=0.9,
        heartbeat_interval=20.0,
        seed=42,
        output=Path("out.json"),
        plot=Path("out.png"),
        live=False,
    )


def test_without_a_seed_each_run_draws_one() -> None:
    assert _parse().seed != _parse().seed or _parse().seed != _parse().seed


def test_processes_and_source_addresses_default_to_what_the_user_count_needs() -> None:
    assert (LoadtestOptions(users=100).process_count, LoadtestOptions(users=100).source_count) == (
        1,
        1,
    )
    big = LoadtestOptions(users=50_000)
    assert (big.process_count, big.source_count) == (5, 3)
    big.validate()


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (LoadtestOptions(url="ftp://127.0.0.1"), "not an http"),
        (LoadtestOptions(url="http://example.org"), "only sent to loopback"),
        (LoadtestOptions(users=0), "--users"),
        (LoadtestOptions(duration=0), "--duration"),
        (LoadtestOptions(ramp=100, duration=10), "--ramp"),
        (LoadtestOptions(think_min=5, think_max=1), "--think-min"),
        (LoadtestOptions(idle_fraction=1.5), "--idle-fraction"),
        (LoadtestOptions(heartbeat_interval=0), "--heartbeat-interval"),
        (LoadtestOptions(source_addresses=300), "--source-addresses"),
        (LoadtestOptions(users=20_000, processes=1), "raise --processes"),
        (LoadtestOptions(users=60_000, processes=6, source_addresses=2), "raise --source"),
    ],
)
def test_out_of_range_options_are_refused_by_name(options: LoadtestOptions, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        options.validate()


def test_localhost_is_loopback() -> None:
    LoadtestOptions(url="http://localhost:3001").validate()
