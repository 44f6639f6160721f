"""The action protocol: every action's merge is associative and agrees with one big fill.

Partials are built from random data through each action's own `fill` (with a
minimal FillContext over plain arrays), then merged in both bracketings; and
`Stats`, the action added through that protocol alone, is checked end to end
on a real cluster against numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import awkward as ak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hepflow
from hepflow.core.measure import MAX_FALLBACKS, PHASES, Measurement
from hepflow.core.types import jagged, scalar
from hepflow.plan import actions as act
from hepflow.plan.nodes import Filter, PlanNode, Source
from hepflow.results.histograms import AxisModel, HistModel
from hepflow.results.pieces import Pieces
from hepflow.results.statistic import Statistic

SOURCE = Source("Events", (), {"x": scalar("float"), "w": scalar("float"),
                               "v": jagged("float")})


class _Chunk:
    """A FillContext over plain arrays: one chunk's columns at the source."""

    def __init__(self, index: int, columns: dict[str, Any],
                 cuts: dict[int, tuple[int, int]] | None = None) -> None:
        self.chunk_index = index
        self._columns = columns
        self._cuts = cuts or {}

    def describe(self) -> str:
        return f"test chunk {self.chunk_index}"

    def events(self, node: PlanNode) -> int:
        return len(self._columns["x"])

    def column(self, node: PlanNode, name: str) -> Any:
        if name == "rdfentry_":  # Display shows each row's entry number
            return np.arange(len(self._columns["x"]), dtype=np.uint64)
        return self._columns[name]

    def cut(self, node: PlanNode) -> tuple[int, int]:
        return self._cuts[id(node)]


FILTER = Filter(SOURCE, None, "f")  # type: ignore[arg-type]


def _collect(acc: list[float], value: float) -> list[float]:
    return [*acc, value]


def _collect_chunk(acc: list[int], values: ak.Array) -> list[int]:
    return [*acc, len(values)]


def _concatenate(a: list[float], b: list[float]) -> list[float]:
    return a + b


def _ignore(*values: Any) -> None:
    return None


ACTIONS: list[act.Action[Any, Any]] = [
    act.Count(SOURCE),
    act.Stat(SOURCE, "Sum", "x"),
    act.Stat(SOURCE, "StdDev", "v"),
    act.Histo(SOURCE, HistModel("h", "", (AxisModel(10, -3, 3),)), ("x",), "w"),
    act.Histo(SOURCE, HistModel("p", "", (AxisModel(5, -3, 3),)), ("x", "w"), None, "profile"),
    act.Take(SOURCE, "v"),
    act.AsNumpy(SOURCE, ("x", "v")),
    act.Display(SOURCE, ("x",), 7),
    act.Report(SOURCE, (FILTER,)),
    act.Stats(SOURCE, "v", "w"),
    act.Histo(SOURCE, HistModel("p2", "", (AxisModel(4, -3, 3), AxisModel(3, 0, 3))),
              ("x", "w", "x"), "w", "profile"),
    act.Graph(SOURCE, ("x", "w")),
    act.Graph(SOURCE, ("x", "w", "w", "w", "x", "x")),
    act.Aggregate(SOURCE, _collect, _concatenate, "x", []),
    act.Aggregate(SOURCE, _collect_chunk, _concatenate, "v", [], vectorized=True),
    act.AutoHisto(SOURCE, "v", "w"),
    act.Foreach(SOURCE, _ignore, ("x", "v")),
]


