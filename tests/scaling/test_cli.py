"""``roulette scaling simulate`` and ``render-hpa`` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SCALING_", "MIN_", "MAX_"))}
    return subprocess.run(
        [sys.executable, "-m", "roulette", "scaling", *args],
        env={**clean, "DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_simulate_a_trace_file_writes_json(tmp_path: Path) -> None:
    trace = tmp_path / "spike.json"
    trace.write_text(
        json.dumps({"name": "spike", "points": [[0, 5000], [60, 50000], [600, 50000]]})
    )
    out = tmp_path / "out"
    done = run(tmp_path, "simulate", str(trace), "--out", str(out), "--no-plot", "--max", "6")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["max_instances"] == 5  # 50,000 users at 60 % of 19,000 → 5
    result = json.loads((out / "scaling-spike.json").read_text())
    assert result["series"][-1]["instances"] == 5
    assert result["summary"]["bounds"] == {"min": 1, "max": 6}


def test_render_hpa_uses_the_environment(tmp_path: Path) -> None:
    done = run(tmp_path, "render-hpa", MIN_INSTANCES="3", MAX_INSTANCES="9")
    assert done.returncode == 0, done.stderr
    hpa = next(yaml.safe_load_all(done.stdout))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = run(tmp_path, "simulate", "no-such-trace")
    assert missing.returncode == 2
    assert "not one of diurnal, flash-crowd, slow-leak" in missing.stderr
    bounds = run(tmp_path, "render-hpa", "--min", "5", "--max", "2")
    assert bounds.returncode == 2
    assert "need 1 <= min (5) <= max (2)" in bounds.stderr
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: x}]")
    bad = run(tmp_path, "render-hpa", "--rules", str(rules))
    assert bad.returncode == 2
    assert "missing field" in bad.stderr


def test_simulate_draws_a_png_or_says_why_not(tmp_path: Path) -> None:
    trace = tmp_path / "short.json"
    trace.write_text(json.dumps({"name": "short", "points": [[0, 1000], [120, 3000]]}))
    done = run(tmp_path, "simulate", str(trace), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    png = tmp_path / "scaling-short.png"
    if png.exists():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plot: {png}" in done.stdout
    else:
        assert "matplotlib is not installed" in done.stderr
