"""Probe users pinned to one node (``partition-node``): they sign in through HAProxy but open
their WebSocket on the node itself and queue on that node's own chain, so they only ever meet
each other there. Users pinned to a node that stays connected must not notice the partition of
another; users pinned to the partitioned node must be told (or get every line) and meet again
once it is healed. :func:`summarize` is pure."""

from __future__ import annotations

import random
from dataclasses import dataclass

from roulette.lab.invariants import check
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
        during: sessions started while the fault was in place.
        after: sessions started after it was undone.
        dropped: sockets that went away mid-session.
        cut_short: lines not delivered because the receiver was told the session was over.
        violations: broken invariants among their sessions.
    """

    node: str
    partitioned: bool
    sessions: int
    during: int
    after: int
    dropped: int
    cut_short: int
    violations: int

    @property
    def ok(self) -> bool:
        """Unaffected (another node), or told and meeting again (the partitioned node)."""
        if self.violations:
            return False
        if self.partitioned:
            return self.after > 0
        return self.dropped == 0 and self.cut_short == 0 and self.during > 0

    def render(self) -> str:
        """One line for the table and the console."""
        role = "cut off" if self.partitioned else "other node"
        return (
            f"{self.node} ({role}): {self.sessions} sessions, {self.during} during / "
            f"{self.after} after, sockets dropped {self.dropped}, cut short {self.cut_short}, "
            f"violations {self.violations}"
        )


def summarize(
    node: str, partitioned: bool, probes: list[ProbeUser], window: tuple[float, float]
) -> PinnedSummary:
    """Summarize the pinned users of ``node``; ``window`` is (injected, healed) wall time."""
    logs = [log for probe in probes for log in probe.logs]
    verdict = check(logs, [v for probe in probes for v in probe.violations])
    start, end = window
    return PinnedSummary(
        node=node,
        partitioned=partitioned,
        sessions=verdict.sessions,
        during=len({log.session for log in logs if start <= log.started < end}),
        after=len({log.session for log in logs if log.started >= end}),
        dropped=sum(log.closed for log in logs),
        cut_short=verdict.cut_short_told,
        violations=len(verdict.violations),
    )
