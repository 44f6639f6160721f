"""Plans far deeper than real analyses: a chain of a thousand Defines (each reading the one
before), hundreds of Filters. Tokenizing, pruning, evaluating and pickling them walk the
chain without recursion (each used to recurse once per node: about a hundred chained
Defines overflowed Python's stack)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import hepflow

pytestmark = pytest.mark.timeout(300)


def _chain(df: Any, n: int) -> Any:
    for i in range(n):
        df = df.Define(f"x{i}", "rdfentry_ * 2" if i == 0 else f"x{i - 1} + 1")
    return df


@pytest.mark.parametrize("where", ["sync", "cluster"])
def test_a_thousand_chained_defines(where: str, client: object) -> None:
    n, entries = 1000, 50
    df = _chain(hepflow.RDataFrame(entries, client=client if where == "cluster" else "sync"),
                n)
    total = df.Sum(f"x{n - 1}")
    assert total.GetValue() == sum(2 * e + n - 1 for e in range(entries))


def test_hundreds_of_filters(client: object) -> None:
    df = hepflow.RDataFrame(1000, client=client).Define("x", "rdfentry_")
    for i in range(400):
        df = df.Filter(f"x != {i * 2}")
    assert df.Count().GetValue() == 1000 - 400


def test_a_deep_chain_over_files_equals_numpy_and_reports_errors_as_a_shallow_one(
        sample_files: list[str], eager: dict[str, Any]) -> None:
    """Past the prefetch depth, inputs are computed ahead, bottom-up: the values are those
    of a shallow plan, and a failing input fails with the same error, naming its Define."""
    df = hepflow.RDataFrame("Events", sample_files, client="sync").Define("c0", "MET_pt")
    for i in range(1, 60):
        df = df.Define(f"c{i}", f"c{i - 1} + 1.f")
    got = df.AsNumpy(["c59"])["c59"]
    want = np.asarray(eager["MET_pt"], np.float32)
    for _ in range(59):
        want = want + np.float32(1.0)
    np.testing.assert_array_equal(got, want)
    failing = df.Define("lead", "Muon_pt[0]").Define("d0", "lead")
    for i in range(1, 40):
        failing = failing.Define(f"d{i}", f"d{i - 1} + c{i}")
    shallow = hepflow.RDataFrame("Events", sample_files, client="sync").Define(
        "lead", "Muon_pt[0]").Define("d", "lead + 1")
    for frame, column in ((failing, "d39"), (shallow, "d")):
        with pytest.raises(hepflow.EvaluationError, match=r"Define lead = `Muon_pt\[0\]`"):
            frame.Sum(column).GetValue()
