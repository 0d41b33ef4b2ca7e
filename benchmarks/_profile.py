"""py-spy sampling of a running server, summarised as the functions that hold the CPU.

``py-spy`` is optional (``uv pip install py-spy``); without it the profile is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any


class Profiler:
    """Samples one process for a while into a collapsed-stacks file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, pid: int, seconds: float) -> None:
        """Sample ``pid`` for ``seconds`` (non-blocking: the target is not paused)."""
        exe = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
        if not Path(exe).exists():
            return
        cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds))]
        cmd += ["--rate", "250", "--nonblocking", "--function", "--format", "raw"]
        cmd += ["--output", str(self.path)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self, top: int = 12) -> list[dict[str, Any]] | None:
        """Wait for the sampler; the ``top`` functions by own (self) samples."""
        if self.process is None:
            return None
        self.process.wait(60)
        if not self.path.exists():
            return None
        return top_self(self.path, top)


def top_self(path: Path, top: int) -> list[dict[str, Any]]:
    """The functions with the most samples on top of the stack, with their share."""
    own: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            own[stack.rsplit(";", 1)[-1]] += int(count)
    total = sum(own.values()) or 1
    return [
        {"function": frame, "self_share": round(samples / total, 3)}
        for frame, samples in own.most_common(top)
    ]
