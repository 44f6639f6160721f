"""Analysis files run through `hepflow run`: results, ROOT/PNG outputs and the run report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot
import yaml

from hepflow.cli import main

pytestmark = pytest.mark.cluster


def test_hepflow_run_writes_results_and_report(sample_files, tmp_path):
    spec = tmp_path / "dataset.yaml"
    spec.write_text(yaml.safe_dump({"samples": {"dy": {"files": sample_files}}}))
    outdir = tmp_path / "out"
    report = tmp_path / "run.json"
    rc = main(["run", "examples/dimuon.py", "--dataset", str(spec), "--outdir", str(outdir),
               "--report", str(report), "--workers", "2"])
    assert rc == 0
    data = json.loads(report.read_text())
    cuts = data["results"]["cutflow"]["cuts"]
    assert cuts[0]["name"] == "two muons" and cuts[0]["all"] == 40_000
    assert data["results"]["selected"]["value"] == cuts[1]["pass"]
    assert data["runs"]["mass"]["entries_processed"] == 40_000
    with uproot.open(outdir / "histograms.root") as f:
        values = f["mass"].values()
    assert values.shape == (120,) and np.argmax(values) in range(58, 66)
    assert (outdir / "mass.png").stat().st_size > 1000
