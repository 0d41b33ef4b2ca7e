"""The reliability invariants, checked on what the probe users logged. Pure.

* Nobody is in two sessions: a session has at most two users, each the other's peer, and no
  user was matched into a second session while its first was open (the probe notes that live).
* Every line sent to a live peer arrives once and in order, or the peer is told: what a
  receiver got is exactly lines 1..k of what the sender sent, and k short of the sent count only
  when the receiver was told the session was over (``session-ended``/``peer-disconnected``) or
  its own socket was gone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["SessionLog", "Verdict", "check"]


@dataclass
class SessionLog:
    """One user's view of one session."""

    session: str
    user: str
    peer: str
    started: float
    ended: float = 0.0
    sent: int = 0
    received: list[int] = field(default_factory=list)
    told: bool = False
    """The server said the session was over (ended, or the peer's socket dropped)."""
    closed: bool = False
    """This user's own socket went away during the session."""


@dataclass
class Verdict:
    """The outcome over a run's logs."""

    sessions: int
    lines_delivered: int
    cut_short_told: int
    violations: list[str]

    @property
    def ok(self) -> bool:
        """True when no invariant was broken."""
        return not self.violations


def check(logs: list[SessionLog], live_violations: list[str]) -> Verdict:
    """Check the invariants over every probe's logs (plus what the probes noticed live)."""
    by_session: dict[str, list[SessionLog]] = defaultdict(list)
    for log in logs:
        by_session[log.session].append(log)
    violations = list(live_violations)
    delivered = told = 0
    for session, views in by_session.items():
        users = {view.user for view in views}
        if len(views) > 2 or len(users) != len(views):
            violations.append(f"session {session} has users {sorted(users)}")
            continue
        if len(views) == 2:
            a, b = views
            if a.peer != b.user or b.peer != a.user:
                violations.append(f"session {session}: peers disagree ({a.user}, {b.user})")
                continue
            for sender, receiver in ((a, b), (b, a)):
                problem = _delivery(sender, receiver)
                if problem:
                    violations.append(f"session {session}: {problem}")
                delivered += len(receiver.received)
                told += len(receiver.received) < sender.sent
    return Verdict(len(by_session), delivered, told, violations)


def _delivery(sender: SessionLog, receiver: SessionLog) -> str | None:
    got = receiver.received
    if got != list(range(1, len(got) + 1)):
        return f"{receiver.user} got lines {got[:30]} (duplicated, reordered or a gap)"
    if len(got) > sender.sent:
        return f"{receiver.user} got {len(got)} lines of {sender.sent} sent"
    if len(got) < sender.sent and not (receiver.told or receiver.closed or sender.closed):
        return f"{receiver.user} got {len(got)} of {sender.sent} lines and was never told"
    return None
