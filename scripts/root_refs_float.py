"""Compute ROOT 6.40's answers for C++ floating-point typing; the output is checked in.

Run with ROOT's Python (never a dependency of hepflow or of its tests):

    /work/rootenv/bin/python scripts/root_refs_float.py

It writes `tests/data/float_semantics.root` (a small TTree of float, double,
int and RVec<float> branches, written by ROOT) and
`tests/data/float_semantics_refs.json`: for every expression, the C++ type
ROOT's RDataFrame gives the column and its values per entry (float32 results
stored as the exact double of the float). It also records, for the CMS Open
Data dimuon events of `shared/realdata` (ROOT's df102 tutorial), the dimuon
mass as ROOT computes it: `InvariantMass` of RVec<float> computes in float.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import ROOT

ROOT_DIR = Path(__file__).resolve().parents[1]
DATA = ROOT_DIR / "tests" / "data"
FILE = DATA / "float_semantics.root"
REFS = DATA / "float_semantics_refs.json"
DIMUON = ROOT_DIR.parent / "shared" / "realdata" / \
    "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
ENTRIES = 40

# The columns of the input file: C++ that ROOT runs once to fill them.
INPUTS = {
    "x": "float(gRandom->Uniform(0.1, 50.))",
    "x2": "float(gRandom->Uniform(-50., 50.))",
    "d": "gRandom->Uniform(-10., 10.)",
    "i": "int(gRandom->Integer(11)) - 5",
    "u": "unsigned(gRandom->Integer(7))",
    "c": "gRandom->Uniform() > 0.5",
    "n": "int(rdfentry_ % 5)",
    "v": "ROOT::RVecF r(n); for (auto &e : r) e = gRandom->Uniform(0.5, 60.); return r;",
    "v2": "ROOT::RVecF r(n); for (auto &e : r) e = gRandom->Uniform(-3., 3.); return r;",
    "w": "ROOT::RVecD r(n); for (auto &e : r) e = gRandom->Uniform(-3., 3.); return r;",
    "pt": "ROOT::RVecF r(n); for (auto &e : r) e = gRandom->Uniform(3., 80.); return r;",
    "eta": "ROOT::RVecF r(n); for (auto &e : r) e = gRandom->Uniform(-2.4, 2.4); return r;",
    "phi": "ROOT::RVecF r(n); for (auto &e : r) e = gRandom->Uniform(-3.14, 3.14); return r;",
    "m": "ROOT::RVecF r(n); for (auto &e : r) e = 0.105658f; return r;",
    # Many ties and more than 16 elements (std::sort's order of ties), from a generator of
    # their own so that the columns above keep their values
    "k": "static TRandom3 g(11); ROOT::RVecF r(17 + g.Integer(30)); "
         "for (auto &e : r) e = float(g.Integer(4)); return r;",
    "ki": "static TRandom3 g(12); ROOT::RVecI r(1 + g.Integer(45)); "
          "for (auto &e : r) e = int(g.Integer(5)) - 2; return r;",
    "kd": "static TRandom3 g(13); ROOT::RVecD r(g.Integer(60)); "
          "for (auto &e : r) e = 0.25 * g.Integer(3) - 0.25; return r;",
    "ks": "static TRandom3 g(14); ROOT::RVec<short> r(1 + g.Integer(20)); "
          "for (auto &e : r) e = short(g.Integer(7)) - 3; return r;",
    # values that drive std::sort's introsort into its heapsort fallback (`kq / 2` with ties)
    "kq": "hepflow_sort_adversary(40 + 20 * int(rdfentry_ % 5))",
}

# McIlroy's adversary ("A killer adversary for quicksort", 1999): the values are fixed
# while std::sort compares them, so that each median-of-three partition is lopsided
ADVERSARY = r"""
#include <algorithm>
#include <vector>
ROOT::RVecI hepflow_sort_adversary(int n) {
  std::vector<int> val(n, n), idx(n);
  int gas = n, nsolid = 0, candidate = 0;
  for (int i = 0; i < n; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](int x, int y) {
    if (val[x] == gas && val[y] == gas) {
      if (x == candidate) val[x] = nsolid++; else val[y] = nsolid++;
    }
    if (val[x] == gas) candidate = x; else if (val[y] == gas) candidate = y;
    return val[x] < val[y];
  });
  return ROOT::RVecI(val.begin(), val.end());
}
"""

# Each rule of C++'s floating-point typing, as an RDataFrame expression.
EXPRESSIONS = [
    "x * i", "x * 2.0", "x * 2.f", "x * 2", "x + d", "x / 3", "x - u", "-x", "x * x + x2",
    "x > 20.5", "c ? x : 1", "c ? x : d", "(double)x * 3", "x * 0.1f + x2 * 0.3f",
    "v * 2", "v * 2.0", "v + x", "v * i", "v * v2 + x", "v / 3.f", "-v", "v > 20.f",
    "sqrt(x)", "sqrt(i * i)", "sqrt(v)", "exp(x2 / 10.f)", "log(x)", "log10(x)", "sin(x2)",
    "cos(x2)", "tan(x2 / 40.f)", "sinh(x2 / 20.f)", "atan2(x2, x)", "hypot(x, x2)",
    "pow(x, 2)", "pow(x, 2.f)", "pow(x, 0.5)", "pow(v, 2)", "abs(x2)", "fabs(x2)",
    "floor(x)", "round(x)", "atan(x2)", "exp(v2)", "sin(v2)", "cos(v2)", "sinh(v2)",
    "Sum(v)", "Sum(v * v)", "Product(v2)", "Mean(v)", "StdDev(v)", "Max(v)", "Min(v)",
    "Sum(w)", "Mean(w)",
    "ROOT::VecOps::DeltaPhi(x2, x)", "DeltaPhi(v2, x2)", "DeltaR(v2, eta, v2, phi)",
    "DeltaR2(v2, eta, v2, phi)",
    "InvariantMass(pt, eta, phi, m)", "InvariantMasses(pt, eta, phi, m, v, v2, phi, m)",
    "max(x, x2)", "Dot(v, v2)", "Where(v > 20.f, v, 0.)", "Where(v > 20.f, 1., v)",
    # std::sort's order of ties (not stable beyond 16 elements); the stable ones stay stable
    "Argsort(k)", "Argsort(ki)", "Argsort(kd)", "Argsort(ks)", "Argsort(-k)", "Argsort(v)",
    "StableArgsort(k)", "StableArgsort(kd)", "Sort(k)", "Sort(kd)", "StableSort(kd)",
    "Reverse(Argsort(k))", "Take(ki, Argsort(ki))", "Take(kd, Argsort(kd))",
    "Take(k, Argsort(k))", "Reverse(k)", "Argsort(kq)", "Argsort(kq / 2)", "Sort(kq / 2)",
    "Take(kq, Argsort(kq / 2))",
    # comparisons, && and || of collections are RVec<int>; ! keeps the element type
    "ki > 0", "ki == 1", "k >= 2.f", "ks < 0", "!ki", "!k", "!kd", "!ks", "!(ki > 0)",
    "k > 1 && k < 3", "ks > 0 || ks < -1", "(ki > 0) + 1", "Sum(ki > 0)", "ki[ki > 0]",
    "k[k > 1 && k < 3]", "Where(ki > 0, ki, 0)",
    # Max/Min keep the element type (these collections are never empty)
    "Max(ki)", "Min(ki)", "Max(ks)", "Min(ks)", "Max(k)", "Max(ki) - Min(ki)",
    # ArgMax/ArgMin are size_t, the first extreme, and 0 for an empty collection (`v`)
    "ArgMax(v)", "ArgMin(v)", "ArgMax(k)", "ArgMin(ki)", "ArgMax(kd)",
    # what C++ writes for `%` of floating point, and std::max of one type
    "fmod(x2, 3)", "fmod(x2, 2.5f)", "fmod(v, 7.f)", "fmod(d, x)", "std::max(x, (float)i)",
    "std::min(d, (double)x)",
]


def value(x: Any) -> Any:
    """A JSON value: numbers as they are (a float32 widened exactly), RVecs as lists."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if x == x else "nan"
    if isinstance(x, (bool, int)):
        return x
    return [value(e) for e in x]


