"""The remaining RDataFrame operations, on a real cluster against eager uproot/awkward/numpy.

Histo3D, HistoND, Profile2D, Graph, GraphAsymmErrors, Aggregate, Reduce, Foreach,
ForeachSlot, Histo1D without a model, FilterAvailable, FilterMissing,
DefaultValueFor, RedefinePerSample and RDataFrame(N).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest
import uproot

import hepflow
from hepflow import Dataset, PlanError
from hepflow.core.types import jagged, scalar
from hepflow.dataset.chunks import cut_chunks
from hepflow.dataset.prepare import PreparedDataset
from hepflow.dataset.scan import preprocess_files
from hepflow.errors import EvaluationError
from hepflow.plan import actions as act
from hepflow.plan.actions.aggregate import entries
from hepflow.plan.actions.autohisto import auto_axis
from hepflow.plan.nodes import DefaultValueFor, EmptySource, FilterAvailable


def f64(x: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(x, axis=None)), dtype=np.float64)


@pytest.fixture(scope="module")
def df(sample_files: list[str], client: Any) -> hepflow.RDataFrame:
    return hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=6_000)


# -- histograms ---------------------------------------------------------------------------


@pytest.mark.cluster
def test_histo3d_histond_profile2d_match_eager(df: hepflow.RDataFrame,
                                               eager: dict[str, ak.Array]) -> None:
    sel = df.Filter("nMuon >= 1", "muon")
    h3 = sel.Histo3D(("h3", "t;pt;eta;phi", 10, 0, 100, 6, -3, 3, 4, [-4, -1, 0, 1, 4]),
                     "Muon_pt", "Muon_eta", "Muon_phi", "genWeight")
    edges = [0.0, 20.0, 50.0, 200.0]
    hn = sel.HistoND(("h4", "", 4, [3, 5, 6, 4], [edges, [-3, -1, 0, 1, 2, 3],
                                                  np.linspace(-3.2, 3.2, 7).tolist(),
                                                  [-1, -0.5, 0, 0.5, 1]]),
                     ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_charge"])
    hnw = df.HistoND(("h2w", "", 2, [8, 5], [0, 0], [200, 10]), ["MET_pt", "nJet", "genWeight"])
    p2 = df.Profile2D(("p2", "", 5, 0, 200, 4, 0, 8), "MET_pt", "nJet", "PV_npvs")
    p2w = df.Profile2D(("p2w", "", 5, 0, 200, 4, 0, 8), "MET_pt", "nJet", "PV_npvs",
                       "genWeight")

    one = np.asarray(eager["nMuon"]) >= 1
    pt, eta, phi = (eager[k][one] for k in ("Muon_pt", "Muon_eta", "Muon_phi"))
    w = ak.broadcast_arrays(pt, eager["genWeight"][one])[1]
    ref3 = hist.Hist(hist.axis.Regular(10, 0, 100), hist.axis.Regular(6, -3, 3),
                     hist.axis.Variable([-4, -1, 0, 1, 4]), storage=hist.storage.Weight())
    ref3.fill(f64(pt), f64(eta), f64(phi), weight=f64(w))
    got3 = h3.GetValue()
    assert got3.ndim == 3 and got3.axes[2].edges.tolist() == [-4, -1, 0, 1, 4]
    assert got3.axes[0].label == "pt" and got3.name == "h3"
    np.testing.assert_allclose(got3.values(flow=True), ref3.values(flow=True), rtol=1e-12)
    np.testing.assert_allclose(got3.variances(flow=True), ref3.variances(flow=True),
                               rtol=1e-12)

    charge = f64(eager["Muon_charge"][one])
    ref4 = hist.Hist(hist.axis.Variable(edges), hist.axis.Variable([-3, -1, 0, 1, 2, 3]),
                     hist.axis.Regular(6, -3.2, 3.2), hist.axis.Variable([-1, -0.5, 0, 0.5, 1]))
    ref4.fill(f64(pt), f64(eta), f64(phi), charge)
    got4 = hn.GetValue()
    assert got4.ndim == 4 and "HistoND" in repr(hn)
    assert np.array_equal(got4.values(flow=True), ref4.values(flow=True))
    assert got4.sum(flow=True) == len(charge)

    met_all = np.asarray(eager["MET_pt"], dtype=np.float64)
    njet_all = np.asarray(eager["nJet"], dtype=np.float64)
    gw = np.asarray(eager["genWeight"], dtype=np.float64)
    refw = hist.Hist(hist.axis.Regular(8, 0, 200), hist.axis.Regular(5, 0, 10),
                     storage=hist.storage.Weight()).fill(met_all, njet_all, weight=gw)
    np.testing.assert_allclose(hnw.GetValue().values(flow=True), refw.values(flow=True),
                               rtol=1e-12)

    npv = np.asarray(eager["PV_npvs"], dtype=np.float64)
    refp = hist.Hist(hist.axis.Regular(5, 0, 200), hist.axis.Regular(4, 0, 8),
                     storage=hist.storage.Mean()).fill(met_all, njet_all, sample=npv)
    got = p2.GetValue()
    assert got.storage_type is hist.storage.Mean
    np.testing.assert_array_equal(got.counts(flow=True), refp.counts(flow=True))
    np.testing.assert_allclose(got.values(flow=True), refp.values(flow=True), rtol=1e-10)
    refpw = hist.Hist(hist.axis.Regular(5, 0, 200), hist.axis.Regular(4, 0, 8),
                      storage=hist.storage.WeightedMean()).fill(met_all, njet_all,
                                                                 sample=npv, weight=gw)
    np.testing.assert_allclose(p2w.GetValue().values(), refpw.values(), rtol=1e-10)
    np.testing.assert_allclose(p2w.GetValue().counts(), refpw.counts(), rtol=1e-10)


def test_model_errors_at_build_time(sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    with pytest.raises(PlanError, match="missing its z axis"):
        df.Histo3D(("h", "", 10, 0, 1, 10, 0, 1), "MET_pt", "MET_pt", "MET_pt")
    with pytest.raises(PlanError, match="list of 2 nbins"):
        df.HistoND(("h", "", 2, [10], [0, 0], [1, 1]), ["MET_pt", "MET_phi"])
    with pytest.raises(PlanError, match="needs 2 columns"):
        df.HistoND(("h", "", 2, [10, 10], [0, 0], [1, 1]), ["MET_pt"])
    with pytest.raises(PlanError, match="THnDModel"):
        df.HistoND(("h", "", 1, [10]), ["MET_pt"])
    with pytest.raises(EvaluationError, match="cannot mix per-event values and collections"):
        df.HistoND(("h", "", 2, [2, 2], [0, 0], [1, 1]), ["MET_pt", "Muon_pt"]).GetValue()
    with pytest.raises(PlanError, match="ends with"):  # ROOT's (zlow, zup[, option]) only
        df.Profile2D(("p", "", 10, 0, 1, 10, 0, 1, 0, 5, "", 7), "MET_pt", "MET_phi", "nJet")
    with pytest.raises(PlanError, match="unknown column"):
        df.Histo3D(("h", "", 1, 0, 1, 1, 0, 1, 1, 0, 1), "MET_pt", "MET_phi", "MET_pT")


@pytest.mark.cluster
def test_histo1d_without_model_is_roots_automatic_binning(df: hepflow.RDataFrame,
                                                          eager: dict[str, ak.Array]) -> None:
    plain = df.Histo1D("MET_pt")
    weighted = df.Filter("nJet > 0").Histo1D("Jet_pt", "genWeight")
    nothing = df.Filter("nMuon < 0").Histo1D("MET_pt")
    met = np.asarray(eager["MET_pt"], dtype=np.float64)
    lo, hi = met.min(), met.max()
    h = plain.GetValue()
    axis = h.axes[0]
    assert len(axis) == 128 and axis.edges[0] == lo
    assert axis.edges[-1] == pytest.approx(2 * hi - lo, rel=1e-15)
    ref = hist.Hist(hist.axis.Regular(128, lo, 2 * hi - lo)).fill(met)
    assert np.array_equal(h.values(flow=True), ref.values(flow=True))
    # the maximum lands in bin 64 (ROOT's 65); the doubled axis leaves the rest empty
    assert h.values()[64] >= 1 and h.values()[65:].sum() == 0

    has = np.asarray(eager["nJet"]) > 0
    pt = eager["Jet_pt"][has]
    w = f64(ak.broadcast_arrays(pt, eager["genWeight"][has])[1])
    values = f64(pt)
    ref_w = hist.Hist(hist.axis.Regular(128, values.min(), 2 * values.max() - values.min()),
                      storage=hist.storage.Weight()).fill(values, weight=w)
    np.testing.assert_allclose(weighted.GetValue().values(flow=True), ref_w.values(flow=True),
                               rtol=1e-12)
    empty = nothing.GetValue()
    assert len(empty.axes[0]) == 128 and empty.sum(flow=True) == 0


def test_auto_axis_edge_cases() -> None:
    assert auto_axis(np.array([])) == act.AxisModel(128, 0.0, 1.0)
    assert auto_axis(np.array([np.nan, 2.5, 2.5])) == act.AxisModel(128, 2.5, 3.5)
    assert auto_axis(np.array([1.0, 3.0])) == act.AxisModel(128, 1.0, 5.0)


# -- graphs -------------------------------------------------------------------------------


@pytest.mark.cluster
def test_graphs_in_entry_order(df: hepflow.RDataFrame, eager: dict[str, ak.Array]) -> None:
    sel = df.Filter("nMuon == 2", "two")
    g = sel.Graph("MET_pt", "MET_phi")
    gj = sel.Graph("Muon_pt", "Muon_eta")
    d = (sel.Define("exl", "0.1 * MET_pt").Define("exh", "0.2 * MET_pt")
            .Define("eyl", "abs(MET_phi) / 10").Define("eyh", "nJet * 1.0"))
    ga = d.GraphAsymmErrors("MET_pt", "MET_phi", "exl", "exh", "eyl", "eyh")
    empty = df.Filter("nMuon < 0").Graph("MET_pt", "MET_phi")
    two = np.asarray(eager["nMuon"]) == 2
    met = np.asarray(eager["MET_pt"][two], dtype=np.float64)
    phi = np.asarray(eager["MET_phi"][two], dtype=np.float64)
    graph = g.GetValue()
    assert graph.GetN() == int(two.sum()) == len(graph)
    assert graph.GetX().dtype == np.float64
    assert np.array_equal(graph.GetX(), met) and np.array_equal(graph.GetY(), phi)
    assert graph.GetPointX(3) == met[3]
    jets = gj.GetValue()
    assert np.array_equal(jets.GetX(), f64(eager["Muon_pt"][two]))
    assert np.array_equal(jets.GetY(), f64(eager["Muon_eta"][two]))
    asym = ga.GetValue()
    assert np.array_equal(asym.GetX(), met)
    np.testing.assert_allclose(asym.GetEXlow(), 0.1 * met, rtol=1e-15)
    np.testing.assert_allclose(asym.GetEXhigh(), 0.2 * met, rtol=1e-15)
    float_phi = np.abs(phi.astype(np.float32)) / np.float32(10)  # float / int is float
    assert np.array_equal(asym.GetEYlow(), float_phi.astype(np.float64))
    assert np.array_equal(asym.GetEYhigh(), np.asarray(eager["nJet"][two], dtype=np.float64))
    assert asym.GetErrorX(0) == pytest.approx(np.sqrt(((0.1 * met[0]) ** 2 +
                                                       (0.2 * met[0]) ** 2) / 2))
    assert empty.GetValue().GetN() == 0


def test_graph_rejects_mixed_and_unequal_collections(sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=20_000)
    with pytest.raises(EvaluationError, match="cannot mix per-event values and collections"):
        df.Graph("MET_pt", "Muon_pt").GetValue()
    with pytest.raises(EvaluationError, match="different sizes"):
        df.Graph("Jet_pt", "Muon_pt").GetValue()


# -- Aggregate, Reduce, Foreach -------------------------------------------------------------


def _append(acc: list[int], value: int) -> None:
    acc.append(value)


def _extend(a: list[int], b: list[int]) -> None:
    a.extend(b)


@pytest.mark.cluster
def test_aggregate_and_reduce_match_eager(df: hepflow.RDataFrame,
                                          eager: dict[str, ak.Array]) -> None:
    sel = df.Filter("nMuon >= 2", "two")
    ordered = sel.Aggregate(lambda acc, n: [*acc, n], lambda a, b: a + b, "event", [])
    in_place = sel.Aggregate(_append, _extend, "nJet", [])
    total = df.Aggregate(lambda acc, x: acc + x, lambda a, b: a + b, "nJet", 0)
    column = df.Aggregate(lambda acc, x: acc + float(np.sum(x, dtype=np.float64)),
                          lambda a, b: a + b, "MET_pt", 0.0, vectorized=True)
    lead = sel.Aggregate(lambda acc, v: [*acc, float(v.max())], lambda a, b: a + b,
                         "Muon_pt", [])
    biggest = df.Reduce(max, "nJet")
    summed = df.Reduce(lambda a, b: a + b, "nMuon", 0)
    none = df.Filter("nMuon < 0")
    nothing = none.Aggregate(lambda a, x: [*a, x], lambda a, b: a + b, "nJet", [])
    per_chunk = none.Aggregate(lambda a, x: [*a, x], lambda a, b: a + b, "nJet", ["start"])
    two = np.asarray(eager["nMuon"]) >= 2
    assert ordered.GetValue() == np.asarray(eager["event"])[two].tolist()
    assert in_place.GetValue() == np.asarray(eager["nJet"])[two].tolist()
    assert total.GetValue() == int(np.asarray(eager["nJet"]).sum())
    met = np.asarray(eager["MET_pt"], dtype=np.float64)
    assert column.GetValue() == pytest.approx(met.sum(), rel=1e-12)
    assert lead.GetValue() == np.asarray(ak.max(eager["Muon_pt"][two], axis=1)).tolist()
    assert biggest.GetValue() == int(np.asarray(eager["nJet"]).max())
    assert summed.GetValue() == int(np.asarray(eager["nMuon"]).sum())
    assert nothing.GetValue() == []
    # the identity starts every chunk (ROOT: every thread), so it must be neutral
    assert per_chunk.GetValue() == ["start"] * per_chunk.run_info().chunks


def test_aggregate_errors(sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=20_000)
    with pytest.raises(PlanError, match="needs aggIdentity"):
        df.Aggregate(lambda a, x: a + x, lambda a, b: a + b, "nJet")
    with pytest.raises(PlanError, match="unknown column"):
        df.Aggregate(lambda a, x: a + x, lambda a, b: a + b, "njet", 0)
    with pytest.raises(EvaluationError, match=r"Aggregate\(.*aggregator raised ZeroDivision"):
        df.Aggregate(lambda a, x: a / 0, lambda a, b: a + b, "nJet", 1).GetValue()


def test_entries_gives_python_numbers_and_per_event_arrays() -> None:
    assert entries(np.array([1, 2], dtype=np.int32)) == [1, 2]
    assert isinstance(entries(np.array([1.5], dtype=np.float32))[0], float)
    nested = entries(ak.Array([[1.0, 2.0], [], [3.0]]))
    assert [x.tolist() for x in nested] == [[1.0, 2.0], [], [3.0]]
    assert entries(ak.Array([[1.0]])[:0]) == []


def _record(directory: str, n: int, pt: np.ndarray) -> None:
    with open(os.path.join(directory, f"{os.getpid()}.txt"), "a") as out:
        out.write(f"{n} {len(pt)}\n")


def _record_slot(directory: str, slot: int, n: int) -> None:
    with open(os.path.join(directory, f"slot-{os.getpid()}.txt"), "a") as out:
        out.write(f"{slot} {n}\n")


@pytest.mark.cluster
def test_foreach_runs_on_the_workers(df: hepflow.RDataFrame, eager: dict[str, ak.Array],
                                     tmp_path: Path) -> None:
    sel = df.Filter("nMuon >= 3")
    count = sel.Count()
    assert sel.Foreach(functools.partial(_record, str(tmp_path)), ["nMuon", "Muon_pt"]) is None
    assert count.IsReady(), "Foreach runs the event loop with every booked result"
    assert sel.ForeachSlot(functools.partial(_record_slot, str(tmp_path)), ["nMuon"]) is None
    rows = [line.split() for p in tmp_path.glob("[0-9]*.txt") for line in p.read_text().split(
        "\n") if line]
    pids = {p.name for p in tmp_path.glob("[0-9]*.txt")}
    n = np.asarray(eager["nMuon"])
    assert len(rows) == int((n >= 3).sum()) == count.GetValue()
    assert sorted(int(a) for a, _ in rows) == sorted(n[n >= 3].tolist())
    assert all(a == b for a, b in rows), "collections arrive as one array per event"
    assert str(os.getpid()) + ".txt" not in pids, "Foreach must not run on the client"
    slots = [line.split() for p in tmp_path.glob("slot-*.txt")
             for line in p.read_text().split("\n") if line]
    assert len(slots) == len(rows) and {s for s, _ in slots} == {"0"}


# -- missing branches ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def uneven(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[dict[str, Any]]]:
    """Three files; the middle one lacks branches `x` and `v`."""
    base = tmp_path_factory.mktemp("uneven")
    rng = np.random.default_rng(3)
    paths, contents = [], []
    for i, (n, full) in enumerate(((3_000, True), (2_000, False), (2_500, True))):
        data: dict[str, Any] = {"y": rng.normal(size=n),
                                "k": rng.integers(0, 5, n).astype(np.int32)}
        if full:
            data["x"] = rng.uniform(0, 10, n)
            data["v"] = ak.unflatten(rng.normal(size=int(data["k"].sum())), data["k"])
        path = str(base / f"f{i}.root")
        types = {"y": np.float64, "k": np.int32} | ({"x": np.float64, "v": "var * float64"}
                                                    if full else {})
        with uproot.recreate(path) as f:
            f.mktree("Events", types)
            f["Events"].extend(data)
        paths.append(path)
        contents.append(data)
    return paths, contents


def _uneven_frame(paths: list[str], client: Any) -> hepflow.RDataFrame:
    """A dataset whose schema is the first file's, built without the same-branches check
    (which preprocess applies today; see the report)."""
    dataset = Dataset.from_files(paths, "Events")
    infos = preprocess_files([(p, "Events", (), "") for p in paths])
    chunks = cut_chunks(infos, 1_000)
    return hepflow.RDataFrame(PreparedDataset(dataset, tuple(infos), tuple(chunks)),
                              client=client)


@pytest.mark.cluster
def test_filter_available_and_missing(uneven: tuple[list[str], list[dict[str, Any]]],
                                      client: Any) -> None:
    paths, contents = uneven
    df = _uneven_frame(paths, client)
    has, lacks = df.FilterAvailable("x"), df.FilterMissing("x")
    n_has, n_lacks = has.Count(), lacks.Count()
    y_has = has.Take("y")
    y_lacks = lacks.Filter("k > 1").Sum("y")
    assert "FilterAvailable(x)   [1 file range(s) lack it]" in has.explain()
    assert n_has.GetValue() == 5_500 and n_lacks.GetValue() == 2_000
    assert y_has.GetValue().tolist() == np.concatenate([contents[0]["y"],
                                                        contents[2]["y"]]).tolist()
    middle = contents[1]
    assert y_lacks.GetValue() == pytest.approx(middle["y"][middle["k"] > 1].sum(), rel=1e-12)
    with pytest.raises(PlanError, match="not a branch of the dataset"):
        df.Define("z", "y * 2").FilterAvailable("z")
    with pytest.raises(PlanError, match="unknown column"):
        df.FilterMissing("nope")


class _Chunk:
    """A ChunkContext over plain arrays, for lowering one node by hand."""

    def __init__(self, start: int, columns: dict[str, Any]) -> None:
        self.global_start = start
        self.num_entries = len(columns["y"])
        self._columns = columns

    def view(self, node: Any) -> Any:
        return self

    @property
    def n(self) -> int:
        return self.num_entries

    def column(self, node: Any, name: str) -> Any:
        return self._columns[name]

    def narrow(self, parent: Any, keep: np.ndarray | None) -> Any:
        return ("all",) if keep is None else ("kept", keep.size)


def test_default_value_for_lowering() -> None:
    source = EmptySource("", (), {}, None, 0)
    flat = DefaultValueFor(source, "x", -1, scalar("float"), ((100, 200),))
    coll = DefaultValueFor(source, "v", [0.5, 1.5], jagged("float"), ((100, 200),))
    there = _Chunk(0, {"y": np.zeros(3), "x": np.array([1.0, 2.0, 3.0]),
                       "v": ak.Array([[1.0], [], [2.0, 3.0]])})
    gone = _Chunk(150, {"y": np.zeros(2)})
    assert flat.evaluate(there, "x").tolist() == [1.0, 2.0, 3.0]  # type: ignore[arg-type]
    filled = flat.evaluate(gone, "x")  # type: ignore[arg-type]
    assert filled.dtype == np.float64 and filled.tolist() == [-1.0, -1.0]
    assert ak.to_list(coll.evaluate(gone, "v")) == [[0.5, 1.5], [0.5, 1.5]]  # type: ignore
    assert coll.evaluate(there, "v") is there.column(source, "v")  # type: ignore[arg-type]
    keep = FilterAvailable(source, "v", jagged("float"), ((100, 200),))
    drop = FilterAvailable(source, "v", jagged("float"), ((100, 200),), keep_missing=True)
    assert keep.select(there) == ("all",) and keep.select(gone) == ("kept", 0)  # type: ignore
    assert drop.select(there) == ("kept", 0) and drop.select(gone) == ("all",)  # type: ignore
    # below FilterAvailable the column never comes from a file that lacks it
    assert "v" in keep.defines() and "v" not in drop.defines()
    nothing = keep.evaluate(gone, "v")  # type: ignore[arg-type]
    assert len(nothing) == 0 and str(ak.type(nothing)) == "0 * var * float64"
    assert keep.evaluate(there, "v") is there.column(source, "v")  # type: ignore[arg-type]


@pytest.mark.cluster
def test_default_value_for_where_every_file_has_it(df: hepflow.RDataFrame,
                                                   eager: dict[str, ak.Array]) -> None:
    d = df.DefaultValueFor("MET_pt", -1.0).DefaultValueFor("Muon_pt", [])
    assert d.Take("MET_pt").GetValue().tolist() == np.asarray(eager["MET_pt"]).tolist()
    assert d.Sum("Muon_pt").GetValue() == pytest.approx(f64(eager["Muon_pt"]).sum(), rel=1e-12)
    assert "DefaultValueFor MET_pt = -1.0" in d.explain()
    with pytest.raises(PlanError, match="must be a list"):
        df.DefaultValueFor("Muon_pt", 0.0)
    with pytest.raises(PlanError, match="must be one number"):
        df.DefaultValueFor("MET_pt", [1.0])
    with pytest.raises(PlanError, match="must be numeric"):
        df.DefaultValueFor("MET_pt", "zero")


# -- RedefinePerSample and RDataFrame(N) ----------------------------------------------------


@pytest.mark.cluster
def test_redefine_per_sample(sample_files: list[str], client: Any,
                             eager: dict[str, ak.Array]) -> None:
    ds = Dataset.from_dict({"samples": {
        "a": {"metadata": {"scale": 2.0}, "files": sample_files[:2]},
        "b": {"metadata": {"scale": 0.5}, "files": sample_files[2:]}}})
    df = hepflow.RDataFrame(ds, client=client, chunk_entries=6_000)
    w = df.RedefinePerSample("genWeight", "scale * 10")
    k = df.DefinePerSample("k", lambda info: info.index).RedefinePerSample(
        "k", lambda info: info.index + 5)
    order = df.Aggregate(lambda acc, e: [*acc, e], lambda a, b: a + b, "event", [])
    total, ks = w.Sum("genWeight"), k.Sum("k")
    with uproot.open(sample_files[2]) as f:
        n_b = f["Events"].num_entries
    n_a = len(eager["MET_pt"]) - n_b
    assert total.GetValue() == pytest.approx(n_a * 20.0 + n_b * 5.0, rel=1e-12)
    assert ks.GetValue() == n_a * 5 + n_b * 6
    assert w.GetColumnType("genWeight") == "double"
    assert order.GetValue() == np.asarray(eager["event"]).tolist(), \
        "Aggregate merges in chunk order across samples"
    with pytest.raises(PlanError, match="unknown column"):
        df.RedefinePerSample("nothing", "scale")


@pytest.mark.cluster
def test_empty_source_of_n_entries(client: Any) -> None:
    df = hepflow.RDataFrame(10_007, client=client, chunk_entries=1_000)
    d = df.Define("x", "rdfentry_ * 0.5").Define("odd", "rdfentry_ % 2 == 1")
    sel = d.Filter("odd", "odd")
    n, s, taken = sel.Count(), sel.Sum("x"), d.Take("rdfentry_")
    h = d.Histo1D(("h", "", 10, 0, 5_004), "x")
    first = d.Filter("x > 100").Range(3).Take("rdfentry_")
    entry = np.arange(10_007)
    assert n.GetValue() == 5_003
    assert s.GetValue() == pytest.approx((entry[entry % 2 == 1] * 0.5).sum(), rel=1e-15)
    assert taken.GetValue().tolist() == entry.tolist()
    ref = hist.Hist(hist.axis.Regular(10, 0, 5_004)).fill(entry * 0.5)
    assert np.array_equal(h.GetValue().values(flow=True), ref.values(flow=True))
    assert first.GetValue().tolist() == [201, 202, 203]
    info = n.run_info()
    assert info.chunks == 11 and info.metrics.bytes_compressed == 0
    assert df.GetColumnNames() == []
    assert "Empty source" in d.explain() and "11 chunk(s)" in d.explain()
    assert hepflow.RDataFrame(0, client="sync").Count().GetValue() == 0
    with pytest.raises(PlanError, match="N >= 0"):
        hepflow.RDataFrame(-1, client="sync")
