"""Vary / VariationsFor against the same variations computed eagerly with awkward + numpy."""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest
from expr_reference import FLOAT_FUNCS

import hepflow
from hepflow import PlanError, VariationsFor
from hepflow.errors import EvaluationError, ExpressionError

SCALES = {"down": 0.9, "up": 1.1}


def _ht(jet_pt: ak.Array) -> np.ndarray:
    """ROOT's Sum of an RVec<float>: in float, in order (awkward's reducer does that)."""
    return np.asarray(ak.sum(jet_pt[jet_pt > 30], axis=1))


def _reference(ev: dict[str, ak.Array], scale: float) -> dict[str, Any]:
    """The analysis of `_book`, with Jet_pt scaled, done eagerly. The varied values have
    the column's type, as in ROOT: `Jet_pt * 0.9` (double) is stored as float."""
    muon = np.asarray(ev["nMuon"]) >= 1
    jet_pt = ev["Jet_pt"] if scale == 1.0 else ak.values_astype(
        ak.values_astype(ev["Jet_pt"], np.float64) * scale, np.float32)
    ht = _ht(jet_pt)
    sel = muon & (ht > 150)
    h = hist.Hist(hist.axis.Regular(40, 0, 1000, name="HT"))
    h.fill(ht[sel])
    return {"count": int(sel.sum()), "hist": h.values(flow=True),
            "sum": float(ht[sel].astype(np.float64).sum()),
            "muons": int(muon.sum()), "max": float(ht[sel].max())}


def _book(df: Any, expression: Any = "ROOT::RVec<ROOT::RVecF>{Jet_pt * 0.9, Jet_pt * 1.1}",
          **kwargs: Any) -> dict[str, Any]:
    varied = df.Vary("Jet_pt", expression, ["down", "up"], "jes", **kwargs)
    muon = varied.Filter("nMuon >= 1", "muon")
    sel = (muon.Define("HT", "Sum(Jet_pt[Jet_pt > 30])")
               .Filter("HT > 150", "ht"))
    return {"count": sel.Count(), "hist": sel.Histo1D(("ht", "", 40, 0, 1000), "HT"),
            "sum": sel.Sum("HT"), "muons": muon.Count(), "max": sel.Max("HT"),
            "report": sel.Report()}


def _check(results: dict[str, Any], ev: dict[str, ak.Array]) -> None:
    maps = {k: VariationsFor(v) for k, v in results.items()}
    assert set(maps["count"]) == {"nominal", "jes:down", "jes:up"}
    assert set(maps["muons"]) == {"nominal"}  # the muon selection does not depend on jets
    for key, scale in (("nominal", 1.0), ("jes:down", 0.9), ("jes:up", 1.1)):
        ref = _reference(ev, scale)
        assert maps["count"][key] == ref["count"]
        assert np.array_equal(maps["hist"][key].values(flow=True), ref["hist"])
        assert math.isclose(maps["sum"][key], ref["sum"], rel_tol=1e-12)
        assert maps["max"][key] == pytest.approx(ref["max"], rel=1e-12)
        report = maps["report"][key]
        assert report["ht"].GetPass() == ref["count"]
        assert report["muon"].GetPass() == ref["muons"]
    assert maps["muons"]["nominal"] == _reference(ev, 1.0)["muons"]
    stacked = maps["hist"].hist()
    assert list(stacked.axes[1]) == ["nominal", "jes:down", "jes:up"]
    assert np.array_equal(stacked[:, "jes:up"].values(flow=True),
                          maps["hist"]["jes:up"].values(flow=True))


@pytest.mark.cluster
def test_vary_on_cluster(sample_files: list[str], client: Any,
                         eager: dict[str, ak.Array]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=6_000)
    results = _book(df)
    _check(results, eager)


def test_vary_forms_agree(sample_files: list[str], eager: dict[str, ak.Array]) -> None:
    """ROOT's brace form, a Python list of strings and a callable give the same results."""
    for expression, kwargs in (
            (["Jet_pt * 0.9", "Jet_pt * 1.1"], {}),
            (lambda pt: [ak.values_astype(pt, np.float64) * 0.9,
                         ak.values_astype(pt, np.float64) * 1.1], {"columns": ["Jet_pt"]})):
        df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
        _check(_book(df, expression, **kwargs), eager)


