"""ttbar benchmark in the style of the Analysis Grand Challenge (AGC): compute as well as I/O.

Run alone::

    python -m benchmarks.ttbar                       # strong scaling 1,2 workers, 2M events
    python -m benchmarks.ttbar --workers 2 --repeat 5

or through ``hepflow bench scaling ttbar --workers 1,2,4``; as an analysis file
``hepflow run benchmarks/ttbar.py --dataset D.yaml``.

The selection follows the AGC's ttbar single-lepton analysis on NanoAOD-like
events:

* exactly one lepton (muon or electron, pT > 30 GeV, |eta| < 2.1);
* jets with pT > 25 GeV, |eta| < 2.4 and a jet ID; at least four of them;
* b-tag counting (DeepFlavour score > 0.5): the ``4j1b`` region (at least one
  b-tag) fills H_T; the ``4j2b`` region (at least two) forms every trijet
  combination of the selected jets (``Combinations(jets, 3)``), keeps those
  with a b-tagged jet, picks the one with the largest pT and fills its mass:
  the reconstructed top quark;
* several histograms, all weighted with ``genWeight``: H_T (nominal and with
  the jet pT scaled up and down by 3 %, the AGC's jet-energy-scale variation),
  the top candidate mass, the leading jet pT, the b-tag multiplicity and MET.

The trijet step is the compute-heavy part (C(n, 3) combinations per event,
jagged Take/ArgMax); the rest reads about a dozen branches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

#: Jet-energy-scale variation applied to the jet pT for the H_T up/down histograms.
JES = 0.03
BTAG = 0.5


def select(df: Any) -> tuple[Any, Any]:
    """The 4j1b and 4j2b regions (dataframes) with the selected jets defined."""
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
              .Filter("size(jet_pt) >= 4", "at least four jets")
              .Define("n_btag", f"Sum(jet_btag > {BTAG})"))
    region_4j1b = jets.Filter("n_btag >= 1", "4j1b: at least one b-tag")
    region_4j2b = region_4j1b.Filter("n_btag >= 2", "4j2b: at least two b-tags")
    return region_4j1b, region_4j2b


def top_candidate(region: Any) -> Any:
    """The mass of the highest-pT trijet containing a b-tagged jet, as `top_mass`."""
    return (region
            .Define("jet_px", "jet_pt * cos(jet_phi)")
            .Define("jet_py", "jet_pt * sin(jet_phi)")
            .Define("jet_pz", "jet_pt * sinh(jet_eta)")
            .Define("jet_e", "sqrt(jet_px*jet_px + jet_py*jet_py + jet_pz*jet_pz + "
                             "jet_mass*jet_mass)")
            .Define("trijet", "Combinations(jet_pt, 3)")
            .Define("j1", "trijet[0]").Define("j2", "trijet[1]").Define("j3", "trijet[2]")
            .Define("tri_px", "Take(jet_px, j1) + Take(jet_px, j2) + Take(jet_px, j3)")
            .Define("tri_py", "Take(jet_py, j1) + Take(jet_py, j2) + Take(jet_py, j3)")
            .Define("tri_pz", "Take(jet_pz, j1) + Take(jet_pz, j2) + Take(jet_pz, j3)")
            .Define("tri_e", "Take(jet_e, j1) + Take(jet_e, j2) + Take(jet_e, j3)")
            .Define("tri_pt", "sqrt(tri_px*tri_px + tri_py*tri_py)")
            .Define("tri_mass", "sqrt(max(tri_e*tri_e - tri_px*tri_px - tri_py*tri_py - "
                                "tri_pz*tri_pz, 0.0))")
            .Define("tri_btag", "max(max(Take(jet_btag, j1), Take(jet_btag, j2)), "
                                "Take(jet_btag, j3))")
            .Define("tri_pt_b", f"Where(tri_btag > {BTAG}, tri_pt, -1.0)")
            .Define("best", "ArgMax(tri_pt_b)")
            .Define("top_mass", "tri_mass[best]"))


def book(df: Any) -> dict[str, Any]:
    """Book every result of the analysis on `df`; returns the named result handles."""
    region_4j1b, region_4j2b = select(df)
    ht = (region_4j1b.Define("ht", "Sum(jet_pt)")
                     .Define("ht_up", f"Sum(jet_pt * {1 + JES})")
                     .Define("ht_down", f"Sum(jet_pt * {1 - JES})"))
    top = top_candidate(region_4j2b)
    w = "genWeight"
    return {
        "ht_4j1b": ht.Histo1D(("ht_4j1b", "H_T, 4j1b;H_T [GeV]", 50, 50, 1050), "ht", w),
        "ht_4j1b_jes_up": ht.Histo1D(("ht_4j1b_jes_up", "H_T JES up;H_T [GeV]", 50, 50, 1050),
                                     "ht_up", w),
        "ht_4j1b_jes_down": ht.Histo1D(("ht_4j1b_jes_down", "H_T JES down;H_T [GeV]", 50, 50,
                                        1050), "ht_down", w),
        "top_mass_4j2b": top.Histo1D(("top_mass_4j2b", "trijet mass, 4j2b;m_{bjj} [GeV]", 50,
                                      50, 550), "top_mass", w),
        "leading_jet_pt": region_4j1b.Define("lead_pt", "Max(jet_pt)").Histo1D(
            ("leading_jet_pt", "leading jet p_T;p_T [GeV]", 50, 25, 525), "lead_pt", w),
        "n_btag": region_4j1b.Histo1D(("n_btag", "b-tagged jets;n", 6, 0, 6), "n_btag", w),
        "met_4j1b": region_4j1b.Histo1D(("met_4j1b", "MET;p_T^{miss} [GeV]", 50, 0, 500),
                                        "MET_pt", w),
        "events_4j2b": top.Count(),
        "cutflow": df.Report(),
    }


if __name__ == "__hepflow_analysis__":  # `hepflow run benchmarks/ttbar.py --dataset ...`
    import hepflow
    from hepflow.analysis import dataset

    results = book(hepflow.RDataFrame(dataset()))


def main(argv: Sequence[str] | None = None) -> int:
    """`hepflow bench scaling ttbar ...` with this module's defaults."""
    from hepflow.bench.cli import scaling_main

    return scaling_main("ttbar", argv, prog="python -m benchmarks.ttbar")


if __name__ == "__main__":
    sys.exit(main())
