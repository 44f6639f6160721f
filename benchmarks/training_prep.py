"""Training-data preparation benchmark: selected events -> a fixed-width feature table.

Run alone::

    python -m benchmarks.training_prep              # strong scaling 1,2 workers, 2M events

or through ``hepflow bench scaling training-prep``; as an analysis file
``hepflow run benchmarks/training_prep.py --dataset D.yaml``.

What a classifier's input job does before training: a loose single-lepton
selection, then one row per event of flat features -- the lepton, the four
leading jets (padded with zeros when an event has fewer), jet and b-tag
multiplicities, H_T, MET -- plus the truth label (`process`) and the weight,
all brought back to the client in entry order (`AsNumpy`), and, in the same
pass, the mean and standard deviation of the features for normalisation. It
stresses what the other benchmarks do not: moving a large result (tens of MB)
from the workers to the client.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

#: Leading jets kept as features (zero-padded).
JETS = 4


def features(df: Any) -> tuple[Any, list[str]]:
    """The selected dataframe with the feature columns defined, and their names."""
    sel = (df.Define("mu_ok", "Muon_pt > 30 && abs(Muon_eta) < 2.4 && Muon_tightId")
             .Define("el_ok", "Electron_pt > 30 && abs(Electron_eta) < 2.4 && "
                              "Electron_cutBased >= 3")
             .Filter("Sum(mu_ok) + Sum(el_ok) == 1", "one lepton")
             .Define("jet_ok", "Jet_pt > 25 && abs(Jet_eta) < 2.4")
             .Define("jet_pt", "Jet_pt[jet_ok]")
             .Define("jet_eta", "Jet_eta[jet_ok]")
             .Define("jet_btag", "Jet_btagDeepFlavB[jet_ok]")
             .Filter("size(jet_pt) >= 2", "two jets")
             .Define("lep_pt", "Sum(mu_ok) == 1 ? Muon_pt[mu_ok][0] : Electron_pt[el_ok][0]")
             .Define("lep_eta", "Sum(mu_ok) == 1 ? Muon_eta[mu_ok][0] : "
                                "Electron_eta[el_ok][0]")
             .Define("lep_is_mu", "Sum(mu_ok) == 1 ? 1 : 0")
             .Define("n_jets", "size(jet_pt)")
             .Define("n_btag", "Sum(jet_btag > 0.5)")
             .Define("ht", "Sum(jet_pt)")
             .Define("order", "Reverse(Argsort(jet_pt))"))
    names = ["lep_pt", "lep_eta", "lep_is_mu", "n_jets", "n_btag", "ht", "MET_pt", "MET_phi"]
    for i in range(JETS):
        for var in ("pt", "eta", "btag"):
            name = f"jet{i + 1}_{var}"
            sel = sel.Define(name, f"n_jets > {i} ? Take(jet_{var}, order)[{i}] : 0.0")
            names.append(name)
    return sel, names


def book(df: Any) -> dict[str, Any]:
    """The feature table (lazy AsNumpy), label and weight, and normalisation statistics."""
    sel, names = features(df)
    table = sel.AsNumpy([*names, "process", "genWeight"], lazy=True)
    results: dict[str, Any] = {"table": table, "rows": sel.Count(), "cutflow": df.Report()}
    for name in ("lep_pt", "ht", "MET_pt", "jet1_pt"):
        results[f"mean_{name}"] = sel.Mean(name)
        results[f"std_{name}"] = sel.StdDev(name)
    return results


if __name__ == "__hepflow_analysis__":  # `hepflow run benchmarks/training_prep.py ...`
    import hepflow
    from hepflow.analysis import dataset

    results = book(hepflow.RDataFrame(dataset()))


def main(argv: Sequence[str] | None = None) -> int:
    """`hepflow bench scaling training-prep ...` with this module's defaults."""
    from hepflow.bench.cli import scaling_main

    return scaling_main("training-prep", argv, prog="python -m benchmarks.training_prep")


if __name__ == "__main__":
    sys.exit(main())
