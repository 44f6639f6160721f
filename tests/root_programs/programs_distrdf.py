"""Ports of roottest's distributed-RDataFrame checks (roottest/python/distrdf/backends).

roottest compares a distributed run with a local one; here ROOT's local run is the
reference and hepflow runs in process and on a LocalCluster (several chunks each).
"""

from __future__ import annotations

import json
from typing import Any

from tests.root_programs.registry import Inputs, program

D = "roottest/python/distrdf/backends/"


@program(D + "check_friend_trees.py")
def distrdf_friend_trees(R: Any, data: Inputs) -> dict[str, Any]:
    """A main tree and its friend, aligned across several chunks; friend columns by alias."""
    spec = {"samples": {"main": {"trees": ["Events"], "files": [data.nano[0]]}},
            "friends": {"myfriend": {"trees": ["Friends"], "files": [data.friend]}}}
    path = data.output("spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    df = R.FromSpec(path)
    h_parent = df.Histo1D(("p", "", 20, 0, 200), "MET_pt")
    h_friend = df.Histo1D(("f", "", 20, 0.5, 2.0), "myfriend.weight")
    both = df.Define("prod", "myfriend.flag * nJet")
    return {"parent": R.h1(h_parent), "friend": R.h1(h_friend),
            "sum": both.Sum("prod").GetValue(),
            "take": R.take(R.Take(df.Range(0, 700, 97), "myfriend.flag", "int"))}


@program(D + "check_rungraphs.py")
def distrdf_rungraphs(R: Any, data: Inputs) -> dict[str, Any]:
    """RunGraphs runs the booked results of several dataframes together."""
    dfs = [R.RDataFrame("Events", data.nano[i]).Define("b", f"nJet + {i}") for i in range(3)]
    histos = [df.Histo1D(("h", "", 10, 0, 20), "b") for df in dfs]
    counts = [df.Filter("b > 5").Count() for df in dfs]
    R.RunGraphs(histos + counts)
    return {"histos": [R.h1(h) for h in histos], "counts": [c.GetValue() for c in counts]}


def _variation_means(R: Any, histos: Any, keys: list[str]) -> dict[str, Any]:
    return {k: R.h1(histos[k]) for k in keys}


@program(D + "check_variations.py (test_histo)")
def distrdf_variations_histo(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "1")
    h = df.Vary("x", "ROOT::RVecI{-2,2}", ["down", "up"]).Histo1D(
        ("name", "title", 10, -10, 10), "x")
    histos = R.VariationsFor(h)
    return {"keys": sorted(str(k) for k in histos.GetKeys()),
            "histos": _variation_means(R, histos, ["nominal", "x:up", "x:down"])}


@program(D + "check_variations.py (test_graph)")
def distrdf_variations_graph(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "1")
    g = df.Vary("x", "ROOT::RVecI{-1, 2}", 2).Graph("x", "x")
    gs = R.VariationsFor(g)
    return {k: R.graph(gs[k]) for k in ("nominal", "x:0", "x:1")}


@program(D + "check_variations.py (test_mixed)")
def distrdf_variations_mixed(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "1").Define("y", "42")
    h = df.Vary("x", "ROOT::RVecI{-1, 2}", ["down", "up"]).Histo1D(
        ("name", "title", 10, -500, 500), "x", "y")
    histos = R.VariationsFor(h)
    return _variation_means(R, histos, ["nominal", "x:down", "x:up"])


@program(D + "check_variations.py (test_simultaneous)")
def distrdf_variations_simultaneous(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "1").Define("y", "42")
    h = df.Vary(["x", "y"], "ROOT::RVec<ROOT::RVecI>{{-1, 2, 3}, {41, 43, 44}}",
                ["down", "up", "other"], "xy").Histo1D(("name", "title", 10, -500, 500), "x", "y")
    histos = R.VariationsFor(h)
    return _variation_means(R, histos, ["nominal", "xy:down", "xy:up", "xy:other"])


@program(D + "check_variations.py (test_varyfiltersum)")
def distrdf_variations_filtersum(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "1")
    df_sum = df.Vary("x", "ROOT::RVecI{-1*x, 2*x}", ["down", "up"], "myvariation") \
        .Filter("x > 0").Sum("x")
    sums = R.VariationsFor(df_sum)
    return {k: R.value(sums[k]) for k in ("nominal", "myvariation:down", "myvariation:up")}


@program(D + "check_variations.py (Vary of an RVec-valued expression)")
def distrdf_variations_expression(R: Any, data: Inputs) -> dict[str, Any]:
    """Any expression returning an RVec of the column's type, one entry per tag."""
    df = R.RDataFrame(20).Define("x", "(double)rdfentry_")
    s = df.Vary("x", "x * ROOT::RVecD(2, 3.)", ["a", "b"]).Sum("x")
    sums = R.VariationsFor(s)
    return {k: R.value(sums[k]) for k in ("nominal", "x:a", "x:b")}


@program(D + "check_variations.py (Vary on NanoAOD-like collections)")
def distrdf_variations_nano(R: Any, data: Inputs) -> dict[str, Any]:
    """A jet energy scale variation of a collection, a selection on it, two histograms."""
    df = R.RDataFrame("Events", data.nano)
    v = df.Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>{Jet_pt * 0.9f, Jet_pt * 1.1f}",
                ["down", "up"], "jes")
    sel = v.Filter("Sum(Jet_pt > 30) >= 2").Define("ht", "Sum(Jet_pt[Jet_pt > 30])")
    h = sel.Histo1D(("ht", "", 20, 0, 400), "ht")
    n = sel.Count()
    hs, ns = R.VariationsFor(h), R.VariationsFor(n)
    return {k: {"h": R.h1(hs[k]), "n": R.value(ns[k])} for k in ("nominal", "jes:down", "jes:up")}


