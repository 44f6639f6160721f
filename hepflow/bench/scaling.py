"""Strong and weak scaling runs of an analysis: `hepflow bench scaling`.

The same analysis runs at several worker counts on one cluster, and the
curves say how far adding workers pays:

* **strong** scaling keeps the data fixed; speed-up = T(n0) / T(n) x n0;
* **weak** scaling grows the data with the workers (a fraction n / max of the
  dataset's files, or of their entries when there are fewer files than
  workers); speed-up = throughput(n) / throughput(n0) x n0.

A point with n workers runs on a cluster of exactly n workers
(`hepflow.bench.pools`): by default one LocalCluster per worker count, all
started up front, or the user's cluster resized with `cluster.scale(n)`.
After warm-up runs (imports, page cache, hepflow's preprocessing cache), the
timed repetitions are interleaved across points when every size is up at
once (1, 2, 4, 1, 2, 4, ...), so a burst of load from elsewhere hits every
point alike; each point reports the median and the spread of its
repetitions.

The scheduler plugin gives each repetition's time breakdown (I/O,
decompression, kernel, fill, idle), so the output also shows *where* the time
goes as workers grow. An Amdahl fit (Gustafson's law for weak scaling) names
the serial fraction, and `hepflow.bench.model` extrapolates to 10, 100 and
1,000 workers from the measured per-chunk costs and scheduler overhead.
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import dask
import numpy as np

from hepflow.dataset.spec import Dataset, FileSpec, Sample
from hepflow.errors import PlanError
from hepflow.observe.aggregate import BREAKDOWN_ORDER
from hepflow.observe.environment import machine_info, package_versions

Mode = Literal["strong", "weak"]
Booker = Callable[[Dataset, Any], Mapping[str, Any]]

#: The built-in benchmark analyses: name -> "module:function" booking results on a dataframe.
BUILTINS: dict[str, str] = {
    "dimuon": "hepflow.bench.scaling:_book_dimuon",
    "ttbar": "benchmarks.ttbar:book",
    "training-prep": "benchmarks.training_prep:book",
}


@dataclass(frozen=True, slots=True)
class ScalingConfig:
    """What to run, on how many workers, how often, on which data."""

    analysis: str
    workers: tuple[int, ...] = (1, 2)
    mode: Mode = "strong"
    repeat: int = 3
    warmup: int = 1
    dataset: str | tuple[str, ...] | None = None
    events: int = 2_000_000
    files: int = 8
    sample_dir: str = "bench-sample"
    chunk_entries: int | None = None
    scheduler: str | None = None
    outdir: str = "scaling-output"
    overhead_tasks: int = 1000

    def __post_init__(self) -> None:
        if not self.workers or any(n < 1 for n in self.workers):
            raise PlanError(f"workers must be positive counts, got {self.workers}")
        if self.mode not in ("strong", "weak"):
            raise PlanError(f"mode must be 'strong' or 'weak', not {self.mode!r}")
        if self.repeat < 1 or self.warmup < 0:
            raise PlanError("repeat must be at least 1 and warmup at least 0")


# -- analyses and data ----------------------------------------------------------------------


def _book_dimuon(df: Any) -> dict[str, Any]:
    """The dimuon benchmark's analysis (hepflow.demo), as named results."""
    from hepflow.demo import dimuon

    mass, count, cutflow = dimuon(df)
    return {"mass": mass, "count": count, "cutflow": cutflow}


