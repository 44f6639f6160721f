"""Every action and transformation on a real 2-worker cluster, against eager uproot + numpy."""

from __future__ import annotations

import math
import sys

import awkward as ak
import hist
import numpy as np
import pytest
import uproot
from expr_reference import FLOAT_FUNCS

import hepflow
from hepflow import PlanError

pytestmark = pytest.mark.cluster


def f64(x: ak.Array) -> ak.Array:
    return ak.values_astype(x, np.float64)


def dimuon_reference(ev: dict[str, ak.Array]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the two dimuon cuts and the mass, computed eagerly as ROOT's
    InvariantMass<float> does: in float, with C's cosf/sinf/sinhf."""
    two = np.asarray(ev["nMuon"]) == 2
    charge = ev["Muon_charge"][two]
    opposite = np.asarray(charge[:, 0] != charge[:, 1])
    sel = {k: ev[k][two][opposite] for k in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass")}
    counts = ak.num(sel["Muon_pt"])
    pt, eta, phi, m = (np.asarray(ak.flatten(sel[k]), dtype=np.float32)
                       for k in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))

    def c_float(name: str, values: np.ndarray) -> np.ndarray:
        return np.asarray([FLOAT_FUNCS[name](v) for v in values], dtype=np.float32)

    x, y, z = pt * c_float("cos", phi), pt * c_float("sin", phi), pt * c_float("sinh", eta)
    e = np.sqrt(x * x + y * y + z * z + m * m)
    sx, sy, sz, se = (np.asarray(ak.to_numpy(ak.sum(ak.unflatten(c, counts), axis=1)))
                      for c in (x, y, z, e))
    mass = np.sqrt(se * se - sx * sx - sy * sy - sz * sz)
    assert mass.dtype == np.float32
    return two, opposite, mass


@pytest.fixture(scope="module")
def df(sample_files, client):
    return hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=8_000)


