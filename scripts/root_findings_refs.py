"""ROOT 6.40's answers for tests/test_root_findings.py, computed once (ROOT is no dependency).

    /work/rootenv/bin/python scripts/root_findings_refs.py

writes tests/data/root_findings_refs.json: the statistics actions over no entries
and over some (every column type), `GetColumnType` of TTree branches of every leaf
type, of RNTuple fields and of Defines, and the leaf type of the counter that
ROOT's Snapshot writes for a NanoAOD collection.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import ROOT  # type: ignore[import-not-found]

PROJECT = Path(__file__).resolve().parents[1]
REALDATA = PROJECT.parent / "shared" / "realdata"
NANO = PROJECT / "tests" / "root_programs" / "data" / "nano_1.root"
OUT = PROJECT / "tests" / "data" / "root_findings_refs.json"

#: column -> Define expression of each C++ type the statistics are asked of
STAT_COLUMNS = {"d": "(double)rdfentry_", "f": "(float)rdfentry_", "i": "(int)rdfentry_",
                "u": "(unsigned int)rdfentry_", "l": "(Long64_t)rdfentry_",
                "b": "rdfentry_ % 2 == 0", "e": "rdfentry_"}
STATS = ("Min", "Max", "Mean", "StdDev", "Sum")

#: TTree and RNTuple files whose every column's GetColumnType is recorded
SOURCES = {"ttree_every_leaf": ("sample", REALDATA / "uproot-sample-6.20.04-uncompressed.root"),
           "ttree_nano": ("Events", NANO),
           "rntuple_dimuon": ("Events", REALDATA /
                              "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"),
           "rntuple_stl": ("ntuple", REALDATA / "test_stl_containers_rntuple_v1-0-0-0.root")}

#: Defines over nano_1.root whose C++ type hepflow infers as ROOT does
DEFINES = {"int_literal": "1", "double_literal": "1.", "bool_literal": "true",
           "unsigned_plus_int": "nMuon + 1", "entry": "rdfentry_", "entry_plus": "rdfentry_ + 1",
           "double_product": "MET_pt * 2.", "uchar_rvec_times_int": "Jet_jetId * 1",
           "rvec_sum_int": "Sum(Jet_jetId * 1)", "masked_floats": "Muon_pt[Muon_pt > 10]",
           "argsort": "Argsort(Muon_pt)", "long64_cast": "(Long64_t)nMuon",
           "rvec_double": "Muon_pt * 2.", "comparison": "MET_pt > 10"}


def _stats() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, cut in (("empty", "d > 100"), ("ten", "d < 100")):
        d = ROOT.RDataFrame(10)
        for name, expr in STAT_COLUMNS.items():
            d = d.Define(name, expr)
        d = d.Filter(cut)
        results = {f"{s}({c})": getattr(d, s)(c) for c in STAT_COLUMNS for s in STATS}
        out[label] = {k: {"value": r.GetValue(), "type": type(r.GetValue()).__name__,
                          "cxx": type(r).__cpp_name__} for k, r in results.items()}
    return out


def _column_types() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, (tree, path) in SOURCES.items():
        d = ROOT.RDataFrame(tree, str(path))
        out[label] = {str(c): str(d.GetColumnType(c)) for c in d.GetColumnNames()}
        out[label].update({c: str(d.GetColumnType(c)) for c in ("rdfentry_", "rdfslot_")})
    d = ROOT.RDataFrame("Events", str(NANO))
    for name, expr in DEFINES.items():
        d = d.Define(name, expr)
    out["defines"] = {name: str(d.GetColumnType(name)) for name in DEFINES}
    return out


def _snapshot_counters() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "snap.root")
        ROOT.RDataFrame("Events", str(NANO)).Snapshot(
            "Events", path, ["nMuon", "Muon_pt", "Muon_eta", "nJet", "Jet_pt", "MET_pt"])
        f = ROOT.TFile.Open(path)
        tree = f.Get("Events")
        titles = {b.GetName(): b.GetTitle() for b in tree.GetListOfBranches()}
        f.Close()
    return titles


def main() -> int:
    refs = {"root_version": ROOT.gROOT.GetVersion(), "stats": _stats(),
            "column_types": _column_types(), "snapshot_branch_titles": _snapshot_counters(),
            "defines": DEFINES, "stat_columns": STAT_COLUMNS}
    OUT.write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