@program(D + "check_cloned_actions.py")
def distrdf_cloned_actions(R: Any, data: Inputs) -> dict[str, Any]:
    """AsNumpy of `event` over 1, 3 and 7 copies of the same file, TTree and RNTuple."""
    out = {}
    for nfiles in (1, 3, 7):
        for kind, path in (("ttree", data.nano[1]), ("rntuple", data.nano_rntuple)):
            vals = R.RDataFrame("Events", [path] * nfiles).AsNumpy(["event"])
            events = R.numpy(vals)["event"]
            out[f"{kind}_{nfiles}"] = {"n": len(events), "sum": sum(events),
                                       "first": events[:5], "last": events[-5:]}
    return out


@program(D + "check_reducer_merge.py (histograms)")
def distrdf_reducer_merge_histos(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "rdfentry_").Define("y", "rdfentry_*rdfentry_") \
        .Define("z", "rdfentry_*rdfentry_*rdfentry_")
    return {"h1": R.h1(R.RDataFrame(10).Histo1D(("name", "title", 10, 0, 10), "rdfentry_")),
            "h2": R.h2(df.Histo2D(("", "", 64, -4, 4, 64, -4, 4), "x", "y")),
            "h3": R.h3(df.Histo3D(("", "", 8, -4, 4, 8, -4, 4, 8, -4, 4), "x", "y", "z"))}


