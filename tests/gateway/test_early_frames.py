"""Frames that overtook their match: held per (session, user), bounded, in order."""

from __future__ import annotations

from roulette.gateway.early_frames import MAX_FRAMES, EarlyFrames
from roulette.identity import Address, SessionId

A, B = Address("0xA"), Address("0xB")
S0, S1, S2 = SessionId("s0"), SessionId("s1"), SessionId("s2")


def test_frames_come_back_in_order_once() -> None:
    early = EarlyFrames()
    for frame in (b"offer", b"ice1", b"ice2"):
        early.hold(B, S1, frame)
    assert early.take(B, S1) == [b"offer", b"ice1", b"ice2"]
    assert early.take(B, S1) == [] and early.bytes == 0 and not early


def test_another_session_or_user_does_not_disturb_what_is_held() -> None:
    early = EarlyFrames()
    early.hold(B, S1, b"seq:1")
    early.hold(B, S0, b"late")  # the user's previous session
    early.hold(A, S1, b"to-a")  # the other user of the session, also on this worker
    assert early.take(B, S1) == [b"seq:1"]
    assert early.take(A, S1) == [b"to-a"]
    assert early.sessions() == [S0] and early.bytes == len(b"late")


def test_a_session_that_ended_is_dropped_whole() -> None:
    early = EarlyFrames()
    early.hold(A, S1, b"aa")
    early.hold(B, S1, b"bbb")
    early.drop(S1)
    early.drop(S1)  # twice: nothing more to forget
    assert not early and early.bytes == 0


def test_bytes_bound_drops_the_oldest_sessions_first() -> None:
    early = EarlyFrames(max_bytes=250)
    for session in (S0, S1, S2):
        early.hold(B, session, b"x" * 100)
    assert early.sessions() == [S1, S2] and early.bytes == 200
    early.hold(A, S2, b"y" * 300)  # alone over the bound: everything goes, itself too
    assert not early and early.bytes == 0


def test_sessions_and_frames_per_user_are_bounded() -> None:
    early = EarlyFrames(max_sessions=2)
    for session in (S0, S1, S2):
        early.hold(B, session, b"f")
    assert early.sessions() == [S1, S2]
    for n in range(2 * MAX_FRAMES):
        early.hold(A, S2, bytes([n]))
    assert early.take(A, S2) == [bytes([n]) for n in range(MAX_FRAMES)]
