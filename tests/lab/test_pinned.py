"""The verdict on users pinned to a node during a partition: the other node's must not notice
while it lasts; the cut node's must meet again once the lab is whole."""

from __future__ import annotations

import random

from roulette.lab.invariants import SessionLog
from roulette.lab.pinned import summarize
from roulette.lab.probe import ProbeUser
from roulette.loadtest.client import ServerInfo
from roulette.loadtest.wallet import Wallet

INJECTED, UNDONE, HEALTHY = 100.0, 110.0, 120.0
WINDOW = (INJECTED, UNDONE, HEALTHY)


def _pair() -> tuple[ProbeUser, ProbeUser]:
    info = ServerInfo("http://lb", "ws://node2/ws", "lb", 31342)
    rng = random.Random(7)
    return ProbeUser(info, Wallet.generate(rng)), ProbeUser(info, Wallet.generate(rng))


def _session(
    pair: tuple[ProbeUser, ProbeUser], name: str, started: float, got: int = 20, told: bool = True
) -> None:
    a, b = pair
    for me, peer, received in ((a, b, 20), (b, a, got)):
        me.logs.append(
            SessionLog(
                name,
                me.wallet.address,
                peer.wallet.address,
                started,
                started + 2,
                sent=20,
                received=list(range(1, received + 1)),
                told=told,
            )
        )


def test_sessions_going_on_while_the_other_node_is_cut_off_mean_unaffected() -> None:
    pair = _pair()
    _session(pair, "before", 99.0)  # overlaps the injection
    _session(pair, "during", 104.0)
    _session(pair, "after", 125.0, got=7)  # cut short (told) after the heal: not the partition's
    summary = summarize("node2", False, list(pair), WINDOW)
    assert (summary.during, summary.during_hurt, summary.after) == (2, 0, 1)
    assert summary.cut_short == 1 and summary.violations == 0
    assert summary.ok


def test_a_session_cut_short_during_the_partition_means_affected() -> None:
    pair = _pair()
    _session(pair, "during", 104.0, got=7)
    summary = summarize("node2", False, list(pair), WINDOW)
    assert summary.during_hurt == 1 and not summary.ok
    assert "1 hurt" in summary.render()


def test_no_session_at_all_during_the_partition_proves_nothing() -> None:
    pair = _pair()
    _session(pair, "after", 125.0)
    assert not summarize("node2", False, list(pair), WINDOW).ok


def test_the_cut_nodes_users_must_meet_again_after_the_lab_is_whole() -> None:
    pair = _pair()
    _session(pair, "stalled", 104.0, got=12)  # told: allowed
    assert not summarize("node1", True, list(pair), WINDOW).ok
    _session(pair, "again", 121.0)
    summary = summarize("node1", True, list(pair), WINDOW)
    assert summary.ok and summary.after == 1


def test_lines_lost_without_being_told_are_a_violation_anywhere() -> None:
    pair = _pair()
    _session(pair, "during", 104.0)
    _session(pair, "after", 125.0, got=7, told=False)
    summary = summarize("node2", False, list(pair), WINDOW)
    assert summary.violations == 1 and not summary.ok


def test_a_session_hurt_after_the_heal_is_counted_apart() -> None:
    pair = _pair()
    _session(pair, "during", 104.0)
    _session(pair, "spans-the-heal", 109.0, got=7)  # ends at 111, after the heal at 110
    summary = summarize("node2", False, list(pair), WINDOW)
    assert (summary.during, summary.during_hurt, summary.hurt_after_heal) == (2, 0, 1)
    assert summary.ok
    assert "0 hurt while it lasted, 1 after the heal" in summary.render()
