"""The ttbar benchmark's analysis in ROOT's own RDataFrame: the baseline `benchmarks.ttbar` runs.

Needs PyROOT (``pip install root`` in a separate environment; hepflow never
imports ROOT), and is started by ``python -m benchmarks.ttbar --root-python
PY`` as ``PY benchmarks/ttbar_rdf.py --threads 2 --repeat 6 FILES...``. Each
repetition builds a fresh ``ROOT.RDataFrame`` (as a user's script does), books
the same histograms as `benchmarks.ttbar.book` and runs the event loop with
``EnableImplicitMT(threads)``; the last line of stdout is a JSON list with, per
repetition, the build and compute seconds, every histogram's contents and
sums of squared weights (flow bins included) and the 4j2b count.

The expressions are those of `benchmarks.ttbar`, written for C++ and computed
with C++'s types, as hepflow computes them: ``cos`` of a ``float`` is a float,
a sum of floats a float.

``--snapshot OUT IN`` instead rewrites the TTree of IN into OUT with
RDataFrame's ``Snapshot``: the sample as files written by ROOT itself.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def book(df: Any, jes: float, btag: float,
         binning: dict[str, list[float]]) -> tuple[dict[str, Any], Any]:
    lepton = ("Sum(Muon_pt > 30 && abs(Muon_eta) < 2.1) + "
              "Sum(Electron_pt > 30 && abs(Electron_eta) < 2.1)")
    jets = (df.Define("n_leptons", lepton)
              .Filter("n_leptons == 1", "exactly one lepton")
              .Define("jet_ok", "Jet_pt > 25 && abs(Jet_eta) < 2.4 && Jet_jetId >= 2")
              .Define("jet_pt", "Jet_pt[jet_ok]")
              .Define("jet_eta", "Jet_eta[jet_ok]")
              .Define("jet_phi", "Jet_phi[jet_ok]")
              .Define("jet_mass", "Jet_mass[jet_ok]")
              .Define("jet_btag", "Jet_btagDeepFlavB[jet_ok]")
              .Filter("jet_pt.size() >= 4", "at least four jets")
              .Define("n_btag", f"Sum(jet_btag > {btag})")
              .Define("weight", "double(genWeight)"))
    r1 = jets.Filter("n_btag >= 1", "4j1b")
    r2 = r1.Filter("n_btag >= 2", "4j2b")
    ht = (r1.Define("ht", "Sum(jet_pt)")
            .Define("ht_up", f"Sum(jet_pt * {1 + jes!r})")
            .Define("ht_down", f"Sum(jet_pt * {1 - jes!r})"))
    top = (r2.Define("jet_px", "jet_pt * cos(jet_phi)")
             .Define("jet_py", "jet_pt * sin(jet_phi)")
             .Define("jet_pz", "jet_pt * sinh(jet_eta)")
             .Define("jet_e", "sqrt(jet_px*jet_px + jet_py*jet_py + jet_pz*jet_pz + "
                              "jet_mass*jet_mass)")
             .Define("trijet", "ROOT::VecOps::Combinations(jet_pt, 3)")
             .Define("j1", "trijet[0]").Define("j2", "trijet[1]").Define("j3", "trijet[2]")
             .Define("tri_px", "Take(jet_px, j1) + Take(jet_px, j2) + Take(jet_px, j3)")
             .Define("tri_py", "Take(jet_py, j1) + Take(jet_py, j2) + Take(jet_py, j3)")
             .Define("tri_pz", "Take(jet_pz, j1) + Take(jet_pz, j2) + Take(jet_pz, j3)")
             .Define("tri_e", "Take(jet_e, j1) + Take(jet_e, j2) + Take(jet_e, j3)")
             .Define("tri_pt", "sqrt(tri_px*tri_px + tri_py*tri_py)")
             .Define("tri_mass", "auto m2 = tri_e*tri_e - tri_px*tri_px - tri_py*tri_py - "
                                 "tri_pz*tri_pz; return sqrt(Where(m2 > 0., m2, 0.));")
             .Define("tri_btag", "auto a = Take(jet_btag, j1), b = Take(jet_btag, j2), "
                                 "c = Take(jet_btag, j3); auto ab = Where(a > b, a, b); "
                                 "return Where(ab > c, ab, c);")
             .Define("tri_pt_b", f"Where(tri_btag > {btag}, tri_pt, -1.0)")
             .Define("top_mass", "tri_mass[ArgMax(tri_pt_b)]"))
    sources = {"ht_4j1b": (ht, "ht"), "ht_4j1b_jes_up": (ht, "ht_up"),
               "ht_4j1b_jes_down": (ht, "ht_down"), "top_mass_4j2b": (top, "top_mass"),
               "leading_jet_pt": (r1.Define("lead_pt", "Max(jet_pt)"), "lead_pt"),
               "n_btag": (r1, "n_btag"), "met_4j1b": (r1, "MET_pt")}
    hists = {name: frame.Histo1D((name, name, int(binning[name][0]), *binning[name][1:]),
                                 column, "weight")
             for name, (frame, column) in sources.items()}
    return hists, top.Count()


def contents(h: Any) -> tuple[list[float], list[float]]:
    n = h.GetNbinsX()
    return ([h.GetBinContent(i) for i in range(n + 2)],
            [h.GetBinError(i) ** 2 for i in range(n + 2)])


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--jes", type=float, default=0.03)
    p.add_argument("--btag", type=float, default=0.5)
    p.add_argument("--binning", default="{}")
    p.add_argument("--snapshot", default=None, help="rewrite the (one) input file into this")
    args = p.parse_args()
    import ROOT

    if args.snapshot:
        ROOT.RDataFrame("Events", args.files).Snapshot("Events", args.snapshot)
        return
    if args.threads > 1:
        ROOT.EnableImplicitMT(args.threads)
    binning = json.loads(args.binning)
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        df = ROOT.RDataFrame("Events", args.files)
        hists, count = book(df, args.jes, args.btag, binning)
        built = time.perf_counter()
        n = int(count.GetValue())  # one event loop fills everything booked
        done = time.perf_counter()
        runs.append({"build_s": built - start, "compute_s": done - built, "count": n,
                     "hists": {name: contents(h.GetValue()) for name, h in hists.items()}})
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
