"""Ports of ROOT's basic RDataFrame tutorials (tutorials/analysis/dataframe/df0xx).

Each program runs unchanged on ROOT (PyROOT) and on hepflow through the adaptor `R`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.root_programs.registry import Inputs, program

T = "tutorials/analysis/dataframe/"


@program(T + "df000_simple.py")
def df000_simple(R: Any, data: Inputs) -> dict[str, Any]:
    """An empty source of N entries, two Defines, a histogram and a count."""
    d = R.RDataFrame(100).Define("x", "(double)rdfentry_ / 10.").Define("y", "x * x")
    h = d.Histo1D(("h", "x", 12, 0, 12), "x")
    n = d.Filter("y > 4").Count()
    s = d.Sum("y")
    return {"h": R.h1(h), "count": n.GetValue(), "sum": s.GetValue()}


@program(T + "df001_introduction.py")
def df001_introduction(R: Any, data: Inputs) -> dict[str, Any]:
    """Filters, Count, Min/Max/Mean, a histogram, Take, Foreach-free actions on a TTree."""
    d = R.RDataFrame("Events", data.nano)
    met_cut = "MET_pt > 40"
    entries1 = d.Filter(met_cut).Count()
    entries2 = d.Filter("MET_pt <= 40 && nJet > 2").Count()
    d2 = d.Define("ht_lead", "nJet > 0 ? Jet_pt[0] : 0.f")
    return {
        "pass": entries1.GetValue(), "fail_jets": entries2.GetValue(),
        "min": d.Min("MET_pt").GetValue(), "max": d.Max("MET_pt").GetValue(),
        "mean": d.Mean("MET_pt").GetValue(),
        "h": R.h1(d2.Histo1D(("h", "lead", 20, 0, 200), "ht_lead")),
        "take": R.take(R.Take(d.Filter(met_cut), "event", "ULong64_t")),
    }


@program(T + "df002_dataModel.py")
def df002_dataModel(R: Any, data: Inputs) -> dict[str, Any]:
    """Collections as RVecs: masks, sizes, histograms of every element."""
    d = R.RDataFrame("Events", data.nano)
    g = (d.Define("good_pt", "Muon_pt[Muon_pt > 20 && abs(Muon_eta) < 2.1]")
          .Define("n_good", "good_pt.size()")
          .Define("sum_good", "Sum(good_pt)"))
    return {"h_elements": R.h1(g.Histo1D(("pt", "", 25, 0, 250), "good_pt")),
            "h_n": R.h1(g.Histo1D(("n", "", 6, 0, 6), "n_good")),
            "sum": g.Sum("sum_good").GetValue(),
            "count_two": g.Filter("n_good >= 2").Count().GetValue()}


@program(T + "df003_profiles.C")
def df003_profiles(R: Any, data: Inputs) -> dict[str, Any]:
    """Profile1D and Profile2D (without a z range) of NanoAOD-like columns."""
    d = R.RDataFrame("Events", data.nano).Filter("nJet > 0").Define("j0", "Jet_pt[0]") \
        .Define("e0", "Jet_eta[0]").Define("npv", "(double)PV_npvs")
    p1 = d.Profile1D(("p1", "", 20, 0, 200), "j0", "MET_pt")
    p2 = d.Profile2D(("p2", "", 8, -3, 3, 6, 0, 60), "e0", "npv", "MET_pt")
    return {"p1": R.profile1d(p1), "p2": R.profile2d(p2)}


@program(T + "df003_profiles.C (Profile2D with z range)")
def df003_profile2d_zrange(R: Any, data: Inputs) -> dict[str, Any]:
    """Profile2D's model with a z range: entries with z outside it are not filled."""
    d = R.RDataFrame(400).Define("x", "(double)(rdfentry_ % 10)") \
        .Define("y", "(double)(rdfentry_ / 40)").Define("z", "(double)(rdfentry_ % 70)")
    p = d.Profile2D(("p", "", 10, 0, 10, 10, 0, 10, 0, 50), "x", "y", "z")
    return {"p": R.profile2d(p)}


