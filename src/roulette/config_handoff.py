"""Handing the supervisor's :class:`Config` to a worker process without the environment.

``roulette cluster`` builds its settings once (environment plus command-line options); each
worker receives that object through an inherited anonymous file instead of re-reading a
possibly changed environment. Kept out of :mod:`roulette.cluster` so a worker's start-up does
not import the supervisor.
"""

from __future__ import annotations

import os
import pickle

from roulette.config import Config
from roulette.errors import ConfigError

__all__ = ["config_file", "read_config_file"]


def config_file(config: Config) -> int:
    """An anonymous in-memory file (``memfd_create(2)``) holding ``config``, positioned at 0.

    It has no path and is inherited only by the child it is passed to: the secrets inside
    appear on no command line, in no environment and on no disk.
    """
    fd = os.memfd_create("roulette-config", os.MFD_CLOEXEC)
    try:
        os.write(fd, pickle.dumps(config))
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def read_config_file(fd: int) -> Config:
    """The :class:`Config` the supervisor wrote with :func:`config_file`; closes ``fd``.

    Raises:
        ConfigError: the file does not hold a config (not started by ``roulette cluster``).
    """
    with os.fdopen(fd, "rb") as file:
        data = file.read()
    try:
        config = pickle.loads(data)  # our own parent wrote it; nothing a client sends
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise ConfigError(f"--config-fd {fd}: not a config from roulette cluster") from exc
    if not isinstance(config, Config):
        raise ConfigError(f"--config-fd {fd}: not a config from roulette cluster")
    return config