def _import(module: str) -> Any:
    """Import a module; `benchmarks.*` also from the source checkout hepflow runs from."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not module.startswith("benchmarks") or exc.name not in ("benchmarks", module):
            raise
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__init__.py").is_file():
        raise PlanError(f"the built-in benchmark analyses live in hepflow's source tree "
                        f"(benchmarks/), which is not at {root}: run from a checkout, or pass "
                        "an analysis file")
    sys.path.insert(0, str(root))
    return importlib.import_module(module)


def resolve_analysis(analysis: str) -> tuple[str, Booker]:
    """A label and a function `(dataset, client) -> {name: result handle}`.

    `analysis` is a built-in name (`BUILTINS`) or the path of an analysis file
    (see `hepflow.analysis`); the file's dataframes use the current client.
    """
    if analysis in BUILTINS:
        module, func = BUILTINS[analysis].split(":")
        book = getattr(_import(module), func)

        def builtin(dataset: Dataset, client: Any) -> Mapping[str, Any]:
            import hepflow

            return dict(book(hepflow.RDataFrame(dataset, client=client)))
        return analysis, builtin
    path = Path(analysis)
    if not path.is_file():
        raise PlanError(f"{analysis!r} is neither a built-in benchmark "
                        f"({', '.join(BUILTINS)}) nor an analysis file")

    def from_file(dataset: Dataset, client: Any) -> Mapping[str, Any]:
        from hepflow.analysis import load

        return load(path, dataset)
    return str(path), from_file


def bench_files(sample_dir: str | os.PathLike[str], events: int, files: int) -> list[str]:
    """The generated benchmark sample (made once, as `python -m benchmarks.dimuon` does)."""
    ensure_sample = _import("benchmarks.dimuon").ensure_sample
    outdir = Path(sample_dir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    return list(ensure_sample(outdir, events, files))


def load_dataset(config: ScalingConfig) -> Dataset:
    """The configured dataset: a spec file, ROOT files, or the generated benchmark sample."""
    spec = config.dataset
    if spec is None:
        return Dataset.from_files(bench_files(config.sample_dir, config.events, config.files),
                                  "Events")
    if isinstance(spec, str) and spec.endswith((".yaml", ".yml", ".json")):
        return Dataset.load(spec)
    from hepflow.dataset.files import expand_files

    names = [spec] if isinstance(spec, str) else list(spec)
    return Dataset.from_files(expand_files(names), "Events")


def _entries(url: str, tree: str) -> int:
    import uproot

    with uproot.open(url) as f:
        return int(f[tree].num_entries)


def subset_dataset(dataset: Dataset, fraction: float) -> Dataset:
    """The first `fraction` of each sample: whole files when there are enough, else entries."""
    if fraction >= 1.0:
        return dataset
    samples = []
    for sample in dataset:
        files = sample.files
        keep = len(files) * fraction
        chosen: list[FileSpec] = []
        if len(files) >= 1 / fraction and abs(keep - round(keep)) < 1e-9:
            chosen.extend(files[:round(keep)])
        else:  # fewer files than the fraction's denominator: cut each file's entries
            for f in files:
                start = f.entry_start or 0
                stop = f.entry_stop if f.entry_stop is not None else _entries(f.url, f.tree)
                n = max(1, round((stop - start) * fraction))
                chosen.append(FileSpec(f.replicas, f.tree, start, start + n))
        samples.append(Sample(sample.name, tuple(chosen), sample.metadata))
    return Dataset(tuple(samples))


# -- measuring ------------------------------------------------------------------------------


def _noop(i: int) -> int:
    return i


def measure_task_overhead(client: Any, tasks: int = 1000) -> float:
    """Seconds of scheduler + worker overhead per trivial task (best of two batches).

    With every worker taking tasks, the batch's wall time is set by how fast
    the scheduler hands them out: this is the per-task cost that bounds how
    many chunks per second any number of workers can get.
    """
    if tasks <= 0:
        return 0.0
    best = float("inf")
    for attempt in range(2):
        start = time.perf_counter()
        futures = client.map(_noop, range(tasks), pure=False, key=[
            f"hepflow-overhead-{attempt}-{i}-{time.time_ns()}" for i in range(tasks)])
        client.gather(futures)
        best = min(best, (time.perf_counter() - start) / tasks)
        del futures
    return best


def _handles_infos(handles: Mapping[str, Any]) -> list[Any]:
    infos: dict[int, Any] = {}
    for handle in handles.values():
        info = handle.run_info() if hasattr(handle, "run_info") else None
        if info is not None:
            infos[id(info)] = info
    return list(infos.values())


def run_once(client: Any, book: Booker, dataset: Dataset) -> dict[str, Any]:
    """Book and compute the analysis once on `client`'s cluster; timings and breakdown."""
    from hepflow.analysis import compute
    from hepflow.observe import plugin

    marker = plugin.mark(client)
    with dask.config.set({"hepflow.progress-min-chunks": 1 << 60}):
        start = time.perf_counter()
        handles = book(dataset, client)
        built = time.perf_counter()
        compute(handles)
        done = time.perf_counter()
    infos = _handles_infos(handles)
    chunks = sum(i.chunks for i in infos)
    expected = sum(i.entries_processed for i in infos)
    merged = plugin.wait_for_chunks(client, marker, chunks)
    return {
        "wall_s": done - start, "build_s": built - start, "compute_s": done - built,
        "entries": expected, "chunks": chunks, "entries_seen": merged["entries"],
        "accounting_ok": merged["entries"] == expected and merged["chunks"] == chunks,
        "chunk_span_s": merged["wall_seconds"], "breakdown": merged["breakdown"],
        "bytes_compressed": merged["bytes_compressed"],
        "busy_s": merged["seconds"]["total"],
        "workers_used": len(merged["workers"]),
        "chunk_costs": merged["chunk_costs"],
        "events_per_s": expected / (done - start) if done > start else 0.0,
    }


