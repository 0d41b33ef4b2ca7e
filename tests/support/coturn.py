"""Start Debian's ``turnserver`` (coturn) on loopback with the deployed configuration.

The test configuration is ``deploy/coturn/turnserver.conf`` itself, with only the listener,
the relay port range, the realm and the secret replaced, so the denied peer ranges and quotas
under test are the ones we ship. coturn listens and relays on 127.0.0.1 (the only address a
test may use); loopback stays denied as a *peer*, which is exactly what the tests check.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEPLOYED_CONFIG", "Coturn", "running_coturn"]

DEPLOYED_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "coturn" / "turnserver.conf"

_REPLACED = (
    "listening-port",
    "tls-listening-port",
    "min-port",
    "max-port",
    "realm",
    "log-file",
    "external-ip",
    "cert",
    "pkey",
)


@dataclass
class Coturn:
    """A live coturn and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    secret: str
    realm: str
    log_path: Path

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def coturn_config(port: int, relay_ports: tuple[int, int], secret: str, realm: str) -> str:
    """The deployed configuration with this run's listener, ports, realm and secret."""
    kept = [
        line
        for line in DEPLOYED_CONFIG.read_text().splitlines()
        if line.split("=", 1)[0].strip() not in _REPLACED
    ]
    kept += [
        "listening-ip=127.0.0.1",
        "relay-ip=127.0.0.1",
        f"listening-port={port}",
        f"min-port={relay_ports[0]}",
        f"max-port={relay_ports[1]}",
        f"realm={realm}",
        f"static-auth-secret={secret}",
        "no-tls",
        "no-dtls",
        "log-file=stdout",
    ]
    return "\n".join(kept) + "\n"


def _answers(port: int) -> bool:
    # A STUN Binding request (RFC 8489 §6): any answer means the server is up.
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            sock.recvfrom(2048)
        except TimeoutError:
            return False
    return True


@contextlib.contextmanager
def running_coturn(directory: Path, secret: str, *, timeout: float = 15.0) -> Iterator[Coturn]:
    """A coturn process on a free loopback UDP port, stopped on exit."""
    binary = shutil.which("turnserver")
    if binary is None:
        raise RuntimeError("turnserver is not installed (apt-get install coturn)")
    port = _free_udp_port()
    first = random.randrange(20_000, 60_000, 100)
    realm = "roulette.test"
    config = directory / "turnserver.conf"
    config.write_text(coturn_config(port, (first, first + 99), secret, realm))
    log_path = directory / "turnserver.log"
    pid_file = directory / "turnserver.pid"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "-c", str(config), "--pidfile", str(pid_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    coturn = Coturn(process, port, secret, realm, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start:\n{coturn.log()}")
        yield coturn
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
