"""Fixtures of the cluster tests: one ``redis-server`` for the session (workers need Redis to
be more than one) and the environment that points the workers at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.redis_fixtures import running_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A standalone ``redis-server`` on a free port (never the machine's 6379)."""
    with running_server(tmp_path_factory.mktemp("cluster-redis")) as server:
        yield server.url


@pytest.fixture
def shared_env(redis_url: str) -> dict[str, str]:
    """Two workers on the session's Redis."""
    return {"CLUSTER_WORKERS": "2", "REDIS_URL": redis_url}
