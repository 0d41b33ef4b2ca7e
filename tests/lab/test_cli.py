"""``roulette lab`` from the command line, without a lab: clear errors, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from roulette.cli import main


@pytest.mark.parametrize("command", [["status"], ["down"], ["chaos", "kill-node"]])
def test_without_a_lab_every_command_says_so(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LAB_DIR", str(tmp_path / "nothing"))
    assert main(["lab", *command]) == 2
    assert f"no lab in {tmp_path / 'nothing'}" in capsys.readouterr().err


def test_partition_node_is_not_offered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["lab", "chaos", "partition-node"])
    assert "invalid choice" in capsys.readouterr().err


def test_out_of_range_sizes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    assert main(["lab", "up", "--nodes", "0"]) == 2
    assert "--nodes and --workers must be within 1..16" in capsys.readouterr().err
    assert not (tmp_path / "lab.json").exists()
