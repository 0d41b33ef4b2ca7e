"""A ``roulette cluster`` worker runs with its supervisor's :class:`Config`, not the environment.

The real worker process is spawned the way the supervisor does it, with settings that differ
from the environment it inherits: what it serves on ``GET /config`` must be the parent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from roulette.cluster.process import Listeners, spawn_worker
from roulette.config import Config
from roulette.config_handoff import config_file, read_config_file
from roulette.errors import ConfigError
from roulette.storage.sql import upgrade
from support.eventually import eventually_sync

pytestmark = pytest.mark.timeout(180)


def _env(tmp_path: Path) -> dict[str, str]:
    skip = ("REDIS_", "DATABASE_", "PROMETHEUS_", "CLUSTER_", "MANAGEMENT_", "RECONNECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {
        "DATA_DIR": str(tmp_path / "data"),
        "STUN_SERVERS": "",
        "RECONNECT_GRACE_SECONDS": "30",
    }


def test_the_config_round_trips_through_an_anonymous_file() -> None:
    config = replace(Config.from_env({}), reconnect_grace_seconds=7.5)
    fd = config_file(config)
    assert stat.S_ISREG(os.fstat(fd).st_mode)
    assert not os.get_inheritable(fd)  # only the child it is passed to sees it
    assert read_config_file(fd) == config
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)  # read_config_file closed it


def test_a_file_that_is_not_a_config_is_refused() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"not a pickle")
    os.close(write_fd)
    with pytest.raises(ConfigError, match="not a config"):
        read_config_file(read_fd)


def test_a_worker_serves_the_parents_settings_not_the_environments(tmp_path: Path) -> None:
    env = _env(tmp_path)
    parent = Config.from_env(env)
    # What the supervisor holds differs from what re-reading the environment would give.
    config = replace(parent, reconnect_grace_seconds=7.5)
    assert Config.from_env(env).reconnect_grace_seconds == 30.0
    config.data_dir.mkdir(parents=True)
    asyncio.run(upgrade(config.sql_url))
    listeners = Listeners.bind("127.0.0.1", 0, 0)
    worker = spawn_worker(
        slot=1, worker_id="t-1.0", listeners=listeners, config=config, env=env, now=0.0
    )
    url = f"http://127.0.0.1:{listeners.ports[0]}/config"
    try:

        def served() -> dict[str, object]:
            assert worker.popen.poll() is None, "the worker exited"
            try:
                response = httpx.get(url, timeout=5.0)
            except httpx.HTTPError as exc:
                raise AssertionError(str(exc)) from exc
            assert response.status_code == 200
            body: dict[str, object] = response.json()
            return body

        body = eventually_sync(served, timeout=120.0)
        assert body["reconnectGraceSeconds"] == 7.5
    finally:
        worker.terminate(time.monotonic())
        try:
            worker.popen.wait(30)
        except Exception:
            worker.popen.kill()
            worker.popen.wait()
        with contextlib.suppress(OSError):
            worker.close()
        listeners.close()
