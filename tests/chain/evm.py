"""A real local EVM node for the chain tests: anvil from npm, driven over JSON-RPC.

The node's binary comes from the npm package ``@foundry-rs/anvil`` (its platform package ships
the binary), installed into ``tools/node`` from the checked-in lock file when missing.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_abi.abi import encode

from roulette.auth.address import to_checksum_address
from roulette.chain.abi import call_data
from roulette.identity import Address

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node"
BUILD = ROOT / "contracts" / "build"
START_TIMEOUT = 20.0


class NodeToolsMissing(Exception):
    """npm is not installed, so the node cannot be installed."""


def anvil_binary() -> Path:
    """The anvil binary, installing tools/node with ``npm ci`` first if needed."""
    found = _find_anvil()
    if found is None:
        npm = shutil.which("npm")
        if npm is None:
            raise NodeToolsMissing("npm is not installed: cannot install @foundry-rs/anvil")
        subprocess.run(
            [npm, "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        found = _find_anvil()
    assert found is not None, "npm ci succeeded but no anvil binary was installed"
    return found


def _find_anvil() -> Path | None:
    # The platform package (e.g. @foundry-rs/anvil-linux-amd64) holds the real binary; the
    # wrapper in .bin/ is a node script that spawns it (and forwards signals less reliably).
    for candidate in sorted((TOOLS / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        return candidate
    wrapper = TOOLS / "node_modules" / ".bin" / "anvil"
    return wrapper if wrapper.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Evm:
    """One running anvil node and a synchronous JSON-RPC client to drive it."""

    chain_id: int
    url: str
    process: subprocess.Popen[bytes]
    accounts: list[Address] = field(default_factory=list)
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @classmethod
    def start(cls, binary: Path, chain_id: int) -> Evm:
        """Start anvil on a free port and wait until it answers."""
        port = _free_port()  # a probed port: anvil is told its port (its output is discarded)
        process = subprocess.Popen(
            [str(binary), "--port", str(port), "--chain-id", str(chain_id), "--accounts", "20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        evm = cls(chain_id, f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                evm.accounts = [to_checksum_address(a) for a in evm.rpc("eth_accounts", [])]
                return evm
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    evm.stop()
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the node (idempotent)."""
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; an error object raises AssertionError."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer = self._http.post(self.url, json=body).json()
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer["result"]

    def send(
        self,
        sender: Address,
        to: Address | None = None,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
    ) -> str:
        """Send a transaction from an unlocked dev account and wait until it is mined."""
        tx: dict[str, str] = {"from": sender, "value": hex(value), "data": "0x" + data.hex()}
        if to is not None:
            tx["to"] = to
        if gas is not None:
            tx["gas"] = hex(gas)  # a fixed gas skips estimation, so a reverting tx is mined
        tx_hash: str = self.rpc("eth_sendTransaction", [tx])
        self.receipt(tx_hash)
        return tx_hash

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        """The receipt of a transaction, waiting (bounded) for automine to include it."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            receipt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            assert time.monotonic() < deadline, f"{tx_hash} was never mined"
            time.sleep(0.01)

    def transact(self, sender: Address, to: Address, signature: str, *args: Any) -> str:
        """Call ``signature`` on ``to`` in a transaction; asserts it succeeded."""
        tx_hash = self.send(sender, to, call_data(signature, *args))
        assert self.receipt(tx_hash)["status"] == "0x1", f"{signature} reverted"
        return tx_hash

    def call(self, to: Address, signature: str, *args: Any) -> bytes:
        """An ``eth_call``'s return data."""
        result = self.rpc(
            "eth_call", [{"to": to, "data": "0x" + call_data(signature, *args).hex()}]
        )
        return bytes.fromhex(result[2:])

    def deploy(self, sender: Address, name: str, *args: Any) -> Address:
        """Deploy ``contracts/build/<name>.json`` with constructor ``args``."""
        artifact = json.loads((BUILD / f"{name}.json").read_text())
        inputs: list[dict[str, Any]] = next(
            (i["inputs"] for i in artifact["abi"] if i["type"] == "constructor"), []
        )
        code = bytes.fromhex(artifact["bytecode"][2:]) + encode(
            [i["type"] for i in inputs], list(args)
        )
        receipt = self.receipt(self.send(sender, data=code))
        assert receipt["status"] == "0x1", f"deploying {name} reverted"
        return to_checksum_address(receipt["contractAddress"])

    def mine(self, blocks: int = 1) -> None:
        """Mine empty blocks."""
        self.rpc("anvil_mine", [hex(blocks)])

    def code(self, address: Address) -> bytes:
        """The code at ``address``."""
        return bytes.fromhex(self.rpc("eth_getCode", [address, "latest"])[2:])
