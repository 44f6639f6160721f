"""benchmarks/ttbar.py: its ways of writing the analysis give the same results on one cluster."""

from __future__ import annotations

import os
from typing import Any

import pytest

from benchmarks import ttbar
from benchmarks.dimuon import MOVED_FRACTION


def test_strings_and_callable_agree(sample_files: list[str], client: Any) -> None:
    strings = ttbar.run_hepflow(sample_files, client, None, "strings")
    assert strings.count > 0 and strings.hists["top_mass_4j2b"][0].sum() > 0
    other = ttbar.run_hepflow(sample_files, client, None, "callable")
    # the strings compute the jets in float, as C++; the callables in double
    assert ttbar.compare(strings, other, MOVED_FRACTION) == []


@pytest.mark.coffea  # uproot.dask + dask-awkward + hist.dask: the coffea-compatible set
def test_strings_and_hand_written_agree(sample_files: list[str], client: Any) -> None:
    strings = ttbar.run_hepflow(sample_files, client, None, "strings")
    other = ttbar.run_hand_written(sample_files, client, 2)
    assert ttbar.compare(strings, other, MOVED_FRACTION) == []


def test_a_changed_result_is_reported(sample_files: list[str]) -> None:
    """The check can fail: a histogram changed in one bin is named."""
    strings = ttbar.run_hepflow(sample_files, "sync", None, "strings")
    values, variances = strings.hists["ht_4j1b"]
    changed = values.copy()
    changed[10] += 1.0
    other = ttbar.Outcome(0.0, 0.0, {**strings.hists, "ht_4j1b": (changed, variances)},
                          strings.count + 1)
    problems = ttbar.compare(strings, other)
    assert any("events_4j2b" in p for p in problems)
    assert any(p.startswith("ht_4j1b: bin 10") for p in problems)


@pytest.mark.skipif(not os.environ.get("HEPFLOW_ROOT_PYTHON"),
                    reason="ROOT's RDataFrame baseline needs HEPFLOW_ROOT_PYTHON (PyROOT)")
def test_rdataframe_agrees(sample_files: list[str]) -> None:
    strings = ttbar.run_hepflow(sample_files, "sync", None, "strings")
    runs = ttbar.run_rdataframe(os.environ["HEPFLOW_ROOT_PYTHON"], sample_files, 1, 1)
    assert len(runs) == 2 and all(ttbar.compare(strings, r) == [] for r in runs)
