"""Compute ROOT 6.40's answers for the dataframe-facade tests (issue 21, items 3 and 5-8).

Run with the ROOT environment (ROOT is never a hepflow dependency):

    /work/rootenv/bin/python scripts/root_refs_frame.py

It writes small ROOT files under tests/data/frame/ (three one-column samples
and a file with one column of each type Display shows) and ROOT's results on
them, and on RDataFrame(N) sources, to tests/data/root_frame_refs.json. The
tests run the same programs with hepflow and compare. The programs are listed
here once, as data, so the test reads exactly the same list.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import ROOT

HERE = Path(__file__).resolve().parent.parent
DATA = HERE / "tests" / "data"
FRAME = DATA / "frame"
OUT = DATA / "root_frame_refs.json"

#: RDataFrame(N) Defines the histogram, Stats and profile programs share.
DEFINES = [("x", "rdfentry_*0.13 - 2"), ("y", "(rdfentry_ % 7)*0.6 - 1"),
           ("w", "1.0/(rdfentry_ + 1)"), ("z", "rdfentry_*1.0"),
           ("px", "rdfentry_ % 10 + 0.5"), ("py", "(rdfentry_ / 10) % 10 + 0.5")]
ENTRIES = 100

DISPLAY_DEFINES = [("i", "(int)rdfentry_ - 3"), ("f", "float(rdfentry_)*0.25f - 1.f"),
                   ("d", "rdfentry_*1e6 + 0.125"), ("b", "rdfentry_ % 3 == 0"),
                   ("l", "(Long64_t)rdfentry_*100000000"),
                   ("vf", "ROOT::RVecF(rdfentry_ % 4, 1.5f*rdfentry_)"),
                   ("vi", "ROOT::RVecI(rdfentry_ % 3, -7)"),
                   ("vd", "ROOT::RVecD(rdfentry_ % 2, 0.1*rdfentry_)"),
                   ("vb", "ROOT::RVecB(rdfentry_ % 3, rdfentry_ % 2 == 0)"),
                   ("s", "std::string(rdfentry_ % 4, 'q')")]
DISPLAY_CASES: list[dict[str, Any]] = [
    {"columns": ["i", "f", "d", "b", "l"], "nRows": 5, "nMax": 10, "filter": ""},
    {"columns": ["vf", "vi"], "nRows": 3, "nMax": 1, "filter": ""},
    {"columns": ["i", "vd", "vb", "s"], "nRows": 10, "nMax": 10, "filter": "i > 2"},
    {"columns": ["s", "vf"], "nRows": 20, "nMax": 2, "filter": ""},
    {"columns": ["d", "l", "b"], "nRows": 2, "nMax": 10, "filter": "i > 100"},
    {"columns": "v.*", "nRows": 4, "nMax": 10, "filter": ""},
    {"columns": "", "nRows": 4, "nMax": 10, "filter": ""},
]

SAMPLE_SIZES = {"sample1": 5, "sample2": 6, "sample3": 7}
SPEC_SAMPLES = {"a": {"files": ["sample1", "sample2"],
                      "metadata": {"xsec": 1.5, "n": 3, "tag": "x"}},
                "b": {"files": ["sample3"], "metadata": {"xsec": 2.5, "n": 4, "tag": "y"}}}
#: (name, DefinePerSample expression) summed over a plain list of the three files.
PLAIN_SAMPLEINFO = [
    ("contains_sample2", 'rdfsampleinfo_.Contains("sample2") ? 1 : 0'),
    ("contains_file_and_tree", 'rdfsampleinfo_.Contains("sample1.root/Events") ? 1 : 0'),
    ("empty", "rdfsampleinfo_.Empty() ? 1 : 0"),
]
#: The same over the spec dataset of SPEC_SAMPLES.
SPEC_SAMPLEINFO = [
    ("xsec", 'rdfsampleinfo_.GetD("xsec")'),
    ("n", 'rdfsampleinfo_.GetI("n")'),
    ("sample_id", "rdfsampleinfo_.GetSampleId()"),
    ("tag_is_y", 'rdfsampleinfo_.GetS("tag") == "y" ? 1 : 0'),
    ("name_is_b", 'rdfsampleinfo_.GetSampleName() == "b" ? 1 : 0'),
    ("contains_sample3", 'rdfsampleinfo_.Contains("sample3") ? 1 : 0'),
]

#: The same over ROOT's empty source, RDataFrame(ENTRIES) (ROOT run single-threaded).
EMPTY_SOURCE_SAMPLEINFO = [
    ("empty", "rdfsampleinfo_.Empty() ? 1 : 0"),
    ("range", 'rdfsampleinfo_.Contains("Empty source, range: {0, 100}") ? 1 : 0'),
]

TH1_GETTERS = ["GetMean", "GetStdDev", "GetRMS", "GetMeanError", "GetStdDevError",
               "GetEntries", "GetEffectiveEntries", "GetSumOfWeights", "Integral",
               "GetNbinsX", "GetMaximum", "GetMinimum", "GetMaximumBin", "GetMinimumBin"]
HISTOS: list[dict[str, Any]] = [
    {"key": "h1", "model": ["h", "t", 10, 0.0, 10.0], "columns": ["x"]},
    {"key": "h1w", "model": ["h", "t", 10, 0.0, 10.0], "columns": ["x", "w"]},
    {"key": "h1var", "model": ["h", "t", 4, [-1.0, 0.0, 1.0, 5.0, 9.0]], "columns": ["x", "w"]},
]
STATS = [{"key": "weighted", "columns": ["z", "w"], "filter": ""},
         {"key": "plain", "columns": ["x"], "filter": ""},
         {"key": "zero_weights", "columns": ["z", "zw"], "filter": ""},
         {"key": "constant", "columns": ["one"], "filter": "rdfentry_ < 3"},
         {"key": "none", "columns": ["x"], "filter": "rdfentry_ > 1000"}]
STATS_DEFINES = [("zw", "rdfentry_ % 3 == 0 ? 0. : (rdfentry_ == 4 ? -1. : 2.)"),
                 ("one", "1.0")]
STAT_GETTERS = ["GetN", "GetW", "GetW2", "GetMean", "GetMeanErr", "GetRMS", "GetVar",
                "GetNeff", "GetMin", "GetMax", "GetM2"]
PROFILES: list[dict[str, Any]] = [
    {"key": "p1_range", "model": ["p", "", 10, 0.0, 10.0, 10.0, 50.0], "columns": ["px", "z"]},
    {"key": "p1", "model": ["p", "", 10, 0.0, 10.0], "columns": ["px", "z"]},
    {"key": "p2_range", "model": ["p", "", 10, 0.0, 10.0, 10, 0.0, 10.0, 0.0, 50.0],
     "columns": ["px", "py", "z"]},
    {"key": "p2_range_w", "model": ["p", "", 5, 0.0, 10.0, 5, 0.0, 10.0, 20.0, 60.0],
     "columns": ["px", "py", "z", "w"]},
]


def _base() -> Any:
    df = ROOT.RDataFrame(ENTRIES)
    for name, expr in DEFINES + STATS_DEFINES:
        df = df.Define(name, expr)
    return df


def _number(value: Any) -> Any:
    value = float(value)
    if math.isinf(value) or math.isnan(value):
        return repr(value)
    return value


def write_inputs() -> None:
    FRAME.mkdir(parents=True, exist_ok=True)
    for name, size in SAMPLE_SIZES.items():
        ROOT.RDataFrame(size).Define("x", "(int)rdfentry_").Snapshot(
            "Events", str(FRAME / f"{name}.root"), ["x"])
    df = ROOT.RDataFrame(8)
    for name, expr in DISPLAY_DEFINES:
        df = df.Define(name, expr)
    df.Snapshot("Events", str(FRAME / "display.root"), [n for n, _ in DISPLAY_DEFINES])


def spec_json(folder: Path) -> dict[str, Any]:
    """The RDatasetSpec of SPEC_SAMPLES with absolute paths (the test writes the same)."""
    return {"samples": {name: {"trees": ["Events"] * len(body["files"]),
                               "files": [str(folder / f"{f}.root") for f in body["files"]],
                               "metadata": body["metadata"]}
                        for name, body in SPEC_SAMPLES.items()}}


def sampleinfo() -> dict[str, Any]:
    files = [str(FRAME / f"{n}.root") for n in SAMPLE_SIZES]
    plain = {key: _number(ROOT.RDataFrame("Events", files).DefinePerSample("v", expr)
                          .Sum("v").GetValue()) for key, expr in PLAIN_SAMPLEINFO}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps(spec_json(FRAME)))
        specs = {key: _number(ROOT.RDF.Experimental.FromSpec(str(spec))
                              .DefinePerSample("v", expr).Sum("v").GetValue())
                 for key, expr in SPEC_SAMPLEINFO}
    empty = {key: _number(ROOT.RDataFrame(ENTRIES).DefinePerSample("v", expr).Sum("v")
                          .GetValue()) for key, expr in EMPTY_SOURCE_SAMPLEINFO}
    return {"plain": plain, "spec": specs, "empty_source": empty}


def display() -> list[str]:
    out = []
    for case in DISPLAY_CASES:
        df = ROOT.RDataFrame("Events", str(FRAME / "display.root"))
        if case["filter"]:
            df = df.Filter(case["filter"])
        out.append(str(df.Display(case["columns"], case["nRows"], case["nMax"]).AsString()))
    return out


def _histo(df: Any, spec: dict[str, Any]) -> Any:
    model = spec["model"]
    if isinstance(model[3], list):
        edges = ROOT.std.vector["double"](model[3])
        m = ROOT.RDF.TH1DModel(model[0], model[1], model[2], edges.data())
    else:
        m = ROOT.RDF.TH1DModel(*model)
    return df.Histo1D(m, *spec["columns"])


def histograms() -> dict[str, Any]:
    df = _base()
    out: dict[str, Any] = {}
    for spec in HISTOS:
        h = _histo(df, spec).GetValue()
        out[spec["key"]] = {
            "getters": {g: _number(getattr(h, g)()) for g in TH1_GETTERS},
            "bins": [_number(h.GetBinContent(i)) for i in range(h.GetNbinsX() + 2)],
            "errors": [_number(h.GetBinError(i)) for i in range(h.GetNbinsX() + 2)],
            "find_bin": [h.FindBin(v) for v in (-5.0, 0.0, 3.3, 9.999, 10.0, 12.0)],
            "center_low_width": [_number(h.GetBinCenter(2)), _number(h.GetBinLowEdge(2)),
                                 _number(h.GetBinWidth(2))],
            "integral_flow": _number(h.Integral(0, h.GetNbinsX() + 1)),
            "integral_2_4": _number(h.Integral(2, 4)),
        }
    h2 = df.Histo2D(ROOT.RDF.TH2DModel("h2", "", 5, 0.0, 5.0, 4, -1.0, 1.5), "x", "y",
                    "w").GetValue()
    out["h2"] = {"mean": [_number(h2.GetMean(a)) for a in (1, 2)],
                 "stddev": [_number(h2.GetStdDev(a)) for a in (1, 2)],
                 "entries": _number(h2.GetEntries()), "integral": _number(h2.Integral()),
                 "bins": [[_number(h2.GetBinContent(i, j)) for j in range(6)]
                          for i in range(7)]}
    auto = df.Histo1D("x").GetValue()
    out["auto"] = {g: _number(getattr(auto, g)()) for g in ("GetMean", "GetStdDev",
                                                            "GetEntries")}
    return out


def _print_text(obj: Any) -> str:
    """What `obj.Print()` writes to the C stdout, caught at the file-descriptor level."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            obj.Print()
            ROOT.gSystem.ProcessEvents()
            ROOT.std.cout.flush()
            ROOT.gInterpreter.ProcessLine("fflush(stdout);")
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        return sink.read().decode()


