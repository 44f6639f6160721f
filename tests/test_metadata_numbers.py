"""Dataset metadata as written in YAML: `1.2e9` is a number; text used as a number is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hepflow
from hepflow.errors import PlanError
from hepflow.samples import make_sample

pytestmark = pytest.mark.cluster


def _dataset(tmp_path: Path, sumw: str) -> hepflow.Dataset:
    for name in ("a", "b"):
        make_sample(tmp_path, events=100, extra_branches=0, name=name)
    spec = tmp_path / "ds.yaml"
    spec.write_text(f"""
samples:
  DY:
    files: [a_000.root]
    metadata: {{xsec: 6077.2, lumi: 59.7, sumw: {sumw}, era: "1e3"}}
  TT:
    files: [b_000.root]
    metadata: {{xsec: 833.9, lumi: 59.7, sumw: 2e6}}
""")
    return hepflow.Dataset.load(spec)


def test_exponent_numbers_are_numbers(tmp_path: Path, client: Any) -> None:
    ds = _dataset(tmp_path, "1.2e9")
    dy, tt = ds.samples
    assert dy.metadata["sumw"] == 1.2e9 and tt.metadata["sumw"] == 2e6
    assert dy.metadata["era"] == "1e3"                  # quoted: stays text
    df = hepflow.RDataFrame(ds, client=client).DefinePerSample("norm", "xsec * lumi / sumw")
    total = df.Sum("norm").GetValue()
    assert total == pytest.approx(100 * (6077.2 * 59.7 / 1.2e9 + 833.9 * 59.7 / 2e6))


def test_text_used_as_number_names_sample_and_key(tmp_path: Path, client: Any) -> None:
    ds = _dataset(tmp_path, "1.2x9")
    with pytest.raises(PlanError, match=r"sample 'DY': metadata 'sumw' is '1.2x9'"):
        hepflow.RDataFrame(ds, client=client).DefinePerSample("norm", "xsec * lumi / sumw")
