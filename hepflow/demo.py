"""The embedded default job: the dimuon analysis on a generated sample, on a local cluster.

`hepflow demo` (and `make demo`) runs this: it generates a NanoAOD-like sample
once, starts a LocalCluster with process workers, prints the dashboard address,
then the cutflow and the dimuon mass spectrum with its Z peak.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

DIMUON_CUTS = (
    ("nMuon == 2", "two muons"),
    ("Muon_charge[0] != Muon_charge[1]", "opposite charge"),
)
DIMUON_MASS = "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"


def dimuon(df: Any) -> tuple[Any, Any, Any]:
    """Book the dimuon analysis on `df`; returns (mass histogram, count, report) handles."""
    selected = df
    for expression, name in DIMUON_CUTS:
        selected = selected.Filter(expression, name)
    selected = selected.Define("Dimuon_mass", DIMUON_MASS)
    hist = selected.Histo1D(("m", "Dimuon mass;m_{#mu#mu} [GeV]", 30000, 0.25, 300),
                            "Dimuon_mass")
    return hist, selected.Count(), df.Report()


def ensure_sample(outdir: Path, events: int, files: int, seed: int = 42) -> list[str]:
    from hepflow.samples import make_sample

    existing = sorted(outdir.glob("sample_*.root"))
    marker = outdir / f".complete-{events}-{files}-{seed}"
    if marker.exists() and len(existing) == files:
        return [str(p) for p in existing]
    for old in existing:
        old.unlink()
    start = time.perf_counter()
    paths = make_sample(outdir, events=events, files=files, seed=seed)
    print(f"generated {events} events in {files} files under {outdir} "
          f"({time.perf_counter() - start:.1f} s)")
    marker.touch()
    return [str(p) for p in paths]


def spectrum(h: Any, lo: float = 70.0, hi: float = 110.0, width: int = 50) -> str:
    """A text plot of the mass spectrum around the Z, rebinned to 1 GeV."""
    edges = h.axes[0].edges
    values = h.values()
    rows = []
    peak_bin = int(np.argmax(values))
    heights = []
    for left in np.arange(lo, hi, 1.0):
        sel = (edges[:-1] >= left) & (edges[:-1] < left + 1.0)
        heights.append((left, float(values[sel].sum())))
    top = max(v for _, v in heights) or 1.0
    for left, v in heights:
        bar = "#" * round(width * v / top)
        rows.append(f"{left:6.1f}-{left + 1:5.1f} GeV |{bar:<{width}}| {int(v)}")
    centre = h.axes[0].centers[peak_bin]
    rows.append(f"peak at {centre:.2f} GeV (Z boson: 91.19 GeV)")
    return "\n".join(rows)


def main(events: int = 400_000, files: int = 4, workers: int | None = None,
         outdir: str = "demo-sample") -> int:
    import distributed

    import hepflow
    from hepflow.cluster import local_cluster

    paths = ensure_sample(Path(outdir), events, files)
    n_workers = workers or max(1, min(os.cpu_count() or 1, 4))
    with local_cluster(n_workers) as cluster, \
            distributed.Client(cluster) as client:
        print(f"Dask dashboard: {client.dashboard_link}")
        df = hepflow.RDataFrame("Events", paths, client=client)
        hist, count, report = dimuon(df)
        print(df.explain())
        start = time.perf_counter()
        n = count.GetValue()
        seconds = time.perf_counter() - start
        print(f"\n{n} opposite-charge dimuon events out of {events} "
              f"in {seconds:.2f} s ({events / seconds:,.0f} events/s on {n_workers} workers)\n")
        print("Cutflow:")
        report.GetValue().Print()
        print("\nDimuon mass spectrum:")
        print(spectrum(hist.GetValue()))
    return 0


__all__ = ["dimuon", "ensure_sample", "main", "spectrum"]
