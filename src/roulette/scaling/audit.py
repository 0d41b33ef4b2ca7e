"""The scaling audit log: every change of the count or the override, appended as JSON lines.

One file, ``DATA_DIR/scaling-audit.jsonl``, opened for append per write (so log rotation by
rename just works); the in-memory ring of :class:`~roulette.scaling.autoscaler.Autoscaler`
serves ``GET /scaling/status``. The lead may later move these rows into the SQL audit table.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from roulette.scaling.autoscaler import Event

__all__ = ["AUDIT_FILE", "AuditLog"]

log = logging.getLogger(__name__)

AUDIT_FILE = "scaling-audit.jsonl"


class AuditLog:
    """Appends events to ``path``; a failing disk is logged, never fatal to the supervisor."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, event: Event) -> None:
        """Append one line: ``{"at", "kind", "from", "to", "reason", "by"}``."""
        line = json.dumps(event.describe(), separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line)
        except OSError as exc:
            log.error("scaling_audit_unwritable path=%s error=%s", self.path, exc)
        log.info(
            "scaling_event kind=%s from=%d to=%d by=%s reason=%s",
            *(event.kind, event.from_count, event.to_count, event.by, event.reason),
        )

    def read(self) -> list[dict[str, object]]:
        """Every recorded event, oldest first (for tests and tools)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line]
