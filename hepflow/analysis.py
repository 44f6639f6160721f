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

import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.dataset.spec import Dataset
from hepflow.errors import AnalysisError, HepflowError, OutputError, PlanError
from hepflow.plan.handles import RResultPtr

_current: dict[str, Any] = {}


def dataset(default: str | os.PathLike[str] | Dataset | None = None) -> Dataset:
    """The dataset given to the runner (`--dataset`), else `default`."""
    chosen = _current.get("dataset") or default
    if chosen is None:
        raise PlanError("this analysis needs a dataset: pass --dataset FILE")
    return _dataset(chosen)


def _dataset(value: Any) -> Dataset:
    """A `Dataset` from itself or its file, every failure a `PlanError` naming the file."""
    if isinstance(value, Dataset):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise PlanError(f"a dataset is a Dataset or the path of a dataset file, not "
                        f"{type(value).__name__}")
    try:
        return Dataset.load(value)
    except OSError as err:
        raise PlanError(f"cannot read the dataset file {os.fspath(value)}: "
                        f"{err.strerror or err}") from err


def _user_line(file: Path, err: BaseException) -> str:
    """`file:line` of the deepest frame of the analysis file in the traceback, if any."""
    if isinstance(err, SyntaxError) and err.filename == str(file):
        return f"{file}:{err.lineno}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(file)]
    return f"{file}:{frames[-1].lineno}" if frames else str(file)


_MODULE = "__hepflow_analysis__"


def _run_by_value(file: Path) -> dict[str, Any]:
    """Run the file as the module `__hepflow_analysis__` and return its namespace.

    The module exists only on this machine, and workers cannot import it by
    name, so its functions and classes (a `model_fn`, a callable in a `Define`)
    must travel by value. While it runs (training is often started from its
    top level), `sys.modules` holds an empty stand-in under its name: pickle
    then cannot find the file's functions by reference, and distributed falls
    back to cloudpickle, which is told to ship that module's contents by value.
    """
    import types

    import cloudpickle

    spec = importlib.util.spec_from_file_location(_MODULE, file)
    if spec is None or spec.loader is None:
        raise PlanError(f"{file} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = types.ModuleType(_MODULE, "stand-in: contents travel by value")
    cloudpickle.register_pickle_by_value(sys.modules[_MODULE])
    try:
        spec.loader.exec_module(module)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[_MODULE])
        sys.modules.pop(_MODULE, None)
    return dict(vars(module))


def load(path: str | os.PathLike[str], dataset: Dataset | str | None = None,
         ) -> dict[str, RResultPtr[Any]]:
    """Run an analysis file's top level (booking only) and return its named result handles.

    hepflow's own errors raised by the file (a misspelt column, a bad
    expression) pass through as they are; anything else the file raises
    becomes an `AnalysisError` naming the file and line, with the cause chained.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise PlanError(f"an analysis file is a path, not {type(path).__name__}")
    file = Path(path).absolute()
    if not file.is_file():
        raise PlanError(f"analysis file {file} does not exist")
    _current["dataset"] = None if dataset is None else _dataset(dataset)
    try:
        namespace = _run_by_value(file)
    except HepflowError:
        raise
    except SyntaxError as err:
        raise AnalysisError(f"{_user_line(file, err)}: syntax error: {err.msg}") from err
    except Exception as err:
        raise AnalysisError(f"{_user_line(file, err)}: the analysis file raised "
                            f"{type(err).__name__}: {err}") from err
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
    out = check_output_folder(outdir)
    try:
        return _write_outputs(values, handles, out, seconds)
    except OSError as err:
        raise OutputError(f"cannot write the results into {out}: {err.strerror or err}"
                          ) from err


def check_output_folder(outdir: str | os.PathLike[str]) -> Path:
    """Create `outdir` if needed and prove it writable, before any event is read."""
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".hepflow-check-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"the output folder {out} cannot be written: "
                          f"{err.strerror or err}") from err
    return out


def check_report_file(report: str | os.PathLike[str]) -> Path:
    path = Path(report)
    if path.is_dir():
        raise OutputError(f"the run report {path} is an existing folder; give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"the folder {path.parent} of the run report does not exist")
    return path


def _write_outputs(values: Mapping[str, Any], handles: Mapping[str, RResultPtr[Any]],
                   out: Path, seconds: float) -> dict[str, Any]:
    import hist
    import uproot

    from hepflow.results.cutflow import CutflowReport

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
    report_file = check_report_file(report) if report is not None else None
    check_output_folder(outdir)
    handles = load(path, dataset)
    start = time.perf_counter()
    values = compute(handles)
    seconds = time.perf_counter() - start
    summary = write_outputs(values, handles, outdir, seconds)
    write_report(report_file, summary)
    return summary


def write_report(report_file: Path | None, summary: Mapping[str, Any]) -> None:
    """The run report as JSON (nothing when no file is asked for), or an OutputError."""
    if report_file is None:
        return
    try:
        report_file.write_text(json.dumps(summary, indent=2, default=str))
    except OSError as err:
        raise OutputError(f"cannot write the run report {report_file}: "
                          f"{err.strerror or err}") from err


__all__ = ["check_output_folder", "check_report_file", "compute", "dataset", "load", "run",
           "write_outputs"]