@program(T + "df004_cutFlowReport.py")
def df004_cutFlowReport(R: Any, data: Inputs) -> dict[str, Any]:
    """Named filters and the cut-flow Report."""
    d = R.RDataFrame("Events", data.nano)
    f = (d.Filter("nMuon >= 1", "one muon").Filter("Muon_pt[0] > 20", "muon pt")
          .Filter("MET_pt > 25", "met"))
    n = f.Count()
    report = d.Report()
    cuts = [[c.GetName(), int(c.GetAll()), int(c.GetPass())] for c in report.GetValue()]
    return {"count": n.GetValue(), "cuts": cuts}


@program(T + "df006_ranges.C")
def df006_ranges(R: Any, data: Inputs) -> dict[str, Any]:
    """Range(begin, end, stride), also after a Filter (single-threaded in ROOT)."""
    d = R.RDataFrame("Events", data.nano)
    return {
        "first30": d.Range(30).Count().GetValue(),
        "mid": d.Range(100, 200).Count().GetValue(),
        "stride": d.Range(10, 1000, 7).Count().GetValue(),
        "filtered": R.take(R.Take(d.Filter("nJet > 4").Range(5, 25, 3), "event", "ULong64_t")),
        "sum_to_end": d.Range(2500, 0).Sum("nJet").GetValue(),
    }


@program(T + "df007_snapshot.py")
def df007_snapshot(R: Any, data: Inputs) -> dict[str, Any]:
    """Snapshot of a selection with defined scalar and collection columns, read back."""
    d = R.RDataFrame("Events", data.nano)
    out = data.output("df007_snapshot.root")
    sel = (d.Filter("nMuon >= 2").Define("lead_pt", "Muon_pt[0]")
            .Define("pt_sum", "Muon_pt[0] + Muon_pt[1]")
            .Define("n_jets", "(int)nJet"))
    sel.Snapshot("mytree", out, ["event", "lead_pt", "n_jets", "Muon_eta"])
    back = R.RDataFrame("mytree", out)
    return {"columns": sorted(str(c) for c in back.GetColumnNames()),
            "count": back.Count().GetValue(),
            "sum_lead": back.Sum("lead_pt").GetValue(),
            "eta": R.h1(back.Histo1D(("eta", "", 10, -3, 3), "Muon_eta"))}


@program(T + "df012_DefinesAndFiltersAsStrings.py")
def df012_DefinesAndFiltersAsStrings(R: Any, data: Inputs) -> dict[str, Any]:
    """Filters and Defines as C++ strings: integer arithmetic, ternaries, functions."""
    d = R.RDataFrame("Events", data.nano)
    g = (d.Define("r2", "nMuon * nMuon + nElectron * 2")
          .Define("kind", "nMuon > nElectron ? 1 : (nMuon == nElectron ? 0 : -1)")
          .Define("phi_ok", "abs(MET_phi) < 1.5 || nJet % 2 == 1")
          .Filter("r2 > 2 && phi_ok"))
    return {"count": g.Count().GetValue(), "sum_r2": g.Sum("r2").GetValue(),
            "h_kind": R.h1(g.Histo1D(("k", "", 3, -1.5, 1.5), "kind"))}


@program(T + "df016_vecOps.py")
def df016_vecOps(R: Any, data: Inputs) -> dict[str, Any]:
    """VecOps on RVecs: masks built from other collections, Sum, Mean, sizes, Max."""
    d = R.RDataFrame("Events", data.nano)
    g = (d.Define("r", "sqrt(Jet_eta * Jet_eta + Jet_phi * Jet_phi)")
          .Define("pt_in", "Jet_pt[r < 2.]")
          .Define("n_in", "Sum(r < 2.)")
          .Define("ptmax", "nJet > 0 ? Max(Jet_pt) : -1.f"))
    return {"h": R.h1(g.Histo1D(("pt_in", "", 20, 0, 200), "pt_in")),
            "n_in": g.Sum("n_in").GetValue(),
            "ptmax": g.Sum("ptmax").GetValue()}


