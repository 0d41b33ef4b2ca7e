"""``roulette`` commands, called through ``main(argv)`` and as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from roulette.cli import main
from support.server import server_env


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roulette", *args],
        env=server_env(3001, tmp_path, None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_db_upgrade_then_ban_list_and_unban(tmp_path: Path) -> None:
    address = Account.create().address
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    banned = run_cli(tmp_path, "ban", address.lower(), "--reason", "spam")
    assert banned.returncode == 0, banned.stderr
    assert address in banned.stdout
    listed = run_cli(tmp_path, "bans")
    assert address in listed.stdout and "spam" in listed.stdout
    assert run_cli(tmp_path, "unban", address).returncode == 0
    assert run_cli(tmp_path, "unban", address).returncode == 1


def test_a_bad_address_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "ban", "0x123", "--reason", "x")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "address" in result.stderr


def test_a_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "seventy")
    assert main(["db", "current"]) == 2
    assert "PORT='seventy'" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2


def test_loadtest_bad_options_are_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "--users", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "users" in err.lower()
