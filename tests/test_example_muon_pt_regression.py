"""examples/muon_pt_regression.py runs as a user runs it: its own process, cluster and sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hls4ml")  # the `fpga` extra; CI installs it with the test extra

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


def test_muon_pt_regression_example(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "muon_pt_regression.py"), "--events", "8000",
         "--epochs", "4", "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=280, env=env, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "corrected pT = Muon_pt x prediction:" in run.stdout
    assert "68% half-width" in run.stdout
    report = json.loads((tmp_path / "out" / "hls4ml" / "hepflow_report.json").read_text())
    assert report["precision"] == "ap_fixed<18,6,AP_RND,AP_SAT>"
    assert report["lossy"] is False and report["max_deviation"] <= report["tolerance"]
    assert (tmp_path / "out" / "bundle" / "bundle.json").is_file()