@program(T + "df017_vecOpsHEP.py")
def df017_vecOpsHEP(R: Any, data: Inputs) -> dict[str, Any]:
    """DeltaR between the two leading jets, selected with VecOps."""
    d = R.RDataFrame("Events", data.nano)
    g = (d.Filter("nJet >= 2")
          .Define("dphi01", "ROOT::VecOps::DeltaPhi(Jet_phi[0], Jet_phi[1])")
          .Define("dr", "sqrt(pow(Jet_eta[0] - Jet_eta[1], 2) + dphi01 * dphi01)")
          .Define("dphi", "ROOT::VecOps::DeltaPhi(Jet_phi[0], Jet_phi[1])"))
    return {"h_dr": R.h1(g.Histo1D(("dr", "", 20, 0, 6), "dr")),
            "sum_dphi": g.Sum("dphi").GetValue()}


@program(T + "df021_createTGraph.py")
def df021_createTGraph(R: Any, data: Inputs) -> dict[str, Any]:
    """Graph(x, y) of two defined columns of an empty source."""
    d = R.RDataFrame(20).Define("x", "(double)rdfentry_").Define("y", "x * x - 3. * x")
    return {"graph": R.graph(d.Graph("x", "y"))}


@program(T + "df024_Display.py")
def df024_Display(R: Any, data: Inputs) -> dict[str, Any]:
    """Display's text of scalar and collection columns, as ROOT prints it."""
    d = R.RDataFrame("Events", data.nano)
    display = d.Display(["event", "nMuon", "Muon_pt", "MET_pt"], 4)
    return {"text": display.AsString()}


@program(T + "df024_Display.py (Print on the result pointer)")
def df024_Display_forwarding(R: Any, data: Inputs) -> dict[str, Any]:
    """`d.Display(...).AsString()` and `.Print()` called on the result pointer itself."""
    d = R.RDataFrame(6).Define("x", "(int)rdfentry_ * 3")
    display = d.Display(["x"], 3)
    display.Print()
    return {"printed": True}


@program(T + "df026_AsNumpyArrays.py")
def df026_AsNumpyArrays(R: Any, data: Inputs) -> dict[str, Any]:
    """AsNumpy of scalar columns of a selection (values and entry order)."""
    d = R.RDataFrame("Events", data.nano).Filter("nMuon == 3")
    cols = d.AsNumpy(["event", "nJet", "PV_npvs"])
    return {"arrays": R.numpy(cols)}


@program(T + "df026_AsNumpyArrays.py (float columns)")
def df026_AsNumpy_floats(R: Any, data: Inputs) -> dict[str, Any]:
    """AsNumpy of float branches and float arithmetic: C++ keeps float."""
    d = R.RDataFrame("Events", data.nano).Filter("nMuon >= 1") \
        .Define("pt2", "Muon_pt[0] * 2").Define("ptmet", "Muon_pt[0] + MET_pt")
    cols = d.AsNumpy(["MET_pt", "pt2", "ptmet"])
    return {"arrays": R.numpy(cols), "dtypes": [str(cols[k].dtype) for k in ("MET_pt", "pt2",
                                                                            "ptmet")]}


@program(T + "df031_Stats.py")
def df031_Stats(R: Any, data: Inputs) -> dict[str, Any]:
    """Stats of a column, unweighted (TStatistic: N, mean, mean error, RMS)."""
    d = R.RDataFrame(256).Define("v", "(double)rdfentry_")
    return {"stats": R.stats(d.Stats("v"))}


@program(T + "df031_Stats.py (weighted)")
def df031_Stats_weighted(R: Any, data: Inputs) -> dict[str, Any]:
    """Weighted Stats: ROOT's TStatistic, integer Neff in GetMeanErr."""
    d = R.RDataFrame(256).Define("v", "(double)rdfentry_").Define("w", "1./(v+1)")
    return {"stats": R.stats(d.Stats("v", "w"))}


@program(T + "df031_Stats.py (GetMean on the result pointer)")
def df031_Stats_forwarding(R: Any, data: Inputs) -> dict[str, Any]:
    """`stats.GetMean()` and `h.GetMean()` called on the result pointers, as the tutorial does."""
    d = R.RDataFrame(256).Define("v", "(double)rdfentry_")
    stats = d.Stats("v")
    h = d.Histo1D(("h", "", 16, 0, 256), "v")
    return {"mean": stats.GetMean(), "rms": stats.GetRMS(), "hmean": h.GetMean(),
            "entries": h.GetEntries()}


