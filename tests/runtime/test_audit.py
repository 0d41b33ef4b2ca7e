"""The audit's rule (pure) and its two-pass confirmation: a disagreement between a socket and
the lobby is repaired only when two audits in a row see it (issue 9, item 4)."""

from __future__ import annotations

import pytest

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.runtime.audit import Repair, Suspicions, judge

A, B = Address("0xA"), Address("0xB")
S1 = Session(SessionId("s1"), 1, A, B, WorkerId("w1"), WorkerId("w1"), 0.0)
S2 = Session(SessionId("s2"), 1, A, B, WorkerId("w1"), WorkerId("w1"), 0.0)


@pytest.mark.parametrize(
    ("phase", "held", "queued", "session", "repair"),
    [
        (Phase.QUEUED, None, True, None, Repair.NONE),
        (Phase.QUEUED, None, False, None, Repair.REQUEUE),
        (Phase.QUEUED, None, False, S1, Repair.ANNOUNCE),
        (Phase.PAIRED, S1.id, False, S1, Repair.NONE),
        (Phase.PAIRED, S1.id, False, None, Repair.END),
        (Phase.PAIRED, S1.id, False, S2, Repair.END),
        (Phase.IDLE, None, False, None, Repair.NONE),
        (Phase.AUTHENTICATING, None, False, S1, Repair.NONE),
        (Phase.CLOSED, None, False, None, Repair.NONE),
    ],
)
def test_judge(
    phase: Phase, held: SessionId | None, queued: bool, session: Session | None, repair: Repair
) -> None:
    assert judge(phase, held, queued, session) is repair


def test_only_a_disagreement_seen_twice_in_a_row_is_confirmed() -> None:
    suspicions = Suspicions()
    lost = (A, Repair.REQUEUE, None)
    assert suspicions.confirm({lost: None}) == set()
    assert suspicions.confirm({lost: None}) == {lost}
    # Gone on one pass (the notice arrived): counting starts over.
    other = (B, Repair.END, SessionId("s1"))
    assert suspicions.confirm({other: None}) == set()
    assert suspicions.confirm({}) == set()
    assert suspicions.confirm({other: None}) == set()
