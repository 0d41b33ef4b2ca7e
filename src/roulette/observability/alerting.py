"""The alert book: which alerts are firing, and which notices the channels must send.

Theory of operation: each evaluation hands :meth:`AlertBook.observe` every rule's level. An
alert is *announced* once per incident (deduplication): a ``firing`` notice when it first
leaves OK or escalates above what was announced, one ``resolved`` notice when it is back to
OK. A ``firing`` notice for an alert is held back while an earlier one is younger than the
cooldown (a flapping figure does not page every minute); a firing that was held back and
cleared before the cooldown ended is never announced, so it has no ``resolved`` either. A
step down (critical → warning) is silent: the incident goes on. Notices of one evaluation
are returned together, grouped into one message per channel (:func:`group`). Pure: time
comes in as ``now``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from roulette.observability.thresholds import Level

__all__ = ["AlertBook", "Batch", "Notice", "NoticeKind", "group"]


class NoticeKind(enum.Enum):
    """What a notice tells."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message about one alert; a resolved notice carries the level it had announced."""

    alert: str
    kind: NoticeKind
    level: Level
    value: float | None
    at: float
    started_at: float
    summary: str = ""


@dataclass(slots=True)
class _Alert:
    level: Level = Level.OK
    announced: Level = Level.OK
    started_at: float = 0.0
    last_firing_notice: float | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """The notices of one evaluation, sent as one message; ``level`` is the worst of them."""

    notices: tuple[Notice, ...]
    level: Level

    @property
    def title(self) -> str:
        """A one-line headline such as ``[CRITICAL] redis_down firing``."""
        parts = [f"{n.alert} {n.kind.value}" for n in self.notices]
        return f"[{self.level.name}] " + ", ".join(parts)


@dataclass(slots=True)
class AlertBook:
    """Alert states with deduplication and a per-alert cooldown.

    Args:
        cooldown: seconds between two ``firing`` notices of the same alert.
        summaries: a readable summary per alert name, copied into its notices.
    """

    cooldown: float
    summaries: Mapping[str, str] = field(default_factory=dict)
    _alerts: dict[str, _Alert] = field(default_factory=dict)

    def observe(
        self, levels: Mapping[str, Level], values: Mapping[str, float | None], now: float
    ) -> list[Notice]:
        """Record one evaluation; returns the notices to send, in alert-name order.

        Args:
            levels: each alert's level now.
            values: the value each alert's rule saw (for the notice text).
            now: the time of the evaluation (seconds).
        """
        notices = []
        for name in sorted(levels):
            notice = self._step(name, levels[name], values.get(name), now)
            if notice is not None:
                notices.append(notice)
        return notices

    def _step(self, name: str, level: Level, value: float | None, now: float) -> Notice | None:
        alert = self._alerts.setdefault(name, _Alert())
        if alert.level is Level.OK and level > Level.OK:
            alert.started_at = now
        alert.level = level
        if level is Level.OK:
            if alert.announced is Level.OK:
                return None
            was, alert.announced = alert.announced, Level.OK
            return self._notice(alert, Notice(name, NoticeKind.RESOLVED, was, value, now, 0.0))
        if level <= alert.announced or self._cooling(alert, now):
            return None
        alert.announced = level
        alert.last_firing_notice = now
        return self._notice(alert, Notice(name, NoticeKind.FIRING, level, value, now, 0.0))

    def _cooling(self, alert: _Alert, now: float) -> bool:
        last = alert.last_firing_notice
        return last is not None and now - last < self.cooldown

    def _notice(self, alert: _Alert, draft: Notice) -> Notice:
        return replace(
            draft, started_at=alert.started_at, summary=self.summaries.get(draft.alert, "")
        )

    def firing(self) -> dict[str, Level]:
        """Alerts not at OK now (announced or not), by name."""
        return {n: a.level for n, a in sorted(self._alerts.items()) if a.level > Level.OK}

    def worst(self) -> Level:
        """The highest level of any alert now."""
        return max((a.level for a in self._alerts.values()), default=Level.OK)


def group(notices: Iterable[Notice]) -> Batch | None:
    """One message for the notices of one evaluation (None when there are none).

    The batch's level is the worst level among firing notices (a batch of resolutions only
    is at OK), so a channel that only wants critical pages can filter on it.
    """
    ordered = tuple(notices)
    if not ordered:
        return None
    firing = [n.level for n in ordered if n.kind is NoticeKind.FIRING]
    return Batch(ordered, max(firing, default=Level.OK))