def _point(n: int, reps: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in reps]
    median = statistics.median(walls)
    middle = sorted(reps, key=lambda r: r["wall_s"])[len(reps) // 2]
    quartiles = np.percentile(walls, [25, 75]) if len(walls) > 1 else [median, median]
    costs = [c for r in reps for c in r["chunk_costs"]]
    seconds = [c[2] for c in costs]
    return {
        "workers": n, "entries": reps[0]["entries"], "chunks": reps[0]["chunks"],
        "median_s": median, "min_s": min(walls), "max_s": max(walls),
        "iqr_s": float(quartiles[1] - quartiles[0]),
        "spread": (max(walls) - min(walls)) / median if median else 0.0,
        "events_per_s": reps[0]["entries"] / median if median else 0.0,
        "build_median_s": statistics.median(r["build_s"] for r in reps),
        "compute_median_s": statistics.median(r["compute_s"] for r in reps),
        "chunk_span_median_s": statistics.median(r["chunk_span_s"] for r in reps),
        # booking, submitting, the last merges and the gather: outside every chunk
        "outside_chunks_median_s": statistics.median(max(0.0, r["wall_s"] - r["chunk_span_s"])
                                                     for r in reps),
        "breakdown": middle["breakdown"],
        "accounting_ok": all(r["accounting_ok"] for r in reps),
        "chunk_cost": {
            "median_s": statistics.median(seconds) if seconds else 0.0,
            "mean_s": statistics.fmean(seconds) if seconds else 0.0,
            "entries": statistics.fmean(c[0] for c in costs) if costs else 0.0,
            "bytes": statistics.fmean(c[1] for c in costs) if costs else 0.0,
        },
        "repeats": [{k: v for k, v in r.items() if k != "chunk_costs"} for r in reps],
    }


# -- fitting --------------------------------------------------------------------------------


def amdahl_fit(workers: Sequence[int], seconds: Sequence[float]) -> dict[str, float]:
    """Least-squares T(n) = a + b / n: serial seconds a, parallel seconds b, s = a / (a + b)."""
    n = np.asarray(workers, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if len(set(workers)) < 2:
        return {"serial_s": 0.0, "parallel_s": float(t.mean() * n.mean()),
                "serial_fraction": float("nan")}
    design = np.column_stack([np.ones_like(n), 1.0 / n])
    (a, b), *_ = np.linalg.lstsq(design, t, rcond=None)
    if a < 0:  # faster than ideal: no serial part, refit the parallel part alone
        a, b = 0.0, float(np.dot(t, 1.0 / n) / np.dot(1.0 / n, 1.0 / n))
    if b < 0:
        a, b = float(t.mean()), 0.0
    return {"serial_s": float(a), "parallel_s": float(b),
            "serial_fraction": float(a / (a + b)) if a + b > 0 else float("nan")}


def gustafson_fit(workers: Sequence[int], speedups: Sequence[float]) -> float:
    """Least-squares serial fraction s of S(n) = n - s (n - 1) (scaled speed-up)."""
    n = np.asarray(workers, dtype=float)
    s = np.asarray(speedups, dtype=float)
    x = n - 1.0
    if not np.any(x):
        return float("nan")
    return float(np.clip(np.dot(x, n - s) / np.dot(x, x), 0.0, 1.0))


def summarize(points: list[dict[str, Any]], mode: Mode) -> dict[str, Any]:
    """Speed-up and efficiency per point, and the fitted curves (in place and returned)."""
    points.sort(key=lambda p: p["workers"])
    base = points[0]
    n0 = base["workers"]
    for p in points:
        if mode == "strong":
            p["speedup"] = n0 * base["median_s"] / p["median_s"] if p["median_s"] else 0.0
            p["speedup_best"] = n0 * base["min_s"] / p["min_s"] if p["min_s"] else 0.0
        else:
            p["speedup"] = (n0 * p["events_per_s"] / base["events_per_s"]
                            if base["events_per_s"] else 0.0)
            p["speedup_best"] = (n0 * p["entries"] / p["min_s"] * base["min_s"]
                                 / base["entries"] if p["min_s"] and base["entries"] else 0.0)
        p["efficiency"] = p["speedup"] / p["workers"]
        p["efficiency_best"] = p["speedup_best"] / p["workers"]
        # A chunk taking longer with more workers means they share CPUs, disks or the
        # network: on a shared machine this, not hepflow, often sets the speed-up.
        base_chunk = base["chunk_cost"]["mean_s"]
        p["chunk_slowdown"] = p["chunk_cost"]["mean_s"] / base_chunk if base_chunk else 1.0
    workers = [p["workers"] for p in points]
    top = max(workers)
    grid = sorted({*np.unique(np.geomspace(1, top, num=40).round().astype(int)).tolist(),
                   *workers})
    fit: dict[str, Any] = {"workers": grid, "ideal": [float(n) for n in grid],
                           "ideal_eff": [1.0 for _ in grid]}
    if mode == "strong":
        amdahl = amdahl_fit(workers, [p["median_s"] for p in points])
        a, b = amdahl["serial_s"], amdahl["parallel_s"]
        t_ref = a + b / n0
        curve = [n0 * t_ref / (a + b / n) if a + b / n > 0 else float(n) for n in grid]
        fit.update(model="amdahl", **amdahl,
                   max_speedup=(n0 * t_ref / a) if a > 0 else float("inf"))
    else:
        s = gustafson_fit(workers, [p["speedup"] for p in points])
        curve = [n - (0.0 if np.isnan(s) else s) * (n - 1) for n in grid]
        fit.update(model="gustafson", serial_fraction=s)
    fit["amdahl"] = curve
    fit["amdahl_eff"] = [c / n for c, n in zip(curve, grid, strict=True)]
    return fit


# -- the runner -----------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    return package_versions(("hepflow", "dask", "distributed", "dask-awkward", "uproot",
                             "awkward", "numpy"))


