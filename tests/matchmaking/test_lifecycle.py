"""The socket lifecycle table: every listed move, and nothing else."""

from __future__ import annotations

import pytest

from roulette.errors import InvalidState
from roulette.matchmaking.lifecycle import TRANSITIONS, Event, Phase, next_phase


@pytest.mark.parametrize(
    ("phase", "event", "after"),
    [(p, e, to) for p, moves in TRANSITIONS.items() for e, to in moves.items()],
)
def test_every_listed_move_is_taken(phase: Phase, event: Event, after: Phase) -> None:
    assert next_phase(phase, event) is after


@pytest.mark.parametrize(
    ("phase", "event"),
    [(p, e) for p in Phase for e in Event if e not in TRANSITIONS[p]],
)
def test_every_unlisted_move_is_our_bug(phase: Phase, event: Event) -> None:
    with pytest.raises(InvalidState):
        next_phase(phase, event)


def test_closed_is_final_and_every_phase_can_close() -> None:
    assert all(TRANSITIONS[p][Event.CLOSED] is Phase.CLOSED for p in Phase)
    assert set(TRANSITIONS[Phase.CLOSED].values()) == {Phase.CLOSED}


def test_a_user_can_walk_the_whole_happy_path() -> None:
    phase = Phase.AUTHENTICATING
    for event in (
        Event.AUTHENTICATED,
        Event.QUEUED,
        Event.MATCHED,
        Event.SESSION_ENDED,
        Event.QUEUED,
        Event.LEFT_QUEUE,
        Event.CLOSED,
    ):
        phase = next_phase(phase, event)
    assert phase is Phase.CLOSED