def make_input() -> None:
    ROOT.gInterpreter.Declare(ADVERSARY)
    ROOT.gRandom.SetSeed(20260407)
    df = ROOT.RDataFrame(ENTRIES)
    for name, code in INPUTS.items():
        df = df.Define(name, code if "return" in code else f"return {code};")
    df.Snapshot("t", str(FILE), list(INPUTS))


def float_refs() -> dict[str, Any]:
    df = ROOT.RDataFrame("t", str(FILE))
    out: dict[str, Any] = {}
    names = []
    for k, text in enumerate(EXPRESSIONS):
        name = f"e{k}"
        df = df.Define(name, text)
        names.append(name)
    arrays = df.AsNumpy(names)
    for k, text in enumerate(EXPRESSIONS):
        name = names[k]
        out[text] = {"type": str(df.GetColumnType(name)),
                     "values": [value(v) for v in arrays[name]]}
    return out


def dimuon_refs() -> dict[str, Any]:
    """df102's dimuon mass on 1,000 CMS Open Data events, in float (ROOT) and in double."""
    df = (ROOT.RDataFrame("Events", str(DIMUON))
          .Filter("nMuon == 2").Filter("Muon_charge[0] != Muon_charge[1]")
          .Define("entry", "rdfentry_")
          .Define("mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)")
          .Define("mass_double", "InvariantMass(ROOT::RVecD(Muon_pt.begin(), Muon_pt.end()), "
                  "ROOT::RVecD(Muon_eta.begin(), Muon_eta.end()), "
                  "ROOT::RVecD(Muon_phi.begin(), Muon_phi.end()), "
                  "ROOT::RVecD(Muon_mass.begin(), Muon_mass.end()))"))
    arrays = df.AsNumpy(["entry", "mass", "mass_double"])
    return {"type": str(df.GetColumnType("mass")),
            "entry": [int(e) for e in arrays["entry"]],
            "mass": [float(m) for m in arrays["mass"]],
            "mass_double": [float(m) for m in arrays["mass_double"]]}


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    make_input()
    refs = {"root_version": ROOT.gROOT.GetVersion(), "entries": ENTRIES,
            "expressions": float_refs(), "dimuon": dimuon_refs()}
    REFS.write_text(json.dumps(refs, indent=1) + "\n")
    print(f"wrote {FILE} and {REFS}")


if __name__ == "__main__":
    main()