@program(T + "df036_missingBranches.py (DefaultValueFor, FilterAvailable)")
def df036_missingBranches(R: Any, data: Inputs) -> dict[str, Any]:
    """Files (x, y), (y), (x): default values, and only the entries that have x."""
    d = R.RDataFrame("events", data.missing)
    low = -2147483648
    ex1 = d.DefaultValueFor("x", low).DefaultValueFor("y", low)
    ex2 = d.DefaultValueFor("y", low).FilterAvailable("x")
    return {"ex1_x": R.take(R.Take(ex1, "x", "int")),
            "ex1_y": R.take(R.Take(ex1, "y", "int")),
            "ex2_x": R.take(R.Take(ex2, "x", "int")),
            "ex2_y": R.take(R.Take(ex2, "y", "int")),
            "ex2_count": ex2.Count().GetValue()}


@program(T + "df036_missingBranches.py (FilterMissing then Take)")
def df036_FilterMissing(R: Any, data: Inputs) -> dict[str, Any]:
    """Example 3: keep the entries where y is missing, then read x."""
    d = R.RDataFrame("events", data.missing)
    ex3 = d.FilterMissing("y")
    return {"x": R.take(R.Take(ex3, "x", "int"))}


@program(T + "df036_missingBranches.py (Display text)")
def df036_Display(R: Any, data: Inputs) -> dict[str, Any]:
    """The tutorial's first Display, as text."""
    d = R.RDataFrame("events", data.missing)
    low = -2147483648
    disp = d.DefaultValueFor("x", low).DefaultValueFor("y", low).Display(["x", "y"], 15)
    return {"text": disp.AsString()}


