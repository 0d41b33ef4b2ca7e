"""The lab's PostgreSQL: a database in the machine's server, or a throwaway ``initdb`` cluster.

Only a throwaway cluster (made by the lab, in the lab directory) may ever be restarted by the
lab; :func:`restart` refuses anything else.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from roulette.errors import ConfigError
from roulette.lab.state import LabPostgres

__all__ = ["answers", "create", "drop", "restart", "start_throwaway", "stop_throwaway"]

MACHINE_PORT = 5432
STARTUP_SECONDS = 60.0


def answers(port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise ConfigError(f"{name} is not installed: the lab needs it for a throwaway PostgreSQL")


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _psql(admin_url: str, sql: str, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
        env=dict(env),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigError(f"psql failed ({sql}): {done.stderr.decode(errors='replace').strip()}")


def create(
    port: int, mode: str, data_dir: str, env: Mapping[str, str], host: str = "127.0.0.1"
) -> LabPostgres:
    """Create the lab's database (``roulette_lab_<random>``) in the server on ``port``; the
    nodes reach it on ``host`` (the lab bridge's address with ``--netns``)."""
    database = f"roulette_lab_{secrets.token_hex(4)}"
    admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    _psql(admin_url, f"CREATE DATABASE {database}", env)
    url = f"postgresql+asyncpg://postgres@{host}:{port}/{database}"
    listen = "127.0.0.1" if host == "127.0.0.1" else f"127.0.0.1,{host}"
    return LabPostgres(mode, url, admin_url, database, port, data_dir, listen)


def drop(postgres: LabPostgres, env: Mapping[str, str]) -> None:
    """Drop the lab's database (its connections are gone once the nodes are down)."""
    _psql(postgres.admin_url, f"DROP DATABASE IF EXISTS {postgres.database} WITH (FORCE)", env)


def start_throwaway(
    directory: Path, port: int, env: Mapping[str, str], bridge_address: str = ""
) -> None:
    """``initdb`` a cluster in ``directory`` (trust auth, loopback only) and start it on ``port``.

    ``bridge_address``: also listen on the lab bridge (``--netns``) and trust its /24, the
    namespaces of this lab's nodes and nothing else.

    Raises:
        ConfigError: ``initdb`` or ``pg_ctl`` is missing or failed.
    """
    if not (directory / "PG_VERSION").exists():
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        argv = [_tool("initdb"), "-D", str(directory), "-U", "postgres", "-A", "trust"]
        _run(_as_owner([*argv, "--no-sync"]), env)
        if bridge_address:
            subnet = ipaddress.ip_network(f"{bridge_address}/24", strict=False)
            with (directory / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {subnet} trust\n")
    listen = f"127.0.0.1,{bridge_address}" if bridge_address else "127.0.0.1"
    _pg_ctl(directory, port, "start", env, listen)


def _pg_ctl(
    directory: Path, port: int, action: str, env: Mapping[str, str], listen: str = "127.0.0.1"
) -> None:
    options = f"-p {port} -k {directory} -c listen_addresses={listen} -c fsync=on"
    argv = [_tool("pg_ctl"), "-D", str(directory), "-l", str(directory / "server.log")]
    argv += ["-o", options, "-w", "-t", str(int(STARTUP_SECONDS)), "-m", "fast", action]
    _run(_as_owner(argv), env)


def _run(argv: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(argv, env=dict(env), capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace").strip()
        raise ConfigError(f"{Path(argv[0]).name} failed: {output[-800:]}")


def stop_throwaway(directory: Path, env: Mapping[str, str]) -> None:
    """Stop a throwaway cluster (fast shutdown); nothing if it is not running."""
    if (directory / "postmaster.pid").exists():
        argv = [_tool("pg_ctl"), "-D", str(directory), "-w", "-m", "fast", "stop"]
        _run(_as_owner(argv), env)


def server_pid(postgres: LabPostgres) -> int:
    """The postmaster's pid of a throwaway cluster (0 when it is not running)."""
    pid_file = Path(postgres.data_dir) / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def restart(postgres: LabPostgres, env: Mapping[str, str], down_seconds: float = 0.0) -> None:
    """Restart the lab's throwaway cluster; refuses the machine's server.

    Raises:
        ConfigError: the lab's PostgreSQL is not a throwaway cluster the lab made.
    """
    directory = Path(postgres.data_dir)
    if postgres.mode != "throwaway" or not (directory / "PG_VERSION").exists():
        raise ConfigError(
            "restart-postgres only restarts a throwaway cluster the lab made with initdb; this "
            f"lab uses the machine's PostgreSQL on port {postgres.port}, which the lab never "
            "restarts (start the lab with `roulette lab up --postgres throwaway`)"
        )
    stop_throwaway(directory, env)
    time.sleep(down_seconds)
    _pg_ctl(directory, postgres.port, "start", env, postgres.listen)