@program(D + "check_reducer_merge.py (profiles, graphs)")
def distrdf_reducer_merge_profiles(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(10).Define("x", "rdfentry_").Define("y", "rdfentry_*rdfentry_") \
        .Define("z", "rdfentry_*rdfentry_*rdfentry_")
    return {"p1": R.profile1d(df.Profile1D(("", "", 64, -4, 4), "x", "y")),
            "p2": R.profile2d(df.Profile2D(("", "", 64, -4, 4, 64, -4, 4), "x", "y", "z")),
            "graph": R.graph(df.Graph("x", "y"))}


@program(D + "check_reducer_merge.py (Count, Sum, Mean, Min, Max, AsNumpy)")
def distrdf_reducer_merge_scalars(R: Any, data: Inputs) -> dict[str, Any]:
    df = R.RDataFrame(100).Define("x", "(int)rdfentry_").Define("y", "1.f/(1.f+rdfentry_)")
    arrays = R.RDataFrame(10).Define("x", "(int)rdfentry_").AsNumpy(["x"])
    return {"count": df.Count().GetValue(), "sum": df.Sum("x").GetValue(),
            "mean": df.Mean("x").GetValue(), "min": df.Min("x").GetValue(),
            "max": df.Max("x").GetValue(), "std": df.StdDev("x").GetValue(),
            "asnumpy": R.numpy(arrays), "dtype": str(arrays["x"].dtype)}


@program(D + "check_reducer_merge.py (float sums, AsNumpy dtypes)")
def distrdf_reducer_merge_floats(R: Any, data: Inputs) -> dict[str, Any]:
    """`1.f/(1.f+rdfentry_)` is a float: its values, its dtype and its sum."""
    df = R.RDataFrame(100).Define("y", "1.f/(1.f+rdfentry_)")
    arrays = df.AsNumpy(["y"])
    return {"y": R.numpy(arrays)["y"], "dtype": str(arrays["y"].dtype),
            "sum": df.Sum("y").GetValue()}


REDUCE_CPP = """
ULong64_t rp_add(ULong64_t a, ULong64_t b) { return a + b; }
double rp_agg(double acc, ULong64_t x) { return acc + x * x; }
double rp_merge(double a, double b) { return a + b; }
"""


@program(D + "check_reducer_merge.py (Reduce, Aggregate)")
def distrdf_reduce_aggregate(R: Any, data: Inputs) -> dict[str, Any]:
    """Reduce and Aggregate with declared functions, merged across chunks."""
    R.Declare(REDUCE_CPP, {"rp_add": (lambda a, b: a + b, [], ""),
                           "rp_agg": (lambda acc, x: acc + float(x) * float(x), [], ""),
                           "rp_merge": (lambda a, b: a + b, [], "")})
    df = R.RDataFrame(1000).Define("x", "rdfentry_")
    red = df.Reduce(R.fn("rp_add"), "x")
    agg = df.Aggregate(R.fn("rp_agg"), R.fn("rp_merge"), "x", 0.0)
    return {"reduce": R.value(red), "aggregate": R.value(agg)}


@program(D + "check_definepersample.py")
def distrdf_definepersample(R: Any, data: Inputs) -> dict[str, Any]:
    """A plain list of files is one sample per file; Contains looks in "file/tree"."""
    df = R.RDataFrame("Events", data.nano)
    s = df.DefinePerSample("sampleid", 'rdfsampleinfo_.Contains("nano_2") ? 1 : 0').Sum("sampleid")
    return {"sum": s.GetValue()}


@program(D + "check_definepersample.py (RSampleInfo AsString)")
def distrdf_definepersample_asstring(R: Any, data: Inputs) -> dict[str, Any]:
    """RSampleInfo::AsString is "file/tree" for a list of files."""
    df = R.RDataFrame("Events", data.nano)
    n = df.DefinePerSample("third", f'rdfsampleinfo_.AsString() == "{data.nano[2]}/Events"') \
        .Filter("third").Count()
    return {"count": n.GetValue()}


@program(D + "check_fromspec.py")
def distrdf_fromspec(R: Any, data: Inputs) -> dict[str, Any]:
    """FromSpec with three samples, sample names and ids, metadata by sample."""
    spec = {"samples": {
        f"s{i}": {"trees": ["Events"], "files": [path], "metadata": {"w": float(i + 1)}}
        for i, path in enumerate(data.nano)}}
    path = data.output("spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    df = R.FromSpec(path)
    g = (df.DefinePerSample("sid", "rdfsampleinfo_.GetSampleId()")
           .DefinePerSample("w", 'rdfsampleinfo_.GetD("w")'))
    return {"sum_sid": g.Sum("sid").GetValue(), "sum_w": g.Sum("w").GetValue(),
            "h": R.h1(g.Histo1D(("n", "", 10, 0, 10), "nJet", "w"))}


@program(D + "check_missing_values.py")
def distrdf_missing_values(R: Any, data: Inputs) -> dict[str, Any]:
    """FilterAvailable, FilterMissing, DefaultValueFor counts and sums over (x,y), (y), (x)."""
    df = R.RDataFrame("events", data.missing)
    return {"avail_x": df.FilterAvailable("x").Count().GetValue(),
            "avail_y": df.FilterAvailable("y").Count().GetValue(),
            "missing_x": df.FilterMissing("x").Count().GetValue(),
            "default_x": df.DefaultValueFor("x", 40).Filter("x > 10").Count().GetValue(),
            "sum_y": df.DefaultValueFor("y", 7).Sum("y").GetValue()}


@program(D + "check_histo_write.py")
def distrdf_histo_write(R: Any, data: Inputs) -> dict[str, Any]:
    """A filled histogram's entries, mean and standard deviation, as ROOT's TH1D gives them."""
    df = R.RDataFrame(100).Define("x", "(double)rdfentry_ * 0.3")
    h = df.Histo1D(("name", "title", 10, 0, 100), "x").GetValue()
    return {"entries": h.GetEntries(), "mean": h.GetMean(), "std": h.GetStdDev()}


@program(D + "check_inv_mass.py")
def distrdf_inv_mass(R: Any, data: Inputs) -> dict[str, Any]:
    """The dimuon invariant mass histogram (coarse bins) of check_inv_mass."""
    df = R.RDataFrame("Events", data.dimuon_ttree).Filter("nMuon == 2") \
        .Filter("Muon_charge[0] != Muon_charge[1]") \
        .Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)")
    return {"h": R.h1(df.Histo1D(("m", "", 40, 0, 200), "Dimuon_mass"))}


@program(D + "check_reducer_merge.py (test_distributed_snapshot_columnlist)")
def distrdf_snapshot_columnlist(R: Any, data: Inputs) -> dict[str, Any]:
    """Snapshot of a column list of an empty source, read back: names and values."""
    out = data.output("distrdf_snapfile_columnlist.root")
    df = (R.RDataFrame(10).Define("a", "rdfentry_").Define("b", "(int)rdfentry_ * 2")
           .Define("c", "rdfentry_").Define("d", "rdfentry_"))
    df.Snapshot("snapTree_columnlist", out, ["a", "b"])
    back = R.RDataFrame("snapTree_columnlist", out)
    return {"columns": sorted(str(c) for c in back.GetColumnNames()),
            "b": R.take(R.Take(back, "b", "int"))}


@program(D + "check_reducer_merge.py (Snapshot of RVec columns, names that share a prefix)")
def distrdf_snapshot_rvec(R: Any, data: Inputs) -> dict[str, Any]:
    """Snapshot of `b2` next to `b2_vector` (RVecF): ROOT writes no extra counter column."""
    out = data.output("distrdf_snapshot_rvec.root")
    df = (R.RDataFrame(12).Define("b2", "(int)rdfentry_")
           .Define("b2_vector", "ROOT::RVecF(rdfentry_ % 3, 1.5f)"))
    df.Snapshot("t", out, ["b2", "b2_vector"])
    back = R.RDataFrame("t", out)
    return {"columns": sorted(str(c) for c in back.GetColumnNames()),
            "sum": back.Define("s", "Sum(b2_vector)").Sum("s").GetValue(),
            "b2": R.take(R.Take(back, "b2", "int"))}


@program(D + "check_reducer_merge.py (Snapshot of NanoAOD collections)")
def distrdf_snapshot_nano(R: Any, data: Inputs) -> dict[str, Any]:
    """Snapshot of a NanoAOD-like selection (Muon_pt, Jet_pt...), read back."""
    out = data.output("distrdf_snapshot_nano.root")
    df = R.RDataFrame("Events", data.nano).Filter("nMuon >= 1 && nJet >= 1")
    df.Snapshot("Events", out, ["event", "nMuon", "Muon_pt", "Jet_pt", "MET_pt"])
    back = R.RDataFrame("Events", out)
    return {"columns": sorted(str(c) for c in back.GetColumnNames()),
            "count": back.Count().GetValue(),
            "h": R.h1(back.Histo1D(("pt", "", 20, 0, 200), "Muon_pt")),
            "met": back.Sum("MET_pt").GetValue()}


@program(D + "check_reducer_merge.py (Snapshot of float arithmetic)")
def distrdf_snapshot_floats(R: Any, data: Inputs) -> dict[str, Any]:
    """`Muon_pt[0] * 2` is a float in C++, so ROOT's Snapshot writes Float_t."""
    out = data.output("distrdf_snapshot_floats.root")
    df = R.RDataFrame("Events", data.nano[0]).Filter("nMuon >= 1") \
        .Define("pt2", "Muon_pt[0] * 2").Define("ratio", "Muon_pt[0] / MET_pt")
    df.Snapshot("Events", out, ["event", "pt2", "ratio"])
    back = R.RDataFrame("Events", out)
    return {"types": [str(back.GetColumnType(c)).replace("Float_t", "float")
                      for c in ("pt2", "ratio")],
            "sum": back.Sum("pt2").GetValue()}


@program(D + "check_reducer_merge.py (actions over no entries)")
def distrdf_reducer_empty(R: Any, data: Inputs) -> dict[str, Any]:
    """Mean, Min, Max, StdDev, Sum, Count when a filter keeps no entry of any chunk."""
    d = R.RDataFrame(10).Define("x", "(double)rdfentry_").Define("i", "(int)rdfentry_") \
        .Filter("x > 100")
    return {"mean": d.Mean("x").GetValue(), "min": d.Min("x").GetValue(),
            "max": d.Max("x").GetValue(), "std": d.StdDev("x").GetValue(),
            "sum": d.Sum("x").GetValue(), "count": d.Count().GetValue(),
            "min_int": d.Min("i").GetValue(), "max_int": d.Max("i").GetValue()}


@program(D + "check_variations.py (RVec brace initialisers in Define)")
def vecops_brace_init(R: Any, data: Inputs) -> dict[str, Any]:
    """`ROOT::RVecD{1., 2., x}` and `ROOT::RVecI{...}` as Define expressions, not only in Vary."""
    d = R.RDataFrame(12).Define("x", "(double)rdfentry_") \
        .Define("v", "ROOT::RVecD{1., 2., x}").Define("w", "ROOT::RVecI{1, (int)x}")
    return {"sum_v": d.Define("sv", "Sum(v)").Sum("sv").GetValue(),
            "h_w": R.h1(d.Histo1D(("w", "", 12, 0, 12), "w"))}
