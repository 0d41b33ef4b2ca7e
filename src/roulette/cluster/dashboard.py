"""The dashboard on the management port: the page, and data gathered from a worker.

The supervisor keeps no figures of its own; a worker's ``/dashboard/data`` (reached through
the shared HTTP port, with the same token) holds the node's sampled series, and the
supervisor adds its cluster status. Runs in the management server's request threads.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from importlib import resources
from typing import Any

__all__ = ["WORKER_TIMEOUT", "page", "worker_data"]

WORKER_TIMEOUT = 5.0
MAX_DATA_BYTES = 8 * 1024 * 1024
"""An hour of samples is well under a megabyte; more means something is wrong."""


def page() -> bytes:
    """The dashboard HTML (the same page ``roulette serve`` shows at ``/dashboard``)."""
    return resources.files("roulette.observability").joinpath("dashboard.html").read_bytes()


def worker_data(base_url: str, token: str, query: str) -> tuple[int, dict[str, Any]]:
    """``GET {base_url}/dashboard/data?{query}`` with the token: (status, JSON body)."""
    url = f"{base_url}/dashboard/data" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=WORKER_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read(MAX_DATA_BYTES))
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": {"code": "worker_error", "message": f"worker said {exc.code}"}}
    except (OSError, ValueError) as exc:
        message = f"no worker answered: {type(exc).__name__}"
        return 503, {"error": {"code": "unavailable", "message": message}}
