"""``roulette reports|ban|unban|audit`` on a real SQLite database, through ``main(argv)``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from roulette.auth.address import to_checksum_address
from roulette.cli import main
from roulette.storage.sql import SqlModeration, create_engine
from support.server import server_env


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    for name, value in server_env(3001, tmp_path, None).items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> Ran:
        code = main(list(args))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


async def _seed_reports(tmp_path: Path, reporter: str, target: str) -> list[int]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'roulette.db'}")
    try:
        moderation = SqlModeration(engine)
        return [
            await moderation.add_report(
                reporter=to_checksum_address(reporter),
                target=to_checksum_address(target),
                reason=reason,
                session_id=None,
                notes="seen on camera",
                now=1_700_000_000.0 + i,
            )
            for i, reason in enumerate(("harassment", "spam"))
        ]
    finally:
        await engine.dispose()


def test_list_show_resolve_and_the_audit_trail(tmp_path: Path, run_cli: Any) -> None:
    reporter, target = Account.create().address, Account.create().address
    assert run_cli("db", "upgrade").returncode == 0
    first, second = asyncio.run(_seed_reports(tmp_path, reporter, target))

    listed = run_cli("reports", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(int(r[0]), r[3], r[4], r[5]) for r in rows] == [
        (first, target, reporter, "harassment"),
        (second, target, reporter, "spam"),
    ]

    shown = run_cli("reports", "show", str(first))
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["report"]["notes"] == "seen on camera"
    assert view["target"]["openReportsReceived"] == 2 and view["reporter"]["reportsMade"] == 2

    resolved = run_cli(
        "reports", "resolve", str(first), "--action", "ban", "--reason", "threats",
        "--expires-in", "3600", "--by", "ann",
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    assert f"{first}, {second}" in resolved.stdout
    assert run_cli("reports", "list").stdout == ""
    bans = run_cli("bans").stdout
    assert target in bans and "cli:ann" in bans and "\t-" not in bans  # it has an expiry

    again = run_cli("reports", "resolve", str(first), "--action", "ban", "--reason", "x")
    assert again.returncode == 2 and "resolved already" in again.stderr
    assert "Traceback" not in again.stderr
    assert run_cli("unban", target, "--reason", "appeal", "--by", "bob").returncode == 0

    audit = [json.loads(line) for line in run_cli("audit").stdout.splitlines()]
    assert [(e["actor"], e["action"]) for e in audit] == [
        ("cli:bob", "unban"),
        ("cli:ann", "resolve_reports"),
        ("cli:ann", "ban"),
    ]
    assert audit[1]["details"]["reports"] == [first, second]


def test_show_of_a_missing_report_is_a_clear_error(run_cli: Any) -> None:
    result = run_cli("reports", "show", "42")
    assert result.returncode == 2 and "no report 42" in result.stderr
