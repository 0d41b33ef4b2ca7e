"""The autoscaler's decision, one evaluation at a time: targets, rules, windows, override.

Theory of operation: each :meth:`Autoscaler.evaluate` turns a node's signals into HPA proposals
(one per target) and at most one rule proposal; the largest wins (:func:`~.hpa.combine`). That
raw proposal is recorded, stabilized over the windows, capped by the rate policies and bounds
(:mod:`.behavior`). A manual override, while it lasts, replaces the result: the policy's
proposals are still computed and recorded (so the windows are warm when it ends) but not
applied. Time is passed in (epoch seconds); nothing here sleeps, reads clocks or does I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from roulette.scaling import behavior as bh
from roulette.scaling.hpa import Proposal, WorkerSample, combine, propose
from roulette.scaling.rules import RuleEvaluation, evaluate_rules
from roulette.scaling.settings import ScalingPolicy

__all__ = ["MAX_EVENTS", "Autoscaler", "Decision", "Event", "OutOfBounds", "Override"]

MAX_EVENTS = 50
"""Events kept for ``GET /scaling/status`` (the audit file keeps all of them)."""

MAX_TTL_SECONDS = 7 * 24 * 3600


class OutOfBounds(ValueError):
    """A manual count outside ``MIN_INSTANCES..MAX_INSTANCES`` (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class Override:
    """A manual count that holds until ``expires_at`` (None: until cleared)."""

    instances: int
    reason: str
    by: str
    set_at: float
    expires_at: float | None

    def describe(self) -> dict[str, Any]:
        """JSON for the status."""
        return {
            "instances": self.instances,
            "reason": self.reason,
            "by": self.by,
            "setAt": self.set_at,
            "expiresAt": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A change of the desired count, or of the override: who, when, from, to, why."""

    at: float
    kind: str
    from_count: int
    to_count: int
    reason: str
    by: str

    def describe(self) -> dict[str, Any]:
        """One line of the audit log and one entry of the status."""
        return {
            "at": self.at,
            "kind": self.kind,
            "from": self.from_count,
            "to": self.to_count,
            "reason": self.reason,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation's outcome; ``desired`` is what the actuator must apply."""

    at: float
    current: int
    desired: int
    proposed: int
    reason: str
    proposals: tuple[Proposal, ...]
    rules: tuple[RuleEvaluation, ...]
    events: tuple[Event, ...] = ()

    def describe(self) -> dict[str, Any]:
        """JSON for the status."""
        return {
            "at": self.at,
            "current": self.current,
            "desired": self.desired,
            "proposed": self.proposed,
            "reason": self.reason,
            "targets": [
                {"metric": p.metric, "value": p.value, "proposal": p.replicas, "reason": p.reason}
                for p in self.proposals
            ],
            "rules": [r.describe() for r in self.rules],
        }


@dataclass
class Autoscaler:
    """The policy's memory: recommendations, changes, rule cooldowns, override and events."""

    policy: ScalingPolicy
    bounds: bh.Bounds
    enabled: bool = True
    override: Override | None = None
    last: Decision | None = None
    recommendations: deque[bh.Recommendation] = field(default_factory=deque)
    changes: deque[bh.ScaleChange] = field(default_factory=deque)
    rule_fired_at: dict[str, float] = field(default_factory=dict)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    held: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))

    def set_manual(
        self, instances: int, *, reason: str, by: str, ttl: float | None, current: int, now: float
    ) -> Event:
        """Hold ``instances`` until ``ttl`` seconds pass or :meth:`clear_manual`.

        Raises:
            OutOfBounds: ``instances`` outside the bounds, or a TTL out of range.
        """
        if instances not in self.bounds:
            raise OutOfBounds(
                f"instances must be {self.bounds.minimum}..{self.bounds.maximum} "
                "(MIN_INSTANCES..MAX_INSTANCES)"
            )
        if ttl is not None and not 0 < ttl <= MAX_TTL_SECONDS:
            raise OutOfBounds(f"ttlSeconds must be 1..{MAX_TTL_SECONDS}")
        expires = None if ttl is None else now + ttl
        self.override = Override(instances, reason, by, now, expires)
        until = "until cleared" if ttl is None else f"for {ttl:g} s"
        return self._event(Event(now, "manual", current, instances, f"{reason} ({until})", by))

    def clear_manual(self, *, by: str, current: int, now: float) -> Event | None:
        """End the override; the policy decides again from the next evaluation."""
        if self.override is None:
            return None
        self.override = None
        return self._event(Event(now, "manual-cleared", current, current, "override cleared", by))

    def evaluate(
        self,
        samples: Sequence[WorkerSample],
        values: dict[str, float],
        current: int,
        now: float,
    ) -> Decision:
        """Decide the count for ``current`` instances given their samples and node values.

        Args:
            samples: one per live instance (see :func:`~.hpa.propose`).
            values: aggregate values for the rules.
            current: the count in force (what the actuator last applied).
            now: epoch seconds.
        """
        events: list[Event] = []
        expires_at = None if self.override is None else self.override.expires_at
        if self.override is not None and expires_at is not None and now >= expires_at:
            reason = f"override ({self.override.reason}) expired"
            events.append(
                self._event(Event(now, "manual-expired", current, current, reason, "ttl"))
            )
            self.override = None
        proposals = tuple(
            propose(current, samples, t, tolerance=self.policy.tolerance)
            for t in self.policy.targets
        )
        rules = tuple(evaluate_rules(self.policy.rules, values, current, self.rule_fired_at, now))
        fired = [
            Proposal(f"rule {r.rule}", r.replicas, r.value, r.reason) for r in rules if r.fired
        ]
        raw, why = combine(current, (*proposals, *fired))
        allowed, limited = self._normalize(raw, current, now)
        reason = why if limited is None else f"{why}; {limited}"
        desired, reason = self._authority(allowed, current, reason, now)
        if desired != current and self.override is None:
            for r in rules:
                if r.fired and ((r.replicas or 0) > current) == (desired > current):
                    self.rule_fired_at[r.rule] = now
            self.changes.append(bh.ScaleChange(now, desired - current))
            events.append(self._event(Event(now, "scale", current, desired, reason, "policy")))
        decision = Decision(now, current, desired, allowed, reason, proposals, rules, tuple(events))
        self.last = decision
        return decision

    def _normalize(self, raw: int, current: int, now: float) -> tuple[int, str | None]:
        behavior = self.policy.behavior
        stable = bh.stabilize(raw, current, self.recommendations, behavior, now)
        self.recommendations.append(bh.Recommendation(now, raw))
        horizon = now - behavior.longest_memory
        while self.recommendations and self.recommendations[0].at <= horizon:
            self.recommendations.popleft()
        while self.changes and self.changes[0].at <= horizon:
            self.changes.popleft()
        allowed, limited = bh.limit_rate(
            stable, current, changes=self.changes, behavior=behavior, bounds=self.bounds, now=now
        )
        if stable != raw and limited is None:
            window = behavior.down if raw < current else behavior.up
            limited = f"stabilized at {stable} over {window.window_seconds:g} s"
        return allowed, limited

    def _authority(self, allowed: int, current: int, reason: str, now: float) -> tuple[int, str]:
        """Who decides: the override, nobody (disabled), or the policy."""
        held_by = None
        if self.override is not None:
            held_by = f"manual override by {self.override.by}: {self.override.reason}"
            desired = self.override.instances
        elif not self.enabled:
            held_by = "AUTO_SCALING_ENABLED is off"
            desired = current
        else:
            return allowed, reason
        if allowed != desired and (not self.held or self.held[-1].to_count != allowed):
            self.held.append(Event(now, "held", current, allowed, reason, "policy"))
        return desired, f"{held_by} (policy proposes {allowed}: {reason})"

    def _event(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def status(self) -> dict[str, Any]:
        """The scaling part of ``GET /scaling/status``."""
        return {
            "enabled": self.enabled,
            "bounds": {"min": self.bounds.minimum, "max": self.bounds.maximum},
            "override": None if self.override is None else self.override.describe(),
            "last": None if self.last is None else self.last.describe(),
            "events": [e.describe() for e in reversed(self.events)],
            "heldProposals": [e.describe() for e in reversed(self.held)],
            "policy": self.policy.describe(),
        }
