"""Automated recovery decisions: shed new load while critical, ask the scaler for more.

Pure: the monitor hands in the alert levels and the notices of one pass and performs the
returned actions (each one logged and counted). Replacing a hung worker is the cluster
supervisor's job (its heartbeat deadline, :func:`roulette.cluster.policy.hung_reason`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from roulette.observability.alerting import Notice, NoticeKind
from roulette.observability.thresholds import Level

__all__ = ["LOAD_ALERTS", "SHED_ALERTS", "Action", "ActionKind", "decide"]

LOAD_ALERTS = frozenset({"cpu", "memory", "event_loop_lag", "sockets", "response_time_p95"})
"""Alerts that mean "too much work": more instances help. A dependency being down is not
one: more workers would not bring Redis back."""
SHED_ALERTS = frozenset({"event_loop_lag", "sockets", "response_time_p95"})
"""Alerts that say *this process* is saturated, so turning new users away helps it. Host CPU
and memory are shared with other processes (and spike during a neighbour's build): they ask
for instances but do not make a node refuse users."""


class ActionKind(enum.Enum):
    """What the monitor does."""

    SHED_START = "shed_start"
    SHED_STOP = "shed_stop"
    SCALE_UP = "scale_up"


@dataclass(frozen=True, slots=True)
class Action:
    """One recovery action and the alert that caused it."""

    kind: ActionKind
    reason: str


def decide(
    levels: Mapping[str, Level], notices: Iterable[Notice], *, shedding: bool
) -> list[Action]:
    """The actions for one monitor pass.

    Args:
        levels: every alert's level now.
        notices: the notices this pass produced (a scale-up is asked once per announced
            critical load alert, so the alert cooldown also paces scale-up requests).
        shedding: whether new load is being shed now.
    """
    critical = sorted(n for n, lv in levels.items() if n in SHED_ALERTS and lv is Level.CRITICAL)
    actions = [
        Action(ActionKind.SCALE_UP, n.alert)
        for n in notices
        if n.kind is NoticeKind.FIRING and n.level is Level.CRITICAL and n.alert in LOAD_ALERTS
    ]
    if critical and not shedding:
        actions.append(Action(ActionKind.SHED_START, ",".join(critical)))
    elif shedding and not critical:
        actions.append(Action(ActionKind.SHED_STOP, "load back below critical"))
    return actions