@program("tutorials/analysis/dataframe/df0xx (RDatasetSpec JSON, FromSpec)")
def spec_FromSpec(R: Any, data: Inputs) -> dict[str, Any]:
    """A dataset spec with two samples and metadata: GetD, GetI, sample ids."""
    spec = {"samples": {
        "first": {"trees": ["Events"], "files": [data.nano[0]],
                  "metadata": {"xsec": 2.5, "lumi": 10.0, "year": 2016}},
        "second": {"trees": ["Events", "Events"], "files": data.nano[1:],
                   "metadata": {"xsec": 0.5, "lumi": 10.0, "year": 2017}}}}
    path = data.output("spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    d = R.FromSpec(path)
    g = (d.DefinePerSample("w", 'rdfsampleinfo_.GetD("xsec") * rdfsampleinfo_.GetD("lumi")')
          .DefinePerSample("year", 'rdfsampleinfo_.GetI("year")')
          .DefinePerSample("first", 'rdfsampleinfo_.GetSampleName() == "first"'))
    return {"sum_w": g.Sum("w").GetValue(), "sum_year": g.Sum("year").GetValue(),
            "n_first": g.Filter("first").Count().GetValue(),
            "h": R.h1(g.Histo1D(("met", "", 10, 0, 200), "MET_pt", "w"))}


@program("tutorials/analysis/dataframe/df0xx (RDatasetSpec JSON, GetS)")
def spec_GetS(R: Any, data: Inputs) -> dict[str, Any]:
    """String metadata read with rdfsampleinfo_.GetS."""
    spec = {"samples": {
        "a": {"trees": ["Events"], "files": [data.nano[0]], "metadata": {"cat": "signal"}},
        "b": {"trees": ["Events"], "files": [data.nano[1]], "metadata": {"cat": "background"}}}}
    path = data.output("spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    g = R.FromSpec(path).DefinePerSample("cat", 'rdfsampleinfo_.GetS("cat")')
    return {"n_signal": g.Filter('cat == "signal"').Count().GetValue()}


@program("tutorials/analysis/dataframe/df0xx (friend trees through RDatasetSpec)")
def spec_friends(R: Any, data: Inputs) -> dict[str, Any]:
    """A friend tree, aligned entry by entry, read as `alias.branch`."""
    spec = {"samples": {"main": {"trees": ["Events"], "files": [data.nano[0]]}},
            "friends": {"fr": {"trees": ["Friends"], "files": [data.friend]}}}
    path = data.output("spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    d = R.FromSpec(path)
    g = d.Filter("fr.flag == 1").Define("wmet", "fr.weight * MET_pt")
    return {"count": g.Count().GetValue(), "sum": g.Sum("wmet").GetValue(),
            "h": R.h1(d.Histo1D(("w", "", 10, 0.5, 2.0), "fr.weight"))}


@program("RNTuple input (tutorials/io/ntuple with RDataFrame)")
def rntuple_source(R: Any, data: Inputs) -> dict[str, Any]:
    """The same analysis on ROOT's RNTuple copy and on the TTree it was made from."""
    out = {}
    for name, path in (("rntuple", data.nano_rntuple), ("ttree", data.nano[0])):
        d = R.RDataFrame("Events", path).Filter("nMuon >= 1").Define("lead", "Muon_pt[0]")
        out[name] = {"count": d.Count().GetValue(), "sum_lead": d.Sum("lead").GetValue(),
                     "h": R.h1(d.Histo1D(("n", "", 10, 0, 10), "nJet"))}
    return out


V = "tutorials/math/vecops/"


@program(V + "vo001_AdoptOrOwnMemory.py / vo004_SortAndSelect.py (ordering functions)")
def vecops_ordering(R: Any, data: Inputs) -> dict[str, Any]:
    """Argsort, Take by positions and by count, Reverse, Sort, Nonzero, Where, ArgMax."""
    df = R.RDataFrame("Events", data.nano[0]).Filter("nJet >= 2")
    g = (df.Define("order", "Argsort(Jet_eta)")
           .Define("first_by_eta", "Take(Jet_pt, order)[0]")
           .Define("two", "Take(Jet_pt, 2)")
           .Define("last_two", "Take(Jet_pt, -2)")
           .Define("rev", "Reverse(Jet_eta)")
           .Define("sorted_eta", "Sort(Jet_eta)")
           .Define("nz", "Nonzero(Jet_pt > 30)")
           .Define("where", "Where(Jet_eta > 0, Jet_pt, -Jet_pt)")
           .Define("amax", "ArgMax(Jet_btagDeepB)")
           .Define("amin", "ArgMin(Jet_eta)"))
    return {
        "order": R.take(R.Take(g.Range(0, 50), "order", "ROOT::RVec<std::size_t>")),
        "first_by_eta": R.h1(g.Histo1D(("f", "", 20, 0, 200), "first_by_eta")),
        "two": R.h1(g.Histo1D(("t", "", 20, 0, 200), "two")),
        "last_two": R.h1(g.Histo1D(("l", "", 20, 0, 200), "last_two")),
        "rev0": R.h1(g.Define("r0", "rev[0]").Histo1D(("r", "", 12, -3, 3), "r0")),
        "sorted0": R.h1(g.Define("s0", "sorted_eta[0]").Histo1D(("s", "", 12, -3, 3), "s0")),
        "nz": R.take(R.Take(g.Range(0, 50), "nz", "ROOT::RVec<std::size_t>")),
        "where": R.h1(g.Histo1D(("w", "", 20, -200, 200), "where")),
        "amax": R.h1(g.Histo1D(("a", "", 16, 0, 16), "amax")),
        "amin": R.h1(g.Histo1D(("b", "", 16, 0, 16), "amin")),
    }


@program(V + "vo004_SortAndSelect.py (combinations, sets, reductions)")
def vecops_combinations(R: Any, data: Inputs) -> dict[str, Any]:
    """Combinations of one and two collections, Any/All, Concatenate, Intersect, Drop."""
    df = R.RDataFrame("Events", data.nano[0]).Filter("nJet >= 2")
    g = (df.Define("pairs", "Combinations(Jet_pt, 2)")
           .Define("n_pairs", "pairs[0].size()")
           .Define("mu_el", "Combinations(Muon_pt, Electron_pt)")
           .Define("n_mu_el", "mu_el[0].size()")
           .Define("any_b", "Any(Jet_btagDeepB > 0.9)")
           .Define("all_c", "All(abs(Jet_eta) < 2.4)")
           .Define("cat", "Concatenate(Muon_pt, Electron_pt)")
           .Define("n_cat", "cat.size()")
           .Define("inter", "Intersect(Nonzero(Jet_pt > 30), Nonzero(abs(Jet_eta) < 1.5))")
           .Define("n_inter", "inter.size()")
           .Define("dropped", "Drop(Jet_pt, Nonzero(Jet_pt < 20))")
           .Define("n_dropped", "dropped.size()"))
    return {k: g.Sum(k).GetValue() for k in ("n_pairs", "n_mu_el", "any_b", "all_c", "n_cat",
                                               "n_inter", "n_dropped")}


@program(V + "vo003_LogicalOperations.py / vo002_VectorCalculations.py")
def vecops_arithmetic(R: Any, data: Inputs) -> dict[str, Any]:
    """Element-wise maths on collections, then binned: sqrt, pow, exp, log, abs, masks."""
    df = R.RDataFrame("Events", data.nano[0])
    g = (df.Define("p", "Jet_pt * cosh(Jet_eta)")
           .Define("pz", "Jet_pt * sinh(Jet_eta)")
           .Define("lg", "log(Jet_pt)")
           .Define("sq", "sqrt(Jet_pt)")
           .Define("pw", "pow(Jet_eta, 2)")
           .Define("mask", "Jet_pt > 30 && !(abs(Jet_eta) > 2) || Jet_btagDeepB > 0.95")
           .Define("n_mask", "Sum(mask)")
           .Define("ht", "Sum(Jet_pt[mask])"))
    return {"p": R.h1(g.Histo1D(("p", "", 20, 0, 1000), "p")),
            "pz": R.h1(g.Histo1D(("pz", "", 20, -500, 500), "pz")),
            "lg": R.h1(g.Histo1D(("lg", "", 20, 0, 6), "lg")),
            "sq": R.h1(g.Histo1D(("sq", "", 20, 0, 15), "sq")),
            "pw": R.h1(g.Histo1D(("pw", "", 20, 0, 8), "pw")),
            "n_mask": g.Sum("n_mask").GetValue(),
            "ht": R.h1(g.Histo1D(("ht", "", 20, 0, 500), "ht"))}


@program(V + "vo002_VectorCalculations.py (float results of VecOps)")
def vecops_float_results(R: Any, data: Inputs) -> dict[str, Any]:
    """Sum, Mean, Dot, DeltaR of float collections, as C++ computes them (float or double)."""
    df = R.RDataFrame("Events", data.nano[0]).Filter("nJet >= 1")
    g = (df.Define("s", "Sum(Jet_pt)")
           .Define("m", "Mean(Jet_pt)")
           .Define("d", "Dot(Jet_pt, Jet_eta)")
           .Define("dr", "DeltaR(Jet_eta, Jet_eta, Jet_phi, Reverse(Jet_phi))"))
    return {"s": g.Sum("s").GetValue(), "m": g.Sum("m").GetValue(),
            "d": g.Sum("d").GetValue(), "dr": g.Define("drs", "Sum(dr)").Sum("drs").GetValue()}


@program(T + "df002_dataModel.py / df018 (actions on collection columns)")
def actions_on_collections(R: Any, data: Inputs) -> dict[str, Any]:
    """Sum, Mean, Min, Max, Count, weighted histogram and Take of collection columns."""
    df = R.RDataFrame("Events", data.nano[1])
    return {"sum": df.Sum("nJet").GetValue(),
            "mean": df.Mean("Jet_pt").GetValue(),
            "min": df.Min("Jet_eta").GetValue(), "max": df.Max("Jet_pt").GetValue(),
            "wh": R.h1(df.Histo1D(("h", "", 10, 0, 100), "Muon_pt", "genWeight")),
            "h2": R.h2(df.Histo2D(("h2", "", 6, -3, 3, 5, 0, 100), "Muon_eta", "Muon_pt")),
            "take": R.take(R.Take(df.Range(0, 20), "Muon_charge", "ROOT::RVec<int>"))}


@program(T + "df012_DefinesAndFiltersAsStrings.py (Alias, Redefine, integer promotions)")
def defines_alias_redefine(R: Any, data: Inputs) -> dict[str, Any]:
    """Alias, Redefine, unsigned arithmetic and UChar_t promotions."""
    df = R.RDataFrame("Events", data.nano[2])
    g = (df.Alias("met", "MET_pt")
           .Define("nlep", "nMuon + nElectron")
           .Redefine("nlep", "nlep * 2u")
           .Define("diff", "nMuon - 2u")
           .Define("jet_ids", "Sum(Jet_jetId)"))
    return {"met": g.Filter("met > 50").Count().GetValue(),
            "nlep": g.Sum("nlep").GetValue(),
            "diff_big": g.Filter("diff > 100").Count().GetValue(),
            "jet_ids": g.Sum("jet_ids").GetValue()}


@program(T + "df012_DefinesAndFiltersAsStrings.py (statement bodies, as in df106's weight)")
def define_statement_bodies(R: Any, data: Inputs) -> dict[str, Any]:
    """Define strings that are C++ function bodies: declarations, if/else, a range-for."""
    df = R.RDataFrame("Events", data.nano[2])
    g = (df.Define("decl", "double x; return nJet > 2 ? MET_pt : 1.;")
           .Define("body", "int n = 0; for (auto p : Jet_pt) { if (p > 30) n++; } return n;")
           .Define("cls", "if (nJet > 3) return 2; else if (nJet > 1) return 1; return 0;"))
    return {"decl": R.h1(g.Histo1D(("d", "", 10, 0, 100), "decl")),
            "body": g.Sum("body").GetValue(),
            "cls": R.h1(g.Histo1D(("c", "", 3, 0, 3), "cls"))}


@program("issue 22's verbatim C++ forms (statement bodies, brace-built vectors, loops)")
def cxx_forms(R: Any, data: Inputs) -> dict[str, Any]:
    """Every C++ form issue 22 lists, plus compiled loops that build RVecs in float."""
    df = R.RDataFrame("Events", data.nano[0]).Define("a", "(double)MET_pt / 10")
    g = (df.Define("inv", "return 1./(a+1);")
           .Define("arr", "std::array<double, 2> v{a, MET_phi}; return v;")
           .Define("norm", "double r2 = 0.0; for (auto&& w : arr) r2 += w*w; return sqrt(r2);")
           .Define("rd", "ROOT::RVecD{a, MET_phi}")
           .Define("rf", "ROOT::RVecF{1., 2., 3.}")
           .Define("sv", "std::vector<double>({a, a+1, a+2})")
           .Define("pick", "a < 0.5 ? ROOT::RVecD{a, MET_phi} : ROOT::RVecD{MET_phi, a}")
           .Define("z", "double z; return a > 3 ? a * 2 : 1.;")
           .Define("hard", "ROOT::RVecF out; for (auto p : Jet_pt) if (p > 25) "
                           "out.push_back(p * 1.1f); return out;")
           .Define("ht", "float s = 0; for (size_t i = 0; i < Jet_pt.size(); ++i) "
                         "{ if (i == 0) continue; s += Jet_pt[i] * 0.5f; } return s;")
           .Define("nw", "int n = 0; while (n < (int)nJet && Jet_pt[n] > 20) n++; return n;")
           .Define("mapped", "return Map(Jet_pt, Jet_eta, [&](float pt, float eta) "
                             "{ return eta > 0 ? pt * 0.5f : pt + (float)a; });"))
    cat = df.DefinePerSample("cat", 'if (rdfsampleinfo_.Contains("nano")) return 1; '
                                    'else if (rdfsampleinfo_.Contains("x")) return 2; return 3;')
    return {"inv": g.Sum("inv").GetValue(), "norm": g.Sum("norm").GetValue(),
            "rd": R.h1(g.Histo1D(("rd", "", 20, -4, 16), "rd")),
            "rf": g.Define("s", "Sum(rf)").Sum("s").GetValue(),
            "sv": R.h1(g.Histo1D(("sv", "", 20, 0, 20), "sv")),
            "pick": R.h1(g.Histo1D(("pick", "", 20, -4, 16), "pick")),
            "z": R.h1(g.Histo1D(("z", "", 20, 0, 40), "z")),
            "hard": R.h1(g.Histo1D(("hard", "", 20, 0, 200), "hard")),
            "hard_sum": g.Define("hs", "Sum(hard)").Sum("hs").GetValue(),
            "ht": g.Sum("ht").GetValue(),
            "nw": R.h1(g.Histo1D(("nw", "", 8, 0, 8), "nw")),
            "mapped": R.h1(g.Histo1D(("mapped", "", 20, 0, 200), "mapped")),
            "cat": cat.Sum("cat").GetValue()}


@program(T + "df003_profiles.C (weighted Profile1D, Histo2D weighted)")
def weighted_profiles(R: Any, data: Inputs) -> dict[str, Any]:
    """Weighted Profile1D and Histo2D with weights of a float column."""
    df = R.RDataFrame("Events", data.nano).Define("npv", "(double)PV_npvs") \
        .Define("w", "(double)genWeight")
    return {"p": R.profile1d(df.Profile1D(("p", "", 10, 0, 40), "npv", "MET_pt", "w")),
            "h2": R.h2(df.Histo2D(("h", "", 8, 0, 40, 5, 0, 100), "npv", "MET_pt", "w"))}


@program(T + "df033_Describe.py (column names of TTree, RNTuple and defined columns)")
def df033_column_names(R: Any, data: Inputs) -> dict[str, Any]:
    """GetColumnNames of a NanoAOD-like TTree, its RNTuple copy and a vector tree, plus
    GetDefinedColumnNames and GetFilterNames."""
    out = {}
    for key, (tree, path) in {"ttree": ("Events", data.nano[0]),
                              "rntuple": ("Events", data.nano_rntuple),
                              "vectors": ("mini", data.atlas["data"])}.items():
        out[key] = sorted(str(c) for c in R.RDataFrame(tree, path).GetColumnNames())
    d = R.RDataFrame("Events", data.nano[0]).Define("a", "nMuon * 2").Filter("a > 1", "f1") \
        .Define("b", "Muon_pt * 2").Filter("nJet > 0", "f2")
    out["defined"] = sorted(str(c) for c in d.GetDefinedColumnNames())
    out["filters"] = [str(c) for c in d.GetFilterNames()]
    return out


@program(T + "df033_Describe.py (GetColumnType)")
def df033_column_types(R: Any, data: Inputs) -> dict[str, Any]:
    """GetColumnType of branches and of defined columns, as ROOT spells the C++ types."""
    d = (R.RDataFrame("Events", data.nano[0])
         .Define("n2", "nMuon + 1").Define("met2", "MET_pt * 2.").Define("ids", "Jet_jetId * 1"))
    return {c: str(d.GetColumnType(c)) for c in ("nMuon", "Muon_pt", "event", "HLT_IsoMu24",
                                                  "Jet_jetId", "n2", "met2", "ids")}


@program(T + "df002_dataModel.py (bool branches and bool masks)")
def bool_columns(R: Any, data: Inputs) -> dict[str, Any]:
    """Bool branches as filters and masks, bitwise operations on UChar_t collections."""
    d = R.RDataFrame("Events", data.nano[1])
    g = (d.Filter("HLT_IsoMu24").Define("tight_pt", "Muon_pt[Muon_tightId]")
          .Define("n_tight", "Sum(Muon_tightId)")
          .Define("id_bits", "Sum((Jet_jetId & 2) != 0)"))
    return {"count": g.Count().GetValue(), "n_tight": g.Sum("n_tight").GetValue(),
            "h": R.h1(g.Histo1D(("t", "", 10, 0, 100), "tight_pt")),
            "id_bits": g.Sum("id_bits").GetValue(),
            "not": d.Filter("!HLT_IsoMu24").Count().GetValue(),
            "take": R.take(R.Take(d.Range(0, 15), "Muon_tightId", "ROOT::RVec<bool>"))}
