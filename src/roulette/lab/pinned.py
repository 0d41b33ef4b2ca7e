"""Probe users pinned to one node (``partition-node``): they sign in through HAProxy but open
their WebSocket on the node itself and queue on that node's own chain, so they only ever meet
each other there. Users pinned to a node that stays connected must not notice the partition of
another; users pinned to the partitioned node must be told (or get every line) and meet again
once it is healed. :func:`summarize` is pure."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from roulette.lab.invariants import SessionLog, check
from roulette.lab.probe import ProbeUser
from roulette.lab.state import LabState
from roulette.lab.topology import pinned_chain_id
from roulette.loadtest.client import ServerInfo
from roulette.loadtest.wallet import Wallet

__all__ = ["PinnedSummary", "pinned_probes", "summarize"]

PAIR = 2


def pinned_probes(
    state: LabState, info: ServerInfo, node_name: str, rng: random.Random
) -> list[ProbeUser]:
    """A pair of probe users whose sockets live on ``node_name``."""
    index = [node.name for node in state.nodes].index(node_name) + 1
    node = state.nodes[index - 1]
    pinned = ServerInfo(
        info.http_url, f"ws://{node.host}:{node.ws_port}/ws", info.domain, pinned_chain_id(index)
    )
    return [ProbeUser(pinned, Wallet.generate(rng)) for _ in range(PAIR)]


@dataclass(frozen=True)
class PinnedSummary:
    """What the users pinned to one node went through during a fault.

    Attributes:
        node: the node.
        partitioned: whether it was the node cut off.
        sessions: sessions they had.
        during: sessions that overlapped the fault (from the injection until it was undone).
        during_hurt: of those, sessions cut short or whose socket dropped while the fault was
            in place (they ended before it was undone).
        hurt_after_heal: sessions that overlapped the fault but were hurt after it was undone.
        after: sessions started after the lab was whole again.
        dropped: sockets that went away mid-session, over the whole run.
        cut_short: lines not delivered because the receiver was told the session was over
            (allowed by the invariants), over the whole run.
        violations: broken invariants among their sessions.
    """

    node: str
    partitioned: bool
    sessions: int
    during: int
    during_hurt: int
    hurt_after_heal: int
    after: int
    dropped: int
    cut_short: int
    violations: int

    @property
    def ok(self) -> bool:
        """Unaffected by the fault (another node), or meeting again after it (the cut node)."""
        if self.violations:
            return False
        if self.partitioned:
            return self.after > 0
        return self.during > 0 and self.during_hurt == 0

    def render(self) -> str:
        """One line for the table and the console."""
        role = "cut off" if self.partitioned else "other node"
        return (
            f"{self.node} ({role}): {self.sessions} sessions; {self.during} during the fault "
            f"({self.during_hurt} hurt while it lasted, {self.hurt_after_heal} after the heal), "
            f"{self.after} after; over the run: sockets dropped "
            f"{self.dropped}, cut short {self.cut_short}, violations {self.violations}"
        )


def summarize(
    node: str, partitioned: bool, probes: list[ProbeUser], window: tuple[float, float, float]
) -> PinnedSummary:
    """Summarize the pinned users of ``node``; ``window`` is the wall time of the injection, of
    the heal (the link back up) and of the whole lab being healthy again."""
    logs = [log for probe in probes for log in probe.logs]
    verdict = check(logs, [v for probe in probes for v in probe.violations])
    start, end, healthy = window
    by_session: dict[str, list[SessionLog]] = defaultdict(list)
    for log in logs:
        by_session[log.session].append(log)
    overlapping = [
        views
        for views in by_session.values()
        if min(v.started for v in views) < end
        and any(not v.ended or v.ended > start for v in views)
    ]
    # When a session was hurt is when it ended: before the heal, the partition did it.
    hurt = [min(v.ended for v in views) for views in overlapping if _hurt(views)]
    return PinnedSummary(
        node=node,
        partitioned=partitioned,
        sessions=verdict.sessions,
        during=len(overlapping),
        during_hurt=sum(when < end for when in hurt),
        hurt_after_heal=sum(when >= end for when in hurt),
        after=len({log.session for log in logs if log.started >= healthy}),
        dropped=sum(log.closed for log in logs),
        cut_short=verdict.cut_short_told,
        violations=len(verdict.violations),
    )


def _hurt(views: list[SessionLog]) -> bool:
    """A socket dropped, or lines cut short, in this session."""
    return any(v.closed for v in views) or check(views, []).cut_short_told > 0
