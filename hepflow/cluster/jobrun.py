"""The program one HTTP job runs: ``python -m hepflow.cluster.jobrun`` — never the server process.

An analysis file is Python that a user asked to run, so the server starts
this program in a process (and session) of its own, in the job's folder, with
an argument list (no shell). It is ``hepflow run`` — the same
`hepflow.analysis` load, compute and write — plus what the server reads back
while and after it runs:

    state.json      running / succeeded / failed, the error, the run_info summary
    progress.json   chunks done of the chunks booked so far (from the chunk events)
    out/            the outputs of `hepflow run` (histograms.root, results.json, PNGs)
    out/results/    one ``NAME.root`` and ``NAME.json`` per histogram, for downloads
    out/bundles/    model bundles the analysis saved (``hepflow.cluster.jobrun.bundle_dir()``)

Every file is written under a temporary name and renamed, so the server never
reads half of one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Set for the analysis file: the folder its model bundles go to (listed as results).
BUNDLES_ENV = "HEPFLOW_JOB_BUNDLES"


def bundle_dir() -> Path:
    """Where an analysis run as an HTTP job saves its model bundles (``bundle.save(...)``)."""
    folder = os.environ.get(BUNDLES_ENV)
    if not folder:
        raise RuntimeError("not running as a hepflow job (no $HEPFLOW_JOB_BUNDLES)")
    return Path(folder)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as JSON under a temporary name, then rename: readers see all or nothing."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


class Progress:
    """Counts this job's chunks as their `hepflow-chunk(s)` events reach the client.

    The engine names each run's id and chunk count before the run starts
    (`RUN_LISTENERS`); events of other runs on a shared scheduler are ignored.
    """

    def __init__(self, path: Path, interval_s: float = 0.25) -> None:
        self.path = path
        self.interval_s = interval_s
        self.total = 0
        self.done = 0
        self._runs: set[str] = set()
        self._seen: set[tuple[Any, Any]] = set()
        self._lock = threading.Lock()
        self._written = 0.0

    def on_run(self, run_id: str, chunks: int) -> None:
        with self._lock:
            self._runs.add(run_id)
            self.total += chunks
        self.write(force=True)

    def on_event(self, event: Any) -> None:
        """One chunk's record (`hepflow-chunk`) or a batch's list of them (`hepflow-chunks`);
        a chunk run twice (a speculative copy, a re-run) counts once."""
        from hepflow.observe.events import chunk_records

        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        counted = False
        with self._lock:
            for record in chunk_records(msg):
                if record.get("run") not in self._runs:
                    continue
                chunk = (record.get("run"), record.get("chunk"))
                if chunk[1] is not None and chunk in self._seen:
                    continue
                self._seen.add(chunk)
                self.done += 1
                counted = True
        if counted:
            self.write()

    def write(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.interval_s:
            return
        self._written = now
        with self._lock:
            data = {"chunks_done": self.done, "chunks_total": self.total}
        write_json(self.path, data)


def histogram_json(h: Any) -> dict[str, Any]:
    """A `hist.Hist` as plain JSON: axes with edges, values and variances (flow bins apart)."""
    axes = [{"name": ax.name, "label": ax.label, "edges": np.asarray(ax.edges).tolist()}
            for ax in h.axes]
    variances = h.variances()
    out: dict[str, Any] = {
        "name": h.name, "title": h.label, "axes": axes,
        "values": np.asarray(h.values()).tolist(),
        "variances": None if variances is None else np.asarray(variances).tolist(),
        "values_with_flow": np.asarray(h.values(flow=True)).tolist(),
    }
    return out


def export_histograms(values: Mapping[str, Any], folder: Path) -> list[str]:
    """One ROOT file (written by uproot) and one JSON file per histogram, for downloads."""
    import hist
    import uproot

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name, value in values.items():
        if not isinstance(value, hist.Hist):
            continue
        tmp = folder / f".{name}.root.tmp"
        with uproot.recreate(tmp) as f:
            f[name] = value
        tmp.replace(folder / f"{name}.root")
        write_json(folder / f"{name}.json", histogram_json(value))
        names.append(name)
    return names


def run_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The `run_info` of the job: the run of its first result (one pass computes them all)."""
    runs = report.get("runs") or {}
    if not runs:
        return {}
    info = next(iter(runs.values()))
    keys = ("chunks", "entries_expected", "entries_processed", "seconds",
            "events_per_second", "bytes_read", "read_seconds", "compute_seconds")
    out = {k: info[k] for k in keys if k in info}
    out["failures"] = len(info.get("failures", []))
    return out