def test_dimuon_analysis_matches_eager(df, eager):
    f = (df.Filter("nMuon == 2", "two muons")
           .Filter("Muon_charge[0] != Muon_charge[1]", "opposite charge")
           .Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
    h = f.Histo1D(("m", "m", 30000, 0.25, 300), "Dimuon_mass")
    count = f.Count()
    report = df.Report()
    two, opposite, mass = dimuon_reference(eager)
    assert count.GetValue() == len(mass)
    assert h.IsReady() and report.IsReady(), "one pass must fill every booked result"
    ref = hist.Hist(hist.axis.Regular(30000, 0.25, 300)).fill(mass)
    assert np.array_equal(h.GetValue().values(flow=True), ref.values(flow=True))
    cuts = list(report.GetValue())
    assert [(c.name, c.all, c.passed) for c in cuts] == [
        ("two muons", len(two), int(two.sum())),
        ("opposite charge", int(two.sum()), int(opposite.sum())),
    ]
    peak = h.GetValue().axes[0].centers[np.argmax(h.GetValue().values())]
    assert abs(peak - 91.19) < 3
    assert f.Take("Dimuon_mass").GetValue().tolist() == mass.tolist()


def test_scalar_statistics(df, eager):
    met = np.asarray(eager["MET_pt"], dtype=np.float64)
    jets = np.asarray(eager["nJet"])
    results = {
        "sum": df.Sum("MET_pt"), "mean": df.Mean("MET_pt"), "std": df.StdDev("MET_pt"),
        "min": df.Min("MET_pt"), "max": df.Max("MET_pt"), "isum": df.Sum("nJet"),
        "jmean": df.Mean("Jet_pt"), "count": df.Count(),
    }
    assert results["count"].GetValue() == len(met)
    assert results["sum"].GetValue() == pytest.approx(met.sum(), rel=1e-12)
    assert results["mean"].GetValue() == pytest.approx(met.mean(), rel=1e-12)
    assert results["std"].GetValue() == pytest.approx(met.std(ddof=1), rel=1e-10)
    assert results["min"].GetValue() == met.min()
    assert results["max"].GetValue() == met.max()
    assert results["isum"].GetValue() == int(jets.sum())
    assert isinstance(results["isum"].GetValue(), float)  # a double, as ROOT's Sum
    all_jets = np.asarray(ak.flatten(eager["Jet_pt"]), dtype=np.float64)
    assert results["jmean"].GetValue() == pytest.approx(all_jets.mean(), rel=1e-12)


def test_take_and_asnumpy_exact(df, eager):
    sel = df.Filter("nJet >= 4 && MET_pt > 20")
    mask = (np.asarray(eager["nJet"]) >= 4) & (np.asarray(eager["MET_pt"]) > 20)
    event = sel.Take("event").GetValue()
    assert event.tolist() == np.asarray(eager["event"])[mask].tolist()
    jets = sel.Take("Jet_pt").GetValue()
    assert ak.to_list(jets) == ak.to_list(eager["Jet_pt"][mask])
    arrays = sel.AsNumpy(["MET_pt", "Muon_pt"])
    assert np.array_equal(arrays["MET_pt"], np.asarray(eager["MET_pt"])[mask])
    assert arrays["Muon_pt"].dtype == object
    assert [a.tolist() for a in arrays["Muon_pt"]] == ak.to_list(eager["Muon_pt"][mask])


def test_defines_functions_and_weights(df, eager):
    d = (df.Define("nGoodJet", "Sum(Jet_pt > 30 && abs(Jet_eta) < 2.4)")
           .Define("leadJet", "nJet > 0 ? Jet_pt[0] : -1.f")
           .Define("bjets", "Jet_pt[Jet_btagDeepFlavB > 0.5]")
           .Filter("nGoodJet >= 2", "two good jets"))
    h = d.Histo1D(("ht", "b-jet pt;pt [GeV]", 50, 0, 500), "bjets", "genWeight")
    h2 = d.Histo2D(("h2", "h2", 10, 0, 10, 20, 0, 400), "nGoodJet", "leadJet")
    prof = d.Profile1D(("p", "p", 10, 0, 10), "nGoodJet", "MET_pt")
    jet_pt, jet_eta = f64(eager["Jet_pt"]), f64(eager["Jet_eta"])
    ngood = np.asarray(ak.sum((jet_pt > 30) & (abs(jet_eta) < 2.4), axis=1))
    mask = ngood >= 2
    lead = np.where(np.asarray(eager["nJet"]) > 0,
                    np.asarray(ak.fill_none(ak.firsts(jet_pt), -1.0)), -1.0)[mask]
    bjets = eager["Jet_pt"][eager["Jet_btagDeepFlavB"] > 0.5][mask]
    weights = ak.broadcast_arrays(bjets, eager["genWeight"][mask])[1]
    ref = hist.Hist(hist.axis.Regular(50, 0, 500), storage=hist.storage.Weight())
    ref.fill(np.asarray(ak.flatten(bjets), dtype=np.float64),
             weight=np.asarray(ak.flatten(weights), dtype=np.float64))
    np.testing.assert_allclose(h.GetValue().values(flow=True), ref.values(flow=True),
                               rtol=1e-12)
    np.testing.assert_allclose(h.GetValue().variances(flow=True), ref.variances(flow=True),
                               rtol=1e-12)
    ref2 = hist.Hist(hist.axis.Regular(10, 0, 10), hist.axis.Regular(20, 0, 400))
    ref2.fill(ngood[mask].astype(float), lead)
    assert np.array_equal(h2.GetValue().values(flow=True), ref2.values(flow=True))
    refp = hist.Hist(hist.axis.Regular(10, 0, 10), storage=hist.storage.Mean())
    refp.fill(ngood[mask].astype(float), sample=np.asarray(eager["MET_pt"])[mask].astype(float))
    np.testing.assert_allclose(prof.GetValue().values(), refp.values(), rtol=1e-12)
    assert h.GetValue().axes[0].label == "pt [GeV]"


def test_range_exact_in_distributed_mode(df, eager):
    event = np.asarray(eager["event"])
    assert df.Range(10, 30_000, 7).Take("event").GetValue().tolist() == \
        event[10:30_000:7].tolist()
    mask = np.asarray(eager["nMuon"]) >= 1
    ranged = df.Filter("nMuon >= 1").Range(100, 9_000, 3)
    assert ranged.Take("event").GetValue().tolist() == event[mask][100:9_000:3].tolist()
    assert ranged.Count().GetValue() == len(event[mask][100:9_000:3])
    nested = df.Filter("nMuon >= 1").Range(5_000).Filter("nJet >= 2").Range(50, 0, 2)
    inner = event[mask][:5_000]
    jets = np.asarray(eager["nJet"])[mask][:5_000]
    assert nested.Take("event").GetValue().tolist() == inner[jets >= 2][50::2].tolist()


def test_alias_redefine_entry_and_python_callable(df, eager):
    d = (df.Alias("met", "MET_pt")
           .Redefine("MET_pt", "MET_pt * 2")
           .Define("ratio", lambda a, b: a / b, ["MET_pt", "met"])
           .Define("entry", "rdfentry_")
           .Define("ptsum", lambda pt: ak.sum(pt, axis=1), ["Muon_pt"]))
    ratio = d.Take("ratio").GetValue()
    assert np.allclose(ratio[np.isfinite(ratio)], 2.0)
    assert d.Take("entry").GetValue().tolist() == list(range(len(eager["event"])))
    np.testing.assert_allclose(d.Take("ptsum").GetValue(),
                               np.asarray(ak.sum(eager["Muon_pt"], axis=1)), rtol=1e-6)


def test_display_report_and_runinfo(df, eager):
    sel = df.Filter("nMuon > 0", "has muon")
    shown = sel.Display(["event", "Muon_pt"], 3).GetValue()
    text = shown.AsString()
    first = np.asarray(eager["event"])[np.asarray(eager["nMuon"]) > 0][:3]
    for value in first:
        assert str(value) in text
    report = sel.Report().GetValue()
    assert report["has muon"].GetAll() == len(eager["event"])
    info = sel.Count()
    info.GetValue()
    assert info.run_info().entries_processed == len(eager["event"])


def test_rungraphs_computes_several_dataframes_together(sample_files, client, eager):
    a = hepflow.RDataFrame("Events", sample_files[0], client=client)
    b = hepflow.RDataFrame("Events", sample_files[1:], client=client)
    ca, cb = a.Count(), b.Filter("nMuon == 2").Count()
    assert hepflow.RunGraphs([ca, cb]) == 2
    assert ca.IsReady() and cb.IsReady()
    with uproot.open(sample_files[0]) as f:
        assert ca.GetValue() == f["Events"].num_entries


def test_snapshot_roundtrip(df, eager, workdir):
    sel = df.Filter("nMuon == 2").Define("lead_pt", "Muon_pt[0]")
    out = sel.Snapshot("Events", workdir / "snap.root", ["event", "lead_pt", "Muon_pt",
                                                          "Muon_eta", "nMuon"])
    assert isinstance(out, hepflow.RDataFrame)
    mask = np.asarray(eager["nMuon"]) == 2
    with uproot.open(workdir / "snap.root") as f:
        tree = f["Events"]
        assert "nMuon" in tree.keys() and "Muon_pt" in tree.keys()
        assert tree["event"].array(library="np").tolist() == \
            np.asarray(eager["event"])[mask].tolist()
        assert ak.to_list(tree["Muon_pt"].array()) == ak.to_list(eager["Muon_pt"][mask])
    assert out.Count().GetValue() == int(mask.sum())
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]


