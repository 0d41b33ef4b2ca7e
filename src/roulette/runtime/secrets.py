"""JWT secrets for embedded mode: generated once and kept in the data directory.

A restart must not log everyone out, and several workers of one node must agree, so the first
process to start creates the file atomically and every other one reads it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from roulette.config import Config
from roulette.errors import ConfigError

__all__ = ["jwt_secrets"]

FILE_NAME = "jwt-secrets.json"


def jwt_secrets(config: Config) -> tuple[str, str]:
    """The access and refresh secrets: from the config, else from (or into) the data dir."""
    if config.jwt_access_secret and config.jwt_refresh_secret:
        return config.jwt_access_secret, config.jwt_refresh_secret
    stored = _load_or_create(config.data_dir / FILE_NAME)
    return (
        config.jwt_access_secret or stored["access"],
        config.jwt_refresh_secret or stored["refresh"],
    )


def _load_or_create(path: Path) -> dict[str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return _read(path)
    fresh = {"access": secrets.token_urlsafe(48), "refresh": secrets.token_urlsafe(48)}
    # Write a private temp file, then link it into place: link() fails if another process won
    # the race, and nobody ever reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(fresh, handle)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _read(path)
    finally:
        tmp.unlink()
    return fresh


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and all(
            isinstance(data.get(k), str) for k in ("access", "refresh")
        ):
            return {"access": data["access"], "refresh": data["refresh"]}
    except (OSError, ValueError):
        pass
    raise ConfigError(f"{path} is unreadable or malformed; delete it to make new secrets")