def test_untouched_selection_is_evaluated_once(sample_files: list[str]) -> None:
    """A muon selection upstream of nothing varied runs once per chunk for all variations."""
    calls: list[int] = []

    def muon_cut(n: ak.Array) -> np.ndarray:
        calls.append(len(n))
        return np.asarray(n) >= 1

    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
    varied = df.Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>{Jet_pt * 0.9f, Jet_pt * 1.1f}",
                     ["down", "up"], "jes")
    sel = varied.Filter(muon_cut, ["nMuon"]).Define("HT", "Sum(Jet_pt)").Filter("HT > 100")
    count = VariationsFor(sel.Count())
    assert count["jes:up"] <= count["nominal"] or count["jes:up"] >= 0
    assert len([n for n in calls if n]) == len(df._runner.chunks)  # 0: the build-time probe
    text = sel.explain()
    assert "Vary 'jes' [down, up]: Jet_pt -> {Jet_pt * 0.9f, Jet_pt * 1.1f}" in text


def test_several_columns_vary_together(sample_files: list[str],
                                       eager: dict[str, ak.Array]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
    varied = df.Vary(["MET_pt", "MET_phi"],
                     "RVec<RVecF>{{MET_pt * 0.5f, MET_pt * 2.f}, {MET_phi, -MET_phi}}",
                     ["lo", "hi"], "met")
    px = VariationsFor(varied.Define("px", "MET_pt * cos(MET_phi)").Sum("px"))
    met = np.asarray(eager["MET_pt"], dtype=np.float32)
    phi = np.asarray(eager["MET_phi"], dtype=np.float32)
    for key, (scale, sign) in {"nominal": (1, 1), "met:lo": (0.5, 1), "met:hi": (2, -1)}.items():
        cos = np.asarray([FLOAT_FUNCS["cos"](x) for x in phi * np.float32(sign)],
                         dtype=np.float32)  # std::cos(float): C's cosf
        expected = float(np.sum((met * np.float32(scale) * cos).astype(np.float64)))
        assert px[key] == pytest.approx(expected, rel=1e-9)
    shorthand = VariationsFor(df.Vary("MET_pt", ["MET_pt * 2.f", "MET_pt * 3.f", "MET_pt"], 3)
                              .Sum("MET_pt"))
    assert shorthand.GetKeys() == ["nominal", "MET_pt:0", "MET_pt:1", "MET_pt:2"]
    assert shorthand["MET_pt:2"] == pytest.approx(shorthand["nominal"])
    assert shorthand["MET_pt:1"] == pytest.approx(3 * shorthand["nominal"], rel=1e-6)


def test_vary_mistakes_fail_at_build_time(sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    with pytest.raises(PlanError, match="unknown column `Jet_Pt`"):
        df.Vary("Jet_Pt", "RVec<RVecF>{Jet_pt, Jet_pt}", ["a", "b"])
    with pytest.raises(PlanError, match="2 varied values for 3 tags"):
        df.Vary("Jet_pt", "RVec<RVecF>{Jet_pt, Jet_pt}", ["a", "b", "c"])
    with pytest.raises(PlanError, match="needs a variationName"):
        df.Vary(["Jet_pt", "Jet_eta"], "RVec<RVecF>{{Jet_pt}, {Jet_eta}}", ["a"])
    with pytest.raises(PlanError, match="gives"):
        df.Vary("Jet_pt", "RVec<RVecF>{nJet, nJet}", ["a", "b"])
    with pytest.raises(PlanError, match=r"RVec of collections .* ROOT::RVec<ROOT::RVec<float>>"):
        df.Vary("Jet_pt", "ROOT::RVecF{Jet_pt * 0.9f, Jet_pt * 1.1f}", ["a", "b"])  # not C++
    with pytest.raises(PlanError, match="varies through one expression per tag"):
        df.Vary("Jet_pt", "Jet_pt * 2", ["a"])
    with pytest.raises(PlanError, match="must give an RVec"):
        df.Vary("MET_pt", "MET_pt * 2", ["a"])
    once = df.Vary("MET_pt", "RVecF{MET_pt}", ["x"], "v")
    with pytest.raises(PlanError, match="already exists"):
        once.Vary("MET_phi", "RVecF{MET_phi}", ["x"], "v")
    # ROOT: an RVec of another type is a type mismatch, and narrowing in braces does not
    # compile; hepflow refuses both when the plan is built, pointing at the expression
    for text, message in (("RVecD{MET_pt * 0.9, MET_pt}", "`RVecD` holds double"),
                          ("MET_pt * ROOT::RVecD(2, 3.)", "gives RVec<double>"),
                          ("{MET_pt * 0.9, MET_pt}", "double cannot be narrowed"),
                          ("{MET_pt, nMuon}", "cannot be narrowed")):
        with pytest.raises(ExpressionError, match=message):
            df.Vary("MET_pt", text, ["a", "b"])
    assert df.Vary("MET_pt", "{MET_pt * 0.9f, 2.5}", ["a", "b"]) is not None  # constants fit


@pytest.mark.cluster
def test_correctionlib_systematics_through_vary(sample_files: list[str], client: Any,
                                                eager: dict[str, ak.Array],
                                                tmp_path: Any) -> None:
    """A correctionlib scale factor and its up/down variations, all in one pass."""
    cs = pytest.importorskip("correctionlib.schemav2")
    import correctionlib

    def by_pt(scale: float) -> Any:
        return cs.Binning(nodetype="binning", input="pt", edges=[0, 20, 40, 1000],
                          content=[0.9 * scale, 0.95 * scale, 0.99 * scale], flow="clamp")

    data = cs.Category(nodetype="category", input="syst", content=[
        cs.CategoryItem(key=k, value=by_pt(f)) for k, f in
        (("nominal", 1.0), ("systup", 1.02), ("systdown", 0.98))])
    corr = cs.Correction(name="muon_id", version=1, output=cs.Variable(name="sf", type="real"),
                         inputs=[cs.Variable(name="eta", type="real"),
                                 cs.Variable(name="pt", type="real"),
                                 cs.Variable(name="syst", type="string")], data=data)
    path = tmp_path / "muon_sf.json"
    path.write_text(cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json())
    hepflow.declare_correction("muon_sf", path, "muon_id")

    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=8_000)
    w = df.Filter("nMuon >= 1").Define(
        "sf", 'Product(muon_sf(abs(Muon_eta), Muon_pt, "nominal"))')
    w = w.Vary("sf", ['Product(muon_sf(abs(Muon_eta), Muon_pt, "systdown"))',
                      'Product(muon_sf(abs(Muon_eta), Muon_pt, "systup"))'],
               ["down", "up"], "muon_sf")
    total = VariationsFor(w.Sum("sf"))
    evaluator = correctionlib.CorrectionSet.from_file(str(path))["muon_id"]
    sel = np.asarray(eager["nMuon"]) >= 1
    pt, eta = eager["Muon_pt"][sel], eager["Muon_eta"][sel]
    counts = np.asarray(ak.num(pt))
    flat_pt = ak.to_numpy(ak.flatten(pt)).astype(np.float64)
    flat_eta = np.abs(ak.to_numpy(ak.flatten(eta)).astype(np.float64))
    for key, syst in (("nominal", "nominal"), ("muon_sf:up", "systup"),
                      ("muon_sf:down", "systdown")):
        sf = ak.unflatten(evaluator.evaluate(flat_eta, flat_pt, syst), counts)
        assert total[key] == pytest.approx(float(np.sum(ak.prod(sf, axis=1))), rel=1e-12)


def test_vary_takes_any_expression_returning_the_values_per_tag(
        sample_files: list[str], eager: dict[str, ak.Array]) -> None:
    """ROOT's `Vary("x", "x * ROOT::RVecD(2, 3.)", ...)` for a double x: any expression
    giving an RVec of the column's type (float here) with one entry per tag."""
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
    met = np.asarray(eager["MET_pt"], dtype=np.float32)
    sums = VariationsFor(df.Vary("MET_pt", "MET_pt * ROOT::RVecF(2, 3.f)", ["a", "b"])
                         .Define("twice", "MET_pt * 2").Sum("twice"))
    varied = met * np.float32(3.0)
    assert sums["MET_pt:a"] == sums["MET_pt:b"] == pytest.approx(
        float(np.sum((varied * np.float32(2)).astype(np.float64))), rel=1e-12)
    assert sums["nominal"] == pytest.approx(float(np.sum((met * 2).astype(np.float64))),
                                            rel=1e-12)
    brace_like = VariationsFor(df.Vary("MET_pt", "Concatenate(RVecF(1, MET_pt * 0.5f), "
                                       "RVecF(1, MET_pt * 2.f))", ["lo", "hi"], "met")
                               .Sum("MET_pt"))
    assert brace_like["met:hi"] == pytest.approx(4 * brace_like["met:lo"], rel=1e-6)


def test_vary_expression_with_the_wrong_number_of_values_names_the_vary(
        sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=9_000)
    wrong = VariationsFor(df.Vary("MET_pt", "RVecF(nJet, MET_pt)", ["a", "b"], "jetwise")
                          .Sum("MET_pt"))
    with pytest.raises(EvaluationError, match=r"Vary 'jetwise'.*but the Vary has 2 tags"):
        wrong["jetwise:a"]
