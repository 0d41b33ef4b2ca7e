"""The matching rules: pure, table-driven, no event loop."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

import roulette.matchmaking
from roulette.identity import Address, WorkerId
from roulette.matchmaking.policy import MatchPolicy, Pair, WaitingLine, sweep, waiting_order
from roulette.matchmaking.records import Lane, QueueEntry

POLICY = MatchPolicy(interest_wait_seconds=10.0)


def q(
    who: str,
    at: float = 0.0,
    interests: str = "",
    *,
    chain: int = 1,
    queue: str | None = None,
    excluded: str = "",
) -> QueueEntry:
    """A queue entry; each letter of ``interests`` and ``excluded`` is one interest or user."""
    return QueueEntry(
        address=Address(who),
        chain_id=chain,
        interests=frozenset(interests),
        enqueued_at=at,
        worker=WorkerId("w"),
        excluded=frozenset(Address(x) for x in excluded),
        queue=queue,
    )


def names(pairs: Sequence[Pair]) -> list[str]:
    return [a.address + b.address for a, b in pairs]


def test_the_package_exports_the_policy() -> None:
    assert set(roulette.matchmaking.__all__) >= {"MatchPolicy", "QueueEntry", "WaitingLine"}
    assert roulette.matchmaking.MatchPolicy is MatchPolicy


def test_the_default_interest_window_is_ten_seconds() -> None:
    assert MatchPolicy().interest_wait_seconds == 10.0


# ---------------------------------------------------------------- hard constraints


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        (q("A"), q("B"), True),
        (q("A"), q("A"), False),
        (q("A", chain=1), q("B", chain=137), False),
        (q("A", queue="vip"), q("B"), False),
        (q("A", queue="vip"), q("B", queue="vip"), True),
        (q("A", excluded="B"), q("B"), False),
        (q("A"), q("B", excluded="A"), False),
        (q("A", excluded="C"), q("B", excluded="D"), True),
    ],
    ids=["fine", "self", "chains", "lanes", "same-named-lane", "a-blocks", "b-blocks", "others"],
)
def test_compatibility_is_the_hard_constraints(
    a: QueueEntry, b: QueueEntry, compatible: bool
) -> None:
    assert POLICY.is_compatible(a, b) is compatible
    assert POLICY.is_compatible(b, a) is compatible


# ---------------------------------------------------------------- the interest rule


@pytest.mark.parametrize(
    ("a", "b", "now", "acceptable"),
    [
        (q("A", 0, "x", excluded="B"), q("B", 0, "x"), 0, False),
        (q("A", 0, ""), q("B", 0, "x"), 0, True),
        (q("A", 0, "x"), q("B", 0, ""), 0, True),
        (q("A", 0, "xy"), q("B", 0, "yz"), 0, True),
        (q("A", 0, "x"), q("B", 0, "y"), 9.999, False),
        (q("A", 0, "x"), q("B", 5, "y"), 10, True),
        (q("A", 5, "x"), q("B", 0, "y"), 10, True),
        (q("A", 5, "x"), q("B", 5, "y"), 14.999, False),
    ],
    ids=[
        "blocked-despite-interest",
        "a-flexible",
        "b-flexible",
        "shared",
        "disjoint-before-window",
        "a-waited-out",
        "b-waited-out",
        "nobody-waited-out",
    ],
)
def test_acceptability_adds_the_interest_rule(
    a: QueueEntry, b: QueueEntry, now: float, acceptable: bool
) -> None:
    assert POLICY.is_acceptable(a, b, now) is acceptable
    assert POLICY.is_acceptable(b, a, now) is acceptable


def test_a_zero_window_accepts_anyone_compatible_at_once() -> None:
    assert MatchPolicy(interest_wait_seconds=0).is_acceptable(q("A", 3, "x"), q("B", 3, "y"), 3)


# ---------------------------------------------------------------- choose


@pytest.mark.parametrize(
    ("joiner", "waiting", "now", "chosen"),
    [
        (q("J", 5), [], 5, None),
        (q("J", 5, "x"), [q("A", 0, "y"), q("B", 1, "z", chain=2)], 5, None),
        (q("J", 5), [q("B", 1, "y"), q("A", 0, "x")], 5, "A"),
        (q("J", 20, "y"), [q("A", 0, "x"), q("B", 1, "y")], 20, "B"),
        (q("J", 2, "xy"), [q("B", 1, "y"), q("A", 0, "x")], 2, "A"),
        (q("J", 20, "z"), [q("A", 0, "x"), q("B", 1, "y")], 20, "A"),
        (q("J", 3, "x"), [q("A", 0, "y"), q("B", 1, "")], 3, "B"),
        (q("J", 3), [q("B", 1), q("A", 1)], 3, "A"),
        (q("J", 3, excluded="A"), [q("A", 0), q("B", 1)], 3, "B"),
    ],
    ids=[
        "nobody-waits",
        "nobody-acceptable",
        "flexible-takes-longest-waiting",
        "shared-beats-longer-wait",
        "longest-waiting-among-shared",
        "widened-takes-longest-waiting",
        "flexible-candidate-before-window",
        "tie-broken-by-address",
        "blocked-skipped",
    ],
)
def test_choose_prefers_shared_interests_then_the_longest_wait(
    joiner: QueueEntry, waiting: list[QueueEntry], now: float, chosen: str | None
) -> None:
    pick = POLICY.choose(joiner, waiting, now)
    assert (pick.address if pick else None) == chosen


# ---------------------------------------------------------------- pairs


@pytest.mark.parametrize(
    ("waiting", "now", "expected"),
    [
        ([], 0, []),
        ([q("A", 0, "x"), q("B", 1, "y")], 5, []),
        ([q("B", 1, "y"), q("A", 0, "x")], 10, ["AB"]),
        ([q("A", 0, "x"), q("B", 1, "y"), q("C", 2, "z")], 10, ["AB"]),
        ([q("A", 0, "x"), q("B", 1, "y"), q("C", 2, "y"), q("D", 3, "z")], 12, ["AB", "CD"]),
        ([q("A", 0, "x", excluded="B"), q("B", 1, "y"), q("C", 2, "z")], 10, ["AC"]),
        ([q("A", 0, "x"), q("B", 1, "y", chain=2), q("C", 2, "z", chain=2)], 12, ["BC"]),
        ([q("A", 0, "x"), q("B", 1, "y"), q("C", 2, "x")], 9, ["AC"]),
        ([q("A", 9, "x"), q("B", 0, "y"), q("C", 1, "z")], 10, ["BC"]),
    ],
    ids=[
        "empty",
        "window-closed",
        "window-open",
        "odd-one-out",
        "two-pairs",
        "block",
        "per-lane",
        "shared-interest",
        "oldest-starts",
    ],
)
def test_pairs_sweeps_oldest_first(
    waiting: list[QueueEntry], now: float, expected: list[str]
) -> None:
    assert names(POLICY.pairs(waiting, now)) == expected


def test_pairs_puts_the_longer_waiting_user_first() -> None:
    [(first, second)] = POLICY.pairs([q("B", 3, "y"), q("A", 3, "x")], 20)
    assert (first.address, second.address) == ("A", "B")


def naive_pairs(policy: MatchPolicy, waiting: Sequence[QueueEntry], now: float) -> list[Pair]:
    """The greedy sweep exactly as specified, with no index: the reference for ``pairs``."""
    remaining = sorted(waiting, key=waiting_order)
    made: list[Pair] = []
    while remaining:
        first, *rest = remaining
        partner = policy.choose(first, rest, now)
        if partner is not None:
            made.append((first, partner))
            rest.remove(partner)
        remaining = rest
    return made


ADDRESSES = "ABCDEFGHIJ"


@st.composite
def lanes(draw: st.DrawFn, *, one_lane: bool = False) -> list[QueueEntry]:
    """Distinct users with random lanes, waits, interests and blocks."""
    who = draw(st.lists(st.sampled_from(ADDRESSES), unique=True, max_size=len(ADDRESSES)))
    return [
        q(
            name,
            draw(st.sampled_from([0.0, 1.0, 2.0, 5.0, 12.0])),
            draw(st.text("xyz", max_size=2)),
            chain=1 if one_lane else draw(st.sampled_from([1, 2])),
            queue=None if one_lane else draw(st.sampled_from([None, "vip"])),
            excluded=draw(st.text(ADDRESSES, max_size=2)),
        )
        for name in who
    ]


@given(waiting=lanes(), now=st.sampled_from([0.0, 5.0, 11.0, 20.0]))
def test_pairs_matches_the_naive_greedy_sweep(waiting: list[QueueEntry], now: float) -> None:
    made = POLICY.pairs(waiting, now)
    assert made == naive_pairs(POLICY, waiting, now)
    users = [e.address for pair in made for e in pair]
    assert len(users) == len(set(users))
    assert all(POLICY.is_acceptable(a, b, now) for a, b in made)
    assert all(waiting_order(a) < waiting_order(b) for a, b in made)


# ---------------------------------------------------------------- the indexed line


@given(line=lanes(one_lane=True), joiner=lanes(one_lane=True), now=st.sampled_from([2.0, 11.0]))
def test_the_line_picks_what_choose_picks_from_the_whole_lane(
    line: list[QueueEntry], joiner: list[QueueEntry], now: float
) -> None:
    for candidate in joiner:
        waiting = [e for e in line if e.address != candidate.address]
        indexed = WaitingLine(POLICY, waiting)
        assert indexed.best_for(candidate, now) == POLICY.choose(candidate, waiting, now)


@given(line=lanes(one_lane=True), leavers=st.sets(st.sampled_from(ADDRESSES)))
def test_the_line_keeps_waiting_order_through_adds_and_discards(
    line: list[QueueEntry], leavers: set[str]
) -> None:
    indexed = WaitingLine(POLICY)
    for e in line:
        indexed.add(e)
    for who in leavers:
        gone = indexed.discard(Address(who))
        assert (gone is not None) is any(e.address == who for e in line)
    kept = sorted((e for e in line if e.address not in leavers), key=waiting_order)
    assert list(indexed) == kept
    assert len(indexed) == len(kept)
    assert [indexed.position(e.address) for e in kept] == list(range(1, len(kept) + 1))
    flexible = q("Z", 0)
    assert indexed.best_for(flexible, 0) == POLICY.choose(flexible, kept, 0)


def test_the_line_answers_for_unknown_users() -> None:
    line = WaitingLine(POLICY, [q("A")])
    assert line.get(Address("B")) is None
    assert line.position(Address("B")) is None
    assert line.discard(Address("B")) is None
    assert line.get(Address("A")) == q("A")


def test_a_new_block_keeps_the_place_and_a_rejoin_moves_to_the_back() -> None:
    line = WaitingLine(POLICY, [q("A", 0, "x"), q("B", 1, "y")])
    line.add(q("A", 0, "x", excluded="C"))
    assert line.position(Address("A")) == 1
    assert line.get(Address("A")) == q("A", 0, "x", excluded="C")
    line.add(q("A", 2, "z"))
    assert [e.address for e in line] == ["B", "A"]
    assert line.best_for(q("J", 3, "z"), 3) == q("A", 2, "z")
    assert line.best_for(q("J", 3, "x"), 3) is None


def test_the_line_lists_users_whose_window_opened() -> None:
    line = WaitingLine(POLICY, [q("A", 0), q("B", 1), q("C", 5)])
    assert [e.address for e in line.waited_out(11)] == ["A", "B"]
    assert list(line.waited_out(9)) == []


def test_a_later_entry_of_one_user_replaces_the_earlier() -> None:
    line = WaitingLine(POLICY, [q("A", 0), q("A", 4, "x")])
    assert list(line) == [q("A", 4, "x")]


# ---------------------------------------------------------------- sweep


def main_lane(entries: list[QueueEntry]) -> dict[Lane, WaitingLine]:
    return {(1, None): WaitingLine(POLICY, entries)}


def test_sweep_stops_at_the_limit_and_leaves_the_rest_queued() -> None:
    entries = [q(name, n, name.lower()) for n, name in enumerate("ABCD")]
    lines = main_lane(entries)
    made = sweep(lines, entries, 20, limit=1)
    assert names(made) == ["AB"]
    assert [e.address for e in lines[(1, None)]] == ["C", "D"]


def test_sweep_puts_back_the_starters_left_without_a_partner() -> None:
    entries = [q("A", 0, "x", excluded="B"), q("B", 1, "y")]
    lines = main_lane(entries)
    assert sweep(lines, entries, 20) == []
    assert list(lines[(1, None)]) == entries


def test_sweep_skips_starters_that_are_not_queued() -> None:
    entries = [q("A", 0), q("B", 1)]
    lines = main_lane(entries)
    strangers = [q("Z", 0, chain=9), q("Y", 0)]
    assert sweep(lines, strangers, 20) == []
    assert len(lines[(1, None)]) == 2


def test_sweep_orders_each_pair_by_waiting_time() -> None:
    """A starter may meet someone queued before it; the older one still comes first."""
    entries = [q("A", 0), q("B", 1)]
    lines = main_lane(entries)
    [(first, second)] = sweep(lines, [entries[1]], 20)
    assert (first.address, second.address) == ("A", "B")
