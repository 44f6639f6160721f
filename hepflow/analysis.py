"""Analysis files: plain Python that books results with the public API, run anywhere.

An analysis file contains no cluster code. It builds dataframes (without a
`client`, so the runner's cluster is used) and books results; the runner
collects every booked result handle bound to a module-level name (or the
dict named `results`), computes them together in one pass per dataframe,
and writes them out::

    # dimuon.py
    import hepflow
    from hepflow.analysis import dataset

    df = hepflow.RDataFrame(dataset(default="data/dimuon.yaml"))
    sel = df.Filter("nMuon == 2", "two muons")
    mass = sel.Define("m", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)") \\
              .Histo1D(("m", "m;m_{#mu#mu} [GeV]", 120, 60, 120), "m")
    cutflow = df.Report()

`hepflow run dimuon.py --dataset other.yaml --report run.json --outdir out/`
then writes `out/histograms.root`, one PNG per histogram, `out/results.json`
and the run report.
"""

from __future__ import annotations

import json
import os
import runpy
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.dataset.spec import Dataset
from hepflow.errors import PlanError
from hepflow.plan.handles import RResultPtr

_current: dict[str, Any] = {}


def dataset(default: str | os.PathLike[str] | Dataset | None = None) -> Dataset:
    """The dataset given to the runner (`--dataset`), else `default`."""
    chosen = _current.get("dataset") or default
    if chosen is None:
        raise PlanError("this analysis needs a dataset: pass --dataset FILE")
    return chosen if isinstance(chosen, Dataset) else Dataset.load(chosen)


def load(path: str | os.PathLike[str], dataset: Dataset | str | None = None,
         ) -> dict[str, RResultPtr[Any]]:
    """Run an analysis file's top level (booking only) and return its named result handles."""
    file = Path(path)
    if not file.is_file():
        raise PlanError(f"analysis file {file} does not exist")
    _current["dataset"] = Dataset.load(dataset) if isinstance(dataset, (str, os.PathLike)) \
        else dataset
    try:
        namespace = runpy.run_path(str(file), run_name="__hepflow_analysis__")
    finally:
        _current.clear()
    explicit = namespace.get("results")
    if isinstance(explicit, Mapping):
        handles = {str(k): v for k, v in explicit.items() if isinstance(v, RResultPtr)}
    else:
        handles = {k: v for k, v in namespace.items()
                   if isinstance(v, RResultPtr) and not k.startswith("_")}
    if not handles:
        raise PlanError(f"{file} books no results: bind result handles to names, or put "
                        "them in a dict named `results`")
    return handles


def compute(handles: Mapping[str, RResultPtr[Any]]) -> dict[str, Any]:
    """Compute all handles together (one pass per dataframe) and return their values."""
    from hepflow.rdataframe import RunGraphs

    RunGraphs(list(handles.values()))
    return {name: handle.GetValue() for name, handle in handles.items()}


def write_outputs(values: Mapping[str, Any], handles: Mapping[str, RResultPtr[Any]],
                  outdir: str | os.PathLike[str], seconds: float) -> dict[str, Any]:
    """Histograms to ROOT (via uproot) and PNG, scalars and cutflows to JSON, a run report."""
    import hist
    import uproot

    from hepflow.results.cutflow import CutflowReport

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    histograms = {k: v for k, v in values.items() if isinstance(v, hist.Hist)}
    if histograms:
        tmp = out / ".histograms.root.tmp"
        with uproot.recreate(tmp) as f:
            for name, h in histograms.items():
                f[name] = h
        tmp.replace(out / "histograms.root")
        for name, h in histograms.items():
            _plot(h, out / f"{name}.png")
    for name, value in values.items():
        if isinstance(value, hist.Hist):
            summary[name] = {"type": "histogram",
                             "sum": float(np.sum(value.values(flow=True)))}
        elif isinstance(value, CutflowReport):
            summary[name] = {"type": "cutflow", "cuts": [
                {"name": c.name, "all": c.all, "pass": c.passed} for c in value]}
        elif isinstance(value, (int, float)):
            summary[name] = {"type": "value", "value": value}
        else:
            summary[name] = {"type": type(value).__name__}
    runs = {}
    for name, handle in handles.items():
        info = handle.run_info()
        if info is not None:
            runs[name] = info.to_dict()
    report = {"seconds": seconds, "results": summary, "runs": runs}
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def _plot(h: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if h.ndim == 1:
        h.plot1d(ax=ax)
    elif h.ndim == 2:
        h.plot2d(ax=ax)
    ax.set_title(h.label or h.name or path.stem)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(path: str | os.PathLike[str], *, dataset: Dataset | str | None = None,
        outdir: str | os.PathLike[str] = "hepflow-output",
        report: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Load, compute and write an analysis file's results on the current Dask client."""
    handles = load(path, dataset)
    start = time.perf_counter()
    values = compute(handles)
    seconds = time.perf_counter() - start
    summary = write_outputs(values, handles, outdir, seconds)
    if report is not None:
        Path(report).write_text(json.dumps(summary, indent=2, default=str))
    return summary


__all__ = ["compute", "dataset", "load", "run", "write_outputs"]