def run_scaling(config: ScalingConfig, client: Any = None,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the scaling benchmark and return what `scaling.json` holds.

    `client`: run on this client's cluster, resized between points with
    `cluster.scale(n)` (or, without a cluster object, only at its current
    size); otherwise on `config.scheduler` (its current size only), else on
    one new LocalCluster per worker count (see `hepflow.bench.pools`).
    """
    from hepflow.bench.model import predict
    from hepflow.bench.pools import make_pool
    from hepflow.observe import plugin

    label, book = resolve_analysis(config.analysis)
    dataset = load_dataset(config)
    sizes = sorted(set(config.workers))
    top = sizes[-1]
    datasets = {n: dataset if config.mode == "strong" else subset_dataset(dataset, n / top)
                for n in sizes}
    settings = {"hepflow.chunk-entries": config.chunk_entries} if config.chunk_entries else {}
    reps: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    pool = make_pool(sizes, client, config.scheduler, log)
    try:
        log(f"scaling: {config.mode} scaling of {label} on {sizes} workers ({pool.kind})")

        def timed(n: int, r: int) -> None:
            c = pool.client_for(n)
            with c.as_current():
                rep = run_once(c, book, datasets[n])
            reps[n].append(rep)
            log(f"scaling: {n} workers, run {r + 1}/{config.repeat}: {rep['wall_s']:.3f} s, "
                f"{rep['events_per_s']:,.0f} events/s on {rep['workers_used']} workers"
                + ("" if rep["accounting_ok"] else "  ACCOUNTING MISMATCH"))

        def warm(n: int) -> None:
            c = pool.client_for(n)
            for i in range(config.warmup):
                with c.as_current():
                    rep = run_once(c, book, dataset)
                log(f"scaling: warm-up {i + 1} on {n} workers: {rep['wall_s']:.2f} s")

        with dask.config.set(settings):
            if pool.interleave:  # every size at once: spread load bursts over all points
                for n in sizes:
                    warm(n)
                for r in range(config.repeat):
                    for n in sizes:
                        timed(n, r)
            else:  # one size at a time
                for n in sizes:
                    warm(n)
                    for r in range(config.repeat):
                        timed(n, r)
            biggest = pool.client_for(top)
            overhead = measure_task_overhead(biggest, config.overhead_tasks)
        points = [_point(n, reps[n]) for n in sizes]
        fit = summarize(points, config.mode)
        result: dict[str, Any] = {
            "benchmark": "scaling", "analysis": label, "mode": config.mode,
            "workers": sizes, "repeat": config.repeat, "warmup": config.warmup,
            "config": asdict(config), "created": time.time(),
            "cluster": {"kind": pool.kind, "interleaved": pool.interleave,
                        "dashboard": biggest.dashboard_link},
            "machine": machine_info(loadavg=list(os.getloadavg())
                                    if hasattr(os, "getloadavg") else None),
            "versions": _versions(), "task_overhead_s": overhead,
            "split_every": int(dask.config.get("hepflow.split-every")),
            "points": points, "fit": fit, "phases": list(BREAKDOWN_ORDER),
        }
        result["model"] = predict(result)
        for c in pool.clients():
            plugin.publish_scaling(c, light(result))
        return result
    finally:
        pool.close()


def light(result: Mapping[str, Any]) -> dict[str, Any]:
    """The scaling result without per-repetition details, for the dashboard page."""
    return {"analysis": result["analysis"], "mode": result["mode"], "fit": result["fit"],
            "points": [{k: v for k, v in p.items() if k not in ("repeats", "breakdown")}
                       for p in result["points"]]}


def format_table(result: Mapping[str, Any]) -> str:
    """The points as a text table, and the fit's verdict."""
    lines = [f"{result['mode']} scaling of {result['analysis']} ({result['repeat']} timed runs "
             "per point; seconds; speed-up and efficiency of the medians, `best` of the "
             "fastest runs)",
             f"{'workers':>7} {'entries':>11} {'median':>8} {'min':>8} {'max':>8} "
             f"{'spread':>7} {'events/s':>11} {'speed-up':>8} {'effic.':>7} {'best':>11} "
             f"{'idle':>6} {'chunk slowdown':>14}"]
    for p in result["points"]:
        total = sum(p["breakdown"].values()) or 1.0
        lines.append(
            f"{p['workers']:>7} {p['entries']:>11,} {p['median_s']:>8.3f} {p['min_s']:>8.3f} "
            f"{p['max_s']:>8.3f} {100 * p['spread']:>6.0f}% {p['events_per_s']:>11,.0f} "
            f"{p['speedup']:>8.2f} {100 * p['efficiency']:>6.0f}% "
            f"{p['speedup_best']:>5.2f} ({100 * p['efficiency_best']:>3.0f}%) "
            f"{100 * p['breakdown'].get('idle', 0.0) / total:>5.0f}% "
            f"{p['chunk_slowdown']:>13.2f}x")
    fit = result["fit"]
    s = fit.get("serial_fraction")
    if s is not None and not np.isnan(s):
        lines.append(f"{fit['model']} fit: serial fraction {s:.3f}"
                     + (f" (at most x{fit['max_speedup']:.1f} faster than 1 worker)"
                        if fit.get("max_speedup", float("inf")) != float("inf") else ""))
    lines.append(f"scheduler overhead per task: {1e3 * result['task_overhead_s']:.2f} ms")
    slow = max(result["points"], key=lambda p: p["chunk_slowdown"])
    if slow["chunk_slowdown"] > 1.3:
        lines.append(f"note: a chunk took {slow['chunk_slowdown']:.1f}x as long on "
                     f"{slow['workers']} workers as on {result['points'][0]['workers']}: the "
                     "workers compete for CPUs, disk or memory bandwidth; without that the "
                     f"speed-up would be about x{slow['speedup'] * slow['chunk_slowdown']:.2f}")
    if not all(p["accounting_ok"] for p in result["points"]):
        lines.append("WARNING: the plugin's entry counts differ from the runs' accounting")
    return "\n".join(lines)


__all__ = ["BUILTINS", "ScalingConfig", "amdahl_fit", "bench_files", "format_table",
           "gustafson_fit", "light", "load_dataset", "measure_task_overhead",
           "resolve_analysis", "run_once", "run_scaling", "subset_dataset", "summarize"]
