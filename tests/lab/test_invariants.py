"""The reliability invariants over probe logs: what passes and what each violation looks like."""

from __future__ import annotations

from roulette.lab.invariants import SessionLog, check


def _pair(
    session: str = "s1", a_got: int = 20, b_got: int = 20, sent: int = 20
) -> list[SessionLog]:
    a = SessionLog(session, "A", "B", 0.0, sent=sent, received=list(range(1, a_got + 1)))
    b = SessionLog(session, "B", "A", 0.0, sent=sent, received=list(range(1, b_got + 1)))
    return [a, b]


def test_a_complete_exchange_passes() -> None:
    verdict = check(_pair(), [])
    assert verdict.ok
    assert (verdict.sessions, verdict.lines_delivered, verdict.cut_short_told) == (1, 40, 0)


def test_lines_cut_short_are_allowed_only_when_the_receiver_was_told() -> None:
    logs = _pair(b_got=7)
    assert not check(logs, []).ok
    assert "never told" in check(logs, []).violations[0]
    logs[1].told = True
    verdict = check(logs, [])
    assert verdict.ok
    assert verdict.cut_short_told == 1


def test_a_dead_sender_or_receiver_excuses_missing_lines() -> None:
    logs = _pair(a_got=3)
    logs[1].closed = True  # B, the sender of A's lines, lost its socket
    assert check(logs, []).ok


def test_duplicates_reordering_and_gaps_are_violations() -> None:
    for received in ([1, 2, 2, 3], [1, 3, 2], [1, 2, 4], [2]):
        logs = _pair()
        logs[1].received = received
        logs[1].told = True
        verdict = check(logs, [])
        assert len(verdict.violations) == 1, received
        assert "duplicated, reordered or a gap" in verdict.violations[0]


def test_more_lines_than_were_sent_is_a_violation() -> None:
    logs = _pair(b_got=5, sent=4)
    logs[0].sent = 4
    assert any("5 lines of 4" in v for v in check(logs, []).violations)


def test_three_users_in_one_session_or_disagreeing_peers_are_violations() -> None:
    third = SessionLog("s1", "C", "A", 0.0)
    assert "has users" in check([*_pair(), third], []).violations[0]
    logs = _pair()
    logs[1].peer = "C"
    assert "peers disagree" in check(logs, []).violations[0]


def test_what_the_probes_noticed_live_is_carried_over() -> None:
    verdict = check(_pair(), ["A matched into s2 while in s1"])
    assert verdict.violations == ["A matched into s2 while in s1"]
