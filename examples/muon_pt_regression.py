"""Muon pT regression for a Level-1 trigger, exported to FPGA firmware with hls4ml.

    python examples/muon_pt_regression.py --events 20000 --outdir muon-pt

Generates a small sample (its muons carry the generator-level truth
GenMuon_pt), selects events with a muon, trains a small dense network on the
leading muon's kinematics and isolation to predict the correction
GenMuon_pt / Muon_pt, and prints the bias and resolution of the corrected pT
per bin of the true pT. For a ratio target, (pred - true) / true is exactly
(Muon_pt x pred - GenMuon_pt) / GenMuon_pt: the resolution of the corrected pT.
Then it writes the hls4ml project, runs its C simulation (g++) on the test
events and prints how far the fixed-point firmware is from the float model.
Synthesis continues from `<outdir>/hls4ml` with the vendor's tools (README).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

import hepflow
import hepflow.ml as ml
from hepflow.ml import regression

INPUTS = ["mu_pt", "mu_eta", "mu_phi", "mu_iso", "mu_charge", "n_muon"]


def model_fn(input_shape: tuple[int, ...]) -> Any:
    """A trigger-sized network: two small dense layers, a linear output starting at 1.

    The correction is close to 1 with a spread of about 1 %: starting the output
    at 1 leaves the network only the small, pT-dependent part to learn.
    """
    import keras

    start_at_one = keras.initializers.Constant(1.0)
    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, bias_initializer=start_at_one,
                                                 kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def selection(files: list[str], client: Any) -> Any:
    """Events with a muon; the leading muon's features and its pT correction."""
    df = hepflow.RDataFrame("Events", files, client=client).Filter("nMuon >= 1", "a muon")
    return (df.Define("mu_pt", "Muon_pt[0]").Define("mu_eta", "Muon_eta[0]")
            .Define("mu_phi", "Muon_phi[0]").Define("mu_iso", "Muon_pfRelIso04_all[0]")
            .Define("mu_charge", "Muon_charge[0]").Define("n_muon", "nMuon")
            .Define("correction", "GenMuon_pt[0] / Muon_pt[0]"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    # rounding (AP_RND) instead of hls4ml's default truncation, which biases every
    # sum by up to one step per product; saturation (AP_SAT) instead of wrapping
    parser.add_argument("--precision", default="ap_fixed<18,6,AP_RND,AP_SAT>")
    parser.add_argument("--outdir", default="muon-pt-regression")
    args = parser.parse_args(argv)

    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.samples import make_sample

    out = Path(args.outdir)
    files = [str(p) for p in make_sample(out / "sample", events=args.events, files=2, seed=11,
                                         basket_entries=max(1000, args.events // 8))]
    features = ml.Features(INPUTS, label="correction", task="regression")
    with local_cluster(args.workers) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        result = ml.train_keras(selection(files, client), features, model_fn,
                                epochs=args.epochs, batch_size=256, strategy="local",
                                patience=None, progress=False)
        result.save(out / "bundle")
        test = result.scores["test"]
        print("uncorrected Muon_pt against GenMuon_pt (test split):")
        print(regression.format_table(regression.report(test.label, np.ones_like(test.label))))
        print("corrected pT = Muon_pt x prediction:")
        print(regression.format_table(test.resolution()))
        report = ml.export_hls4ml(result, out / "hls4ml", precision=args.precision,
                                  max_events=1000)
    print(report)
    print(f"hls4ml project: {report.outdir} (synthesise it with the vendor's tools)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
