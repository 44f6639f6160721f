"""Issue 16's expression rows end to end: through RDataFrame on real files, in a run."""

from __future__ import annotations

import re

import awkward as ak
import numpy as np
import pytest

import hepflow


@pytest.fixture(scope="module")
def df(sample_files: list[str]) -> hepflow.RDataFrame:
    return hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)


def test_a_490_term_and_filter_builds_and_runs(df: hepflow.RDataFrame,
                                               eager: dict[str, ak.Array]) -> None:
    text = " && ".join(f"MET_pt > {i % 7}" for i in range(490))
    assert df.Filter(text).Count().GetValue() == int(np.sum(np.asarray(eager["MET_pt"]) > 6))


def test_large_constants_promote_in_a_run(df: hepflow.RDataFrame,
                                          eager: dict[str, ak.Array]) -> None:
    n = np.asarray(eager["nMuon"]).astype(np.int64)
    assert df.Define("x", "nMuon + 2147483648").Sum("x").GetValue() == int(
        (n + 2147483648).sum())
    assert df.Define("y", "nMuon * 3000000000").Max("y").GetValue() == int((n * 3000000000).max())
    assert df.Define("z", "event * -1").Count().GetValue() == len(n)  # ULong64_t wraps


def test_a_huge_take_is_an_evaluation_error_naming_expression_file_entries(
        df: hepflow.RDataFrame) -> None:
    with pytest.raises(hepflow.EvaluationError) as info:
        df.Define("t", "Take(Muon_pt, 1000000000, 0)").Sum("t").GetValue()
    text = str(info.value)
    assert "Take(Muon_pt, 1000000000, 0)" in text and "limit" in text
    assert re.search(r"entries \d+-\d+ of \S+\.root", text)