def _chunk(index: int, n: int, seed: int) -> _Chunk:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n)
    values = ak.unflatten(rng.normal(size=int(counts.sum())), counts)
    return _Chunk(index, {"x": rng.normal(size=n), "w": rng.uniform(0.5, 2, n), "v": values},
                  {id(FILTER): (n, int(rng.integers(0, n + 1)))})


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype == object:
        return [_plain(e) for e in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    return ak.to_list(x)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, Statistic):
        return all(math.isclose(getattr(a, f), getattr(b, f), rel_tol=1e-9, abs_tol=1e-9)
                   for f in ("w", "w2", "mean", "m2")) and a.n == b.n
    if hasattr(a, "view") and hasattr(a, "axes"):  # hist.Hist
        return a.axes == b.axes and np.allclose(np.asarray(a.view(flow=True).tolist()),
                                                np.asarray(b.view(flow=True).tolist()))
    if isinstance(a, Pieces):
        return [i for i, _ in a.items] == [i for i, _ in b.items]
    if hasattr(a, "n") and hasattr(a, "m2"):  # Moments
        return a.n == b.n and math.isclose(a.total, b.total, rel_tol=1e-9, abs_tol=1e-9) \
            and math.isclose(a.m2, b.m2, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, (ak.Array, np.ndarray)):
        return bool(_plain(a) == _plain(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return a == b
    return str(a) == str(b)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.label)
@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 30), min_size=3, max_size=3), seed=st.integers(0, 2**16))
def test_merge_is_associative(action: act.Action[Any, Any], sizes: Sequence[int],
                              seed: int) -> None:
    a, b, c = (action.fill(_chunk(i, n, seed + i)) for i, n in enumerate(sizes))
    left = action.merge(action.merge(a, b), c)
    right = action.merge(a, action.merge(b, c))
    assert _same(left, right)
    assert _same(action.merge(action.empty(), a), a)
    assert _same(action.finish(left), action.finish(right))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_stats_merge_equals_numpy(sizes: Sequence[int], seed: int) -> None:
    action = act.Stats(SOURCE, "v", "w")
    chunks = [_chunk(i, n, seed + i) for i, n in enumerate(sizes)]
    merged = action.empty()
    for chunk in chunks:
        merged = action.merge(merged, action.fill(chunk))
    values = np.concatenate([ak.to_numpy(ak.flatten(c.column(SOURCE, "v"))) for c in chunks])
    weights = np.concatenate([ak.to_numpy(ak.flatten(ak.broadcast_arrays(
        c.column(SOURCE, "v"), c.column(SOURCE, "w"))[1])) for c in chunks])
    result = action.finish(merged)
    assert result.GetN() == values.size
    assert math.isclose(result.GetW(), weights.sum(), rel_tol=1e-12)
    if weights.sum() > 0:
        mean = np.average(values, weights=weights)
        assert math.isclose(result.GetMean(), mean, rel_tol=1e-9, abs_tol=1e-12)
    if values.size > 1:
        var = np.average((values - mean) ** 2, weights=weights) * values.size / (values.size - 1)
        assert math.isclose(result.GetRMS(), math.sqrt(var), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.cluster
def test_stats_on_cluster_matches_eager(sample_files: list[str], client: Any,
                                        eager: dict[str, ak.Array]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=7_000)
    sel = df.Filter("nMuon >= 1", "muon")
    weighted = sel.Stats("Muon_pt", "MET_pt")
    plain = df.Stats("MET_pt")
    two = np.asarray(eager["nMuon"]) >= 1
    pt = eager["Muon_pt"][two]
    values = ak.to_numpy(ak.flatten(pt)).astype(np.float64)
    weights = ak.to_numpy(ak.flatten(ak.broadcast_arrays(pt, eager["MET_pt"][two])[1]))
    weights = weights.astype(np.float64)
    w = weighted.GetValue()
    assert w.GetN() == values.size
    assert math.isclose(w.GetW(), weights.sum(), rel_tol=1e-12)
    assert math.isclose(w.GetMean(), np.average(values, weights=weights), rel_tol=1e-12)
    met = np.asarray(eager["MET_pt"], dtype=np.float64)
    p = plain.GetValue()
    assert p.GetN() == met.size
    assert math.isclose(p.GetMean(), met.mean(), rel_tol=1e-12)
    assert math.isclose(p.GetRMS(), met.std(ddof=1), rel_tol=1e-10)
    assert math.isclose(p.GetMeanErr(), met.std(ddof=1) / math.sqrt(met.size), rel_tol=1e-10)
    assert "TStatistic" in str(p)


def _keys(build: Callable[[], Any]) -> set[Any]:
    return set(build().dask_graph())


def test_task_keys_come_from_plan_content(sample_files: list[str]) -> None:
    """The same plan built twice has the same keys; any change in it changes them."""
    def plan(cut: str) -> Callable[[], Any]:
        def build() -> Any:
            df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
            sel = df.Filter(cut, "cut")
            sel.Count()
            sel.Histo1D(("h", "", 10, 0, 100), "MET_pt")
            return sel
        return build

    first, again, other = _keys(plan("nMuon >= 2")), _keys(plan("nMuon >= 2")), \
        _keys(plan("nMuon >= 1"))
    assert first == again
    assert not first & other
    assert all(str(k if isinstance(k, str) else k[0]).startswith("hepflow-") for k in first)


def test_any_error_in_a_chunk_names_file_entries_and_expression(sample_files: list[str]) -> None:
    """Whatever Python exception user code raises, the run reports hepflow's error."""
    def broken(pt: Any) -> Any:
        if len(pt):  # the build-time probe on no events passes
            raise KeyError("no such calibration")
        return pt

    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
    handle = df.Define("calibrated", broken, ["MET_pt"]).Sum("calibrated")
    with pytest.raises(hepflow.EvaluationError) as info:
        handle.GetValue()
    text = str(info.value)
    assert "Define calibrated" in text and "KeyError" in text
    assert re.search(r"entries \d+-\d+ of \S+sample_\d+\.root", text)
    assert isinstance(info.value.__cause__, KeyError)


_PATHS = st.sampled_from(["baskets", "uproot", "uproot-retry", "rntuple"])
_COUNT = st.integers(0, 10**6)
_METRICS = st.builds(
    lambda counts, seconds, paths, files, reasons: Measurement(
        *counts, seconds=seconds, read_paths={p: 1 for p in paths}, file_paths=dict(files),
        fallbacks=tuple(reasons)),
    st.tuples(_COUNT, _COUNT, _COUNT, _COUNT, _COUNT),
    # whole seconds, so that float sums are exact in any order
    st.dictionaries(st.sampled_from([*PHASES, "total"]), st.integers(0, 1000).map(float)),
    st.lists(_PATHS, max_size=3),
    st.lists(st.tuples(st.sampled_from(["a.root", "b.root", "c.root"]), _PATHS), max_size=3),
    st.lists(st.text(max_size=3), max_size=12))


@settings(max_examples=60, deadline=None)
@given(a=_METRICS, b=_METRICS, c=_METRICS)
def test_read_path_metrics_merge_associatively(a: Measurement, b: Measurement,
                                               c: Measurement) -> None:
    """The one measurement record merges the same under any bracketing (the reduction's
    tree and the scheduler's arrival order), with the empty record as identity."""
    left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    assert left == right
    assert a.merge(Measurement()) == a == Measurement().merge(a)
    assert Measurement.from_dict(left.to_dict()) == left
    assert left.bytes_compressed == a.bytes_compressed + b.bytes_compressed + \
        c.bytes_compressed
    assert left.phase("total") == a.phase("total") + b.phase("total") + c.phase("total")
    assert sum(left.read_paths.values()) == sum(sum(m.read_paths.values()) for m in (a, b, c))
    assert left.fallbacks == (a.fallbacks + b.fallbacks + c.fallbacks)[:MAX_FALLBACKS]
    for name, path in left.file_paths.items():
        seen = {p for m in (a, b, c) for f, joined in m.file_paths.items() if f == name
                for p in joined.split("+")}
        assert set(path.split("+")) == seen
