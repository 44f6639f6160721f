"""Plan building and lowering cost on the client, and the size of the task graph."""

from __future__ import annotations

import math
import time

import pytest

import hepflow


@pytest.fixture(scope="module")
def many_chunks(tmp_path_factory):
    from hepflow.samples import make_sample

    outdir = tmp_path_factory.mktemp("many")
    files = make_sample(outdir, events=100_000, files=2, seed=5, basket_entries=500,
                        extra_branches=10)
    return hepflow.RDataFrame("Events", [str(f) for f in files], client="sync",
                              chunk_entries=500)


def test_build_and_lower_200_chunks_fast_and_small(many_chunks):
    df = many_chunks
    start = time.perf_counter()
    node = df
    for i in range(20):
        node = node.Define(f"v{i}", f"MET_pt * {i + 1} + Sum(Jet_pt > {10 + i})")
        if i % 4 == 3:
            node = node.Filter(f"v{i} > {i}", f"cut{i}")
    for i in range(10):
        node.Histo1D((f"h{i}", f"h{i}", 100, 0, 1000), f"v{2 * i}")
    graph = node.dask_graph()
    elapsed = time.perf_counter() - start
    chunks = len(df._runner.chunks)
    assert chunks == 200
    reduce_tasks = sum(math.ceil(chunks / 8 ** k) for k in range(1, 4))
    assert len(graph) <= chunks + reduce_tasks + 1, len(graph)
    assert elapsed < 0.2, f"building and lowering took {elapsed:.3f} s"


def test_unknown_column_fails_at_build_time_before_any_compute(many_chunks):
    with pytest.raises(hepflow.ExpressionError) as info:
        many_chunks.Filter("nMuon > 1 && Jet_Pt[0] > 30")
    assert "did you mean `Jet_pt`" in str(info.value)
    assert "^^^^^^" in str(info.value)


def _analysis_keys(df, cut: str) -> set:
    node = df.Filter(cut, "cut").Define("lead", "Max(Jet_pt)")
    node.Histo1D(("h", "h", 10, 0, 100), "lead")
    node.Count()
    return set(node.dask_graph())


def test_same_plan_built_twice_gives_the_same_task_keys(many_chunks):
    """Keys come from the plan's content (nodes memoise their tokens), not from identity."""
    files = [c.url for c in many_chunks._runner.chunks[:1]]
    fresh = [hepflow.RDataFrame("Events", files, client="sync", chunk_entries=500)
             for _ in range(2)]
    first, second = (_analysis_keys(df, "nMuon >= 1") for df in fresh)
    assert first == second
    other = _analysis_keys(fresh[0], "nMuon >= 2")
    assert not first & other, "a different cut must not share any task key"


def test_run_report_names_the_client_side_phases(many_chunks):
    files = [c.url for c in many_chunks._runner.chunks[:1]]
    count = hepflow.RDataFrame("Events", files, client="sync").Filter("nMuon >= 1").Count()
    count.GetValue()
    info = count.run_info()
    assert list(info.phases) == ["range_counts", "lower", "submit", "wait", "deliver"]
    assert all(v >= 0 for v in info.phases.values())
    assert sum(info.phases.values()) <= info.seconds + 0.05
    assert info.to_dict()["phases"] == dict(info.phases)