def stats() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in STATS:
        df = _base()
        if spec["filter"]:
            df = df.Filter(spec["filter"])
        s = df.Stats(*spec["columns"]).GetValue()
        out[spec["key"]] = {"getters": {g: _number(getattr(s, g)()) for g in STAT_GETTERS},
                            "print": _print_text(s)}
    return out


def profiles() -> dict[str, Any]:
    df = _base()
    out: dict[str, Any] = {}
    for spec in PROFILES:
        model = spec["model"]
        if len(spec["columns"]) - (1 if spec["key"].endswith("_w") else 0) == 2:
            p = df.Profile1D(ROOT.RDF.TProfile1DModel(*model), *spec["columns"]).GetValue()
            cells = range(p.GetNbinsX() + 2)
            out[spec["key"]] = {"means": [_number(p.GetBinContent(i)) for i in cells],
                                "entries": [_number(p.GetBinEntries(i)) for i in cells],
                                "total": _number(p.GetEntries())}
        else:
            p = df.Profile2D(ROOT.RDF.TProfile2DModel(*model), *spec["columns"]).GetValue()
            nx, ny = p.GetNbinsX() + 2, p.GetNbinsY() + 2
            out[spec["key"]] = {
                "means": [[_number(p.GetBinContent(i, j)) for j in range(ny)]
                          for i in range(nx)],
                "entries": [[_number(p.GetBinEntries(p.GetBin(i, j))) for j in range(ny)]
                            for i in range(nx)],
                "total": _number(p.GetEntries())}
    return out


def main() -> int:
    write_inputs()
    refs = {"root_version": str(ROOT.gROOT.GetVersion()), "sampleinfo": sampleinfo(),
            "display": display(), "histograms": histograms(), "stats": stats(),
            "profiles": profiles()}
    OUT.write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