@pytest.mark.coffea
def test_asawkward_is_lazy_dask_awkward(df, eager, client):
    import dask_awkward as dak

    arr = df.Filter("nMuon == 2").Define("lead", "Muon_pt[0]").AsAwkward(["lead", "Muon_eta"])
    assert isinstance(arr, dak.Array)
    computed = client.compute(arr).result()  # on the cluster's process workers
    mask = np.asarray(eager["nMuon"]) == 2
    assert ak.to_list(computed["Muon_eta"]) == ak.to_list(eager["Muon_eta"][mask])


def test_asawkward_without_dask_awkward_names_the_extra(df, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_awkward", None)  # what `import` sees when absent
    with pytest.raises(PlanError, match=r"pip install 'hepflow\[dask-awkward\]'"):
        df.AsAwkward(["MET_pt"])


def test_sync_scheduler_gives_the_same_result(sample_files, df):
    sync = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=8_000)
    expr = "Sum(Jet_pt > 40) >= 2 && MET_pt > 30"
    assert sync.Filter(expr).Count().GetValue() == df.Filter(expr).Count().GetValue()
    h1 = sync.Histo1D(("x", "x", 40, 0, 200), "MET_pt").GetValue()
    h2 = df.Histo1D(("x", "x", 40, 0, 200), "MET_pt").GetValue()
    assert np.array_equal(h1.values(flow=True), h2.values(flow=True))


def test_build_time_errors(df):
    with pytest.raises(hepflow.ExpressionError, match="did you mean `Muon_pt`"):
        df.Define("x", "Muon_Pt * 2")
    with pytest.raises(hepflow.ExpressionError, match="one value per event"):
        df.Define("x", "MET_pt[0]")
    with pytest.raises(hepflow.ExpressionError, match="one value per event"):
        df.Filter("Muon_pt > 20")
    with pytest.raises(PlanError, match="already exists"):
        df.Define("MET_pt", "1")
    with pytest.raises(PlanError, match="unknown column"):
        df.Histo1D(("h", "h", 10, 0, 1), "nope")
    with pytest.raises(PlanError, match="nbins"):
        df.Histo1D(("h", "h", 0, 0, 1), "MET_pt")
    with pytest.raises(hepflow.ExpressionError, match="expected"):
        df.Filter("(nMuon > 2")


def test_runtime_error_names_file_and_entries(df):
    bad = df.Define("third", "Muon_pt[2]")
    with pytest.raises(hepflow.EvaluationError, match=r"entries \d+-\d+ of .*sample_00\d\.root"):
        bad.Sum("third").GetValue()


def test_unreadable_file_names_file(workdir, client):
    path = workdir / "broken.root"
    path.write_bytes(b"this is not a ROOT file" * 100)
    with pytest.raises(hepflow.ReadError, match=r"broken\.root"):
        hepflow.RDataFrame("Events", str(path), client=client)


def test_explain_lists_branches_and_chunks(df):
    f = df.Filter("nMuon == 2", "two muons").Define("m", "InvariantMass(Muon_pt, Muon_eta, "
                                                          "Muon_phi, Muon_mass)")
    text = f.explain()
    assert "chunk(s)" in text and "Filter 'two muons'" in text
    assert "Branches read (5 of" in text and "Muon_charge" not in text
    assert "<pre>" in f._repr_html_()
    assert not math.isnan(len(repr(f)))