def train(spec_file: str, dataset: str, outdir: Path) -> dict[str, Any]:
    """Run a training spec: the dataframe, its features, the spec's model trained through
    `hepflow.ml` as a Python user would, the bundle saved as a result."""
    import hepflow
    import hepflow.ml as ml
    from hepflow.serve.jobspec import read_training

    spec = read_training(Path(spec_file))
    start = time.perf_counter()
    df = hepflow.RDataFrame(hepflow.Dataset.load(dataset))
    for name, expression in spec.defines:
        df = df.Define(name, expression)
    for expression in spec.filters:
        df = df.Filter(expression)
    label: str | dict[str, int] = spec.label if spec.label is not None else \
        {sample: int(cls) for sample, cls in spec.classes}
    features = ml.Features(spec.flat, {c: int(n) for c, n in spec.jagged}, label=label,
                           weight=spec.weight, negative_weights=spec.negative_weights)
    result = spec.model.train(df, features)
    result.save(str(outdir / "bundles" / spec.bundle))
    report = {"seconds": time.perf_counter() - start, "runs": {}, "results": {
        spec.bundle: {"type": "bundle", "model": spec.model.kind, "test_auc": result.test_auc}}}
    write_json(outdir / "results.json", report)
    print(f"{spec.bundle}: {spec.model.kind}, test AUC {result.test_auc:.4f}", flush=True)
    return report


def _run(args: argparse.Namespace, state: Path, base: dict[str, Any]) -> dict[str, Any]:
    from hepflow.analysis import check_output_folder, compute, load, write_outputs
    from hepflow.cluster.connect import connect
    from hepflow.engine.runner import RUN_LISTENERS
    from hepflow.observe.events import BATCH_TOPIC, TOPIC

    outdir = check_output_folder(args.outdir)
    bundles = outdir / "bundles"
    bundles.mkdir(exist_ok=True)
    os.environ[BUNDLES_ENV] = str(bundles)
    progress = Progress(state.with_name("progress.json"))
    progress.write(force=True)
    with connect(args.cluster) as client:
        print(f"hepflow job: connected; Dask dashboard {client.dashboard_link}", flush=True)
        client.subscribe_topic(TOPIC, progress.on_event)
        client.subscribe_topic(BATCH_TOPIC, progress.on_event)
        RUN_LISTENERS.append(progress.on_run)
        if args.training is not None:
            values: dict[str, Any] = {}
            report = train(args.training, args.dataset, outdir)
        else:
            handles = load(args.analysis, args.dataset)
            start = time.perf_counter()
            values = compute(handles)
            seconds = time.perf_counter() - start
            report = write_outputs(values, handles, outdir, seconds)
        # the last chunk events may still be on their way: give them a moment
        deadline = time.monotonic() + 2.0
        while progress.done < progress.total and time.monotonic() < deadline:
            time.sleep(0.05)
    progress.write(force=True)
    export_histograms(values, outdir / "results")
    for name, result in report.get("results", {}).items():
        print(f"{name}: {result}", flush=True)
    return report


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one analysis file as a job; `state.json` and the exit status say how it went."""
    parser = argparse.ArgumentParser(prog="python -m hepflow.cluster.jobrun",
                                     description=__doc__)
    parser.add_argument("analysis", nargs="?", default=None)
    parser.add_argument("--training", default=None, help="a training spec (JSON) instead")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args(argv)
    if (args.analysis is None) == (args.training is None):
        parser.error("give an analysis file or --training SPEC, one of them")
    signal.signal(signal.SIGTERM, _interrupted)  # cancelled: close the client, cancel tasks
    state = Path(args.state)
    base = {"pid": os.getpid(), "started": time.time()}
    write_json(state, {"state": "running", **base})
    what = Path(args.analysis).name if args.analysis else "a training spec"
    print(f"hepflow job: running {what} on {args.cluster}", flush=True)
    try:
        report = _run(args, state, base)
    except BaseException as err:  # noqa: BLE001 - every failure must reach state.json
        traceback.print_exc()
        message = f"{type(err).__name__}: {err}".splitlines()[0][:2000]
        write_json(state, {"state": "failed", "error": message, "finished": time.time(),
                           **base})
        print(f"hepflow job: FAILED: {message}", file=sys.stderr, flush=True)
        return 130 if isinstance(err, KeyboardInterrupt) else 1
    write_json(state, {"state": "succeeded", "finished": time.time(),
                       "run_info": run_summary(report), **base})
    print("hepflow job: succeeded", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
