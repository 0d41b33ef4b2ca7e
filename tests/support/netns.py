"""Can this machine make network namespaces? (The lab's ``--netns`` needs root and iproute2.)"""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["netns_unavailable"]


def netns_unavailable() -> str:
    """Why ``ip netns add`` cannot be used here; empty when it can (it is tried for real)."""
    if not shutil.which("ip"):
        return "iproute2 (`ip`) is not installed"
    probe = f"rlab-probe-{os.getpid()}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
    if done.returncode != 0:
        return f"`ip netns add` is not permitted here: {done.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return ""
