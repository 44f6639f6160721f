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
