"""The virtual users' behaviour: pure choices from an injected random source."""

from __future__ import annotations

import random

import pytest

from roulette.loadtest import scenario as sc


def test_a_stay_is_a_think_time_within_bounds() -> None:
    scenario = sc.Scenario(think_min=3.0, think_max=4.0)
    rng = random.Random(1)
    stays = [scenario.stay_seconds(rng, since_last_next=100.0) for _ in range(200)]
    assert all(3.0 <= stay <= 4.0 for stay in stays)


def test_a_stay_never_ends_before_the_servers_next_interval() -> None:
    """``next`` twice within 2 s is refused; short think times must not provoke that."""
    scenario = sc.Scenario(think_min=0.0, think_max=0.1)
    stay = scenario.stay_seconds(random.Random(1), since_last_next=0.5)
    assert stay >= sc.NEXT_INTERVAL_SECONDS - 0.5


def test_the_end_of_a_session_follows_the_weights() -> None:
    rng = random.Random(2)
    only_next = sc.Scenario(next_weight=1, end_weight=0, relogin_weight=0)
    assert {only_next.choose_end(rng) for _ in range(50)} == {sc.EndAction.NEXT}
    mixed = sc.Scenario()
    assert {mixed.choose_end(rng) for _ in range(500)} == set(sc.EndAction)


def test_counts_and_gaps_stay_in_their_ranges() -> None:
    scenario, rng = sc.Scenario(), random.Random(3)
    assert all(10 <= scenario.candidate_count(rng) <= 20 for _ in range(100))
    assert all(2 <= scenario.chat_count(rng) <= 4 for _ in range(100))
    assert all(0 <= scenario.candidate_gap(rng) <= 0.04 for _ in range(100))


@pytest.mark.parametrize("kind", ["offer", "answer"])
def test_a_session_description_is_an_sdp_of_the_asked_size(kind: str) -> None:
    rng = random.Random(4)
    assert len(sc.session_description(rng, kind, (3000, 3000))["sdp"]) == 3000
    for _ in range(20):
        description = sc.session_description(rng, kind, (2048, 4096))
        assert description["type"] == kind
        assert description["sdp"].startswith("v=0\r\n")
        assert description["sdp"].endswith("\r\n")
        assert 2048 <= len(description["sdp"]) <= 4096
        assert description["sdp"].count("\r\n") == description["sdp"].count("\n")


def test_an_ice_candidate_carries_its_send_time() -> None:
    candidate = sc.ice_candidate(random.Random(5), 3, sent_at=1234.5)
    assert candidate["candidate"].startswith("candidate:")
    assert sc.sent_at_of(candidate) == 1234.5


@pytest.mark.parametrize(
    "data",
    [None, "x", {}, {"sentAt": "1"}, {"sentAt": True}, {"sentAt": float("nan")}],
)
def test_data_without_a_usable_send_time_has_none(data: object) -> None:
    assert sc.sent_at_of(data) is None


def test_chat_lines_are_short_text() -> None:
    assert 0 < len(sc.chat_line(random.Random(6))) <= 2000


def test_users_start_evenly_over_the_ramp() -> None:
    assert [sc.start_offset(i, 4, 8.0) for i in range(4)] == [0.0, 2.0, 4.0, 6.0]
    assert sc.start_offset(0, 0, 8.0) == 0.0


def test_source_addresses_go_round_robin_from_127_0_0_2() -> None:
    assert [sc.source_address(i, 3) for i in range(4)] == [
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.2",
    ]


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_the_idle_fraction_is_spread_evenly(fraction: float) -> None:
    idle = [sc.is_idle(i, fraction) for i in range(1000)]
    assert sum(idle) == round(1000 * fraction)
    assert abs(sum(idle[:500]) - sum(idle[500:])) <= 1


def test_processes_split_the_users_exactly_once() -> None:
    shares = [list(sc.users_of_process(p, 3, 10)) for p in range(3)]
    assert sorted(i for share in shares for i in share) == list(range(10))
    assert shares[0] == [0, 3, 6, 9]
