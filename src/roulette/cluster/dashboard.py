"""The dashboard on the management port: the page, and data gathered from the workers.

The supervisor keeps no figures of its own; each worker's ``/dashboard/data`` (reached
through the shared HTTP port, with the same token) holds that worker's sampled series. The
kernel spreads new connections over the workers (``SO_REUSEPORT``), so :func:`node_data` asks
on fresh connections until every ready worker has answered (or a bounded number of tries),
and merges the answers (:mod:`~roulette.cluster.dashboard_merge`); the supervisor adds its
cluster status. Runs in the management server's request threads.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from importlib import resources
from typing import Any

from roulette.cluster.dashboard_merge import merge_workers

__all__ = ["ASKS_PER_WORKER", "WORKER_TIMEOUT", "node_data", "page", "worker_data"]

ASKS_PER_WORKER = 6
"""Tries per expected worker to reach them all: with n workers, a given one is missed by all
6n tries with probability (1 - 1/n)^(6n) < e^-6, about 0.25 %; the answer then names it."""

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


def node_data(
    base_url: str, token: str, query: str, expected: Collection[str]
) -> tuple[int, dict[str, Any]]:
    """Every ready worker's ``/dashboard/data``, merged; ``missing`` names who never answered."""
    answers: dict[str, dict[str, Any]] = {}
    status, body = 503, {"error": {"code": "unavailable", "message": "no worker to ask"}}
    for _ in range(max(1, len(expected)) * ASKS_PER_WORKER):
        status, body = worker_data(base_url, token, query)
        if status in (401, 403, 404):
            return status, body  # the token or the route: asking again changes nothing
        if status == 200:
            answers[str(body.get("worker"))] = body
            if set(expected) <= answers.keys():
                break
    if not answers:
        return status, body
    merged = merge_workers(answers, time.time())
    merged["missing"] = sorted(set(expected) - answers.keys())
    return 200, merged
