"""``roulette lab`` from the command line, without a lab: clear errors, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from roulette.cli import main
from roulette.lab.state import LabNode, LabPostgres, LabState, save


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


def test_partition_node_on_a_lab_without_namespaces_says_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The state of a lab started without --netns (nothing runs: the refusal comes first).
    node = LabNode("node1", 1, 2, 3, 4, pid=0)
    pg = LabPostgres("machine", "", "", "", 5432)
    save(LabState(str(tmp_path), 5, 6, 1, [7], pg, [node], {"management": "m"}))
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    assert main(["lab", "chaos", "partition-node"]) == 2
    err = capsys.readouterr().err
    assert "partition-node needs a lab whose nodes run in their own network namespaces" in err
    assert "roulette lab up --netns" in err
    assert main(["lab", "chaos", "heal"]) == 0
    assert "nothing to heal" in capsys.readouterr().out


def test_out_of_range_sizes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    assert main(["lab", "up", "--nodes", "0"]) == 2
    assert "--nodes and --workers must be within 1..16" in capsys.readouterr().err
    assert not (tmp_path / "lab.json").exists()
