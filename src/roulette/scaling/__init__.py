"""Auto-scaling: a pure policy (HPA's proportional rule, behavior windows and rate policies,
the guide's threshold rules, a manual override) and the thin parts that feed and apply it.

The decision is :class:`Autoscaler`; its configuration is :class:`ScalingPolicy` (from
``SCALING_RULES_FILE``); signals come from :mod:`.sampler`; :mod:`.actuator` applies counts.
"""

from roulette.scaling.autoscaler import Autoscaler, Decision, Event, OutOfBounds, Override
from roulette.scaling.behavior import DEFAULT_BEHAVIOR, Behavior, Bounds
from roulette.scaling.hpa import Proposal, Target, WorkerSample, combine, propose
from roulette.scaling.rules import DEFAULT_RULES, Rule, evaluate_rules
from roulette.scaling.settings import ScalingPolicy, load_policy, parse_policy
from roulette.scaling.signals import NodeSignals, WorkerSignals

__all__ = [
    "DEFAULT_BEHAVIOR",
    "DEFAULT_RULES",
    "Autoscaler",
    "Behavior",
    "Bounds",
    "Decision",
    "Event",
    "NodeSignals",
    "OutOfBounds",
    "Override",
    "Proposal",
    "Rule",
    "ScalingPolicy",
    "Target",
    "WorkerSample",
    "WorkerSignals",
    "combine",
    "evaluate_rules",
    "load_policy",
    "parse_policy",
    "propose",
]
