"""Wide-file benchmark (issue 8): the dimuon analysis on NanoAOD-width files.

Run as ``python -m benchmarks.wide [--events-per-file 50000 --files 8 --widths 200,1500
--workers 2 --repeat 3 --outdir DIR --json PATH]``.

Real NanoAOD files carry about 1,500 branches and an analysis reads a handful;
every reader that opens the file and parses its TTree per chunk pays for all of
them. For each width W this generates (once, reused while a manifest matches)
``--files`` ZSTD files of ``--events-per-file`` events padded to W branches in
total with ``hepflow.samples.make_sample(..., branches=W)``, and runs the
dimuon analysis of ``benchmarks.dimuon`` (the same ``run_hepflow`` and
``run_hand_written`` functions, and coffea's Runner if coffea imports) on ONE
``hepflow.cluster.local_cluster``:

* ``hepflow-cold``: hepflow with an empty preprocessing cache -- a fresh
  ``HEPFLOW_CACHE_DIR`` (read by the client, which caches preprocessing; the
  new workers inherit it too) -- on new worker processes, so no worker holds an
  open file or anything it learned before;
* ``hepflow-warm``: the same cache, now filled by the cold run, again on new
  worker processes (per-worker caches empty);
* ``hepflow-hot``: right after the warm run, on the same workers (whatever
  they kept from the warm run may be reused);
* ``hand-written``: uproot.dask (``open_files=False``) + dask-awkward +
  hist.dask on new worker processes; ``hand-written-hot`` the same right after,
  on the same workers;
* ``coffea``: coffea's ``processor.Runner`` + ``DaskExecutor`` on new worker
  processes, only if coffea can be imported.

"New worker processes": the one cluster is scaled to zero workers and back
(``client.restart()`` hangs after a few calls with this distributed, see
``Recycler``). The new workers then import the analysis libraries (untimed;
skip with ``--cold-imports``), so that Python's import time stays out of the
numbers. Every width first gets one untimed warm-up of each implementation
(client imports, page cache; hepflow's warm-up uses a throw-away cache
directory). The timed runs are interleaved: for each repetition, for each
width, every variant in the order above.

Each result is checked against a reference computed in this process with
``uproot.open`` + ``TTree.arrays`` of the six needed branches (count equal,
histogram equal bin for bin, flow bins included); any difference is printed as
MISMATCH and makes the exit status 1. The table gives, per width, the ratios
hepflow / hand-written (cold, warm, and hot / hand-written-hot) and hepflow at
the widest over the narrowest width, next to issue 8's targets (warm <= 0.15,
cold <= 0.6, width ratio <= 1.3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.dimuon import (
    BRANCHES,
    COMPRESSION,
    HIGH,
    LOW,
    MOVED_FRACTION,
    NBINS,
    SEED,
    TREE,
    Outcome,
    _versions,
    coffea_runner_available,
    compare,
    run_coffea,
    run_hand_written,
    run_hepflow,
    write_summary,
)
from hepflow.bench.smoke import sized
from hepflow.observe.environment import machine_info

MANIFEST = "benchmark-sample.json"
#: Modules new workers import (untimed), unless --cold-imports.
PREIMPORT = ("numpy", "awkward", "uproot", "dask_awkward", "hist", "dask_histogram",
             "hepflow", "hepflow.engine", "hepflow.io")
#: Issue 8's targets.
TARGET_WARM, TARGET_COLD, TARGET_WIDTH = 0.15, 0.6, 1.3
#: The timed variants, in the order they run within a repetition.
VARIANTS = ("hepflow-cold", "hepflow-warm", "hepflow-hot", "hand-written", "hand-written-hot",
            "coffea")


# -- the samples ---------------------------------------------------------------------------


def ensure_wide_sample(outdir: Path, events_per_file: int, files: int, branches: int,
                       seed: int = SEED, root_python: str | None = None,
                       ) -> tuple[list[str], dict[str, Any]]:
    """The sample's files and facts about them, generated once and reused while the
    manifest matches the arguments.

    With `root_python` (an interpreter with PyROOT) ROOT itself writes the files,
    through benchmarks/root_nanoaod.py: TBranch v13 with class references and
    each branch's last basket embedded in the TTree key, as CMSSW's NanoAOD.
    """
    generator = "benchmarks/root_nanoaod.py (ROOT, embedded baskets)" if root_python else \
        "hepflow.samples.make_sample"
    wanted = {"events": events_per_file * files, "events_per_file": events_per_file,
              "files": files, "branches": branches, "seed": seed, "compression": COMPRESSION,
              "generator": generator}
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = outdir / MANIFEST
    try:
        found = json.loads(manifest.read_text())
    except (OSError, ValueError):
        found = None
    if found is not None and found.get("config") == wanted:
        paths = [outdir / name for name in found.get("files", [])]
        if len(paths) == files and all(p.is_file() for p in paths):
            print(f"sample: reusing {files} files x {events_per_file:,} events x "
                  f"{found['facts']['branches']} branches in {outdir}")
            return [str(p) for p in paths], found["facts"]
    from hepflow.samples import make_sample

    print(f"sample: generating {files} {COMPRESSION} files x {events_per_file:,} events x "
          f"{branches} branches in {outdir} with {generator} ...", flush=True)
    manifest.unlink(missing_ok=True)
    start = time.perf_counter()
    if root_python:
        paths = [outdir / f"root-nanoaod-{i:03d}.root" for i in range(files)]
        writer = Path(__file__).resolve().parent / "root_nanoaod.py"
        subprocess.run([root_python, str(writer), *map(str, paths), "--events",
                        str(events_per_file), "--branches", str(branches), "--embedded",
                        "--compression", "505", "--seed", str(seed)], check=True)
    else:
        paths = make_sample(outdir, events=events_per_file * files, files=files, seed=seed,
                            compression=COMPRESSION, branches=branches)
    seconds = time.perf_counter() - start
    import uproot

    with uproot.open(paths[0]) as f:
        n_branches = len(f[TREE].keys(recursive=True))
    facts = {"branches": n_branches, "bytes": sum(p.stat().st_size for p in paths),
             "generated_s": round(seconds, 1)}
    print(f"sample: done in {seconds:.1f} s ({n_branches} branches, "
          f"{facts['bytes'] / 1e6:.0f} MB)")
    manifest.write_text(json.dumps({"config": wanted, "facts": facts,
                                    "files": [p.name for p in paths]}, indent=1))
    return [str(p) for p in paths], facts


# -- the reference and the workers ------------------------------------------------------------


def run_reference(files: Sequence[str]) -> Outcome:
    """The analysis on ``uproot.open`` + ``TTree.arrays``, file after file, in this process."""
    import awkward as ak
    import hist
    import uproot

    start = time.perf_counter()
    h = hist.Hist.new.Reg(NBINS, LOW, HIGH, name="m").Double()
    count = 0
    for path in files:
        with uproot.open(path) as f:
            events = f[TREE].arrays(list(BRANCHES))
        two = events[events.nMuon == 2]
        sel = two[two.Muon_charge[:, 0] != two.Muon_charge[:, 1]]
        pt, eta, phi, mass = (ak.values_astype(sel[n], np.float64)
                              for n in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        e = np.sqrt(px * px + py * py + pz * pz + mass * mass)
        sx, sy, sz, se = (ak.to_numpy(c[:, 0] + c[:, 1]) for c in (px, py, pz, e))
        h.fill(np.sqrt(se * se - sx * sx - sy * sy - sz * sz))
        count += len(sel)
    return Outcome(0.0, time.perf_counter() - start, count, h)


def _preimport() -> list[str]:
    """Run on each worker: import the analysis libraries; the names that failed."""
    import importlib

    failed = []
    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            failed.append(name)
    return failed


def _cache_env() -> str | None:
    return os.environ.get("HEPFLOW_CACHE_DIR")


def _n_tasks(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


def _environ(keys: list[str]) -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in keys}


class Recycler:
    """Replaces every worker of the one cluster with a new process.

    ``client.restart()`` would be the obvious way, but with distributed 2025.3
    repeated restarts hang: after 3 to 6 of them the workers never reconnect
    (dask/distributed#8534; reproduced here with a plain ``LocalCluster`` too,
    and with ``client.restart_workers``). So the cluster is scaled to zero
    workers and back: the same scheduler, client and cluster, new worker
    processes (no open files, no per-worker caches). The new nannies are given
    the spawn environment the cluster's first workers had (``local_cluster``
    leaves out ``MALLOC_TRIM_THRESHOLD_``), as seen from inside those workers.
    """

    def __init__(self, cluster: Any, client: Any, n_workers: int, preimport: bool) -> None:
        import dask

        self.cluster, self.client, self.n = cluster, client, n_workers
        self.preimport = preimport
        self.keys = sorted(dask.config.get("distributed.nanny.pre-spawn-environ",
                                           default={}) or {})
        self.initial = self._seen()
        self.spawn_env = {k: v for k, v in self.initial.items() if v is not None}
        self.count = 0

    def _seen(self) -> dict[str, str | None]:
        seen = {tuple(sorted(env.items(), key=str))
                for env in self.client.run(_environ, self.keys).values()}
        if len(seen) != 1:
            raise RuntimeError(f"workers started with different environments: {seen}")
        return dict(next(iter(seen)))

    def __call__(self) -> None:
        import dask

        before = set(self.client.run(os.getpid).values())
        # Let the scheduler forget the last run's results (their release is asynchronous)
        # so that removing the workers does not warn about losing them.
        deadline = time.monotonic() + 2
        while self.client.run_on_scheduler(_n_tasks) and time.monotonic() < deadline:
            time.sleep(0.05)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": self.spawn_env}):
            self.cluster.scale(0)
            deadline = time.monotonic() + 120
            while self.cluster.workers or self.client.nthreads():
                if time.monotonic() > deadline:
                    raise TimeoutError("workers did not stop within 120 s")
                time.sleep(0.05)
            self.cluster.scale(self.n)
            self.client.wait_for_workers(self.n, timeout=120)
        pids = set(self.client.run(os.getpid).values())
        if pids & before or len(pids) != self.n:
            raise RuntimeError(f"worker processes were not replaced: {before} -> {pids}")
        if self._seen() != self.initial:
            raise RuntimeError(f"recycled workers' environment {self._seen()} differs from "
                               f"the first workers' {self.initial}")
        if self.preimport:
            self.client.run(_preimport)
        self.count += 1


def files_under(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


# -- driving ---------------------------------------------------------------------------------


def stats_of(runs: list[Outcome]) -> dict[str, Any]:
    totals = [r.total_s for r in runs]
    return {
        "total_s": totals,
        "build_s": [r.build_s for r in runs],
        "compute_s": [r.compute_s for r in runs],
        "best_total_s": min(totals),
        "median_total_s": statistics.median(totals),
        "best_build_s": min(r.build_s for r in runs),
        "best_compute_s": min(r.compute_s for r in runs),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.wide", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events-per-file", type=int, default=sized(50_000, 10_000),
                   help="events per file")
    p.add_argument("--files", type=int, default=sized(8, 2), help="files per sample")
    p.add_argument("--widths", default="200,1500",
                   help="comma-separated total branch counts, one sample each (default 200,1500)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster process workers")
    p.add_argument("--repeat", type=int, default=sized(3, 1), help="timed runs of each variant")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample/wide"),
                   help="where the samples are generated and cached, one folder per width "
                        "(default ./bench-sample/wide, ignored by git)")
    p.add_argument("--chunk-entries", type=int, default=None,
                   help="hepflow chunk size in entries (default: hepflow's configured one)")
    p.add_argument("--steps-per-file", type=int, default=None,
                   help="uproot.dask partitions per file for the hand-written version "
                        "(default: as many as hepflow's chunks per file)")
    p.add_argument("--cold-imports", action="store_true",
                   help="do not import the analysis libraries on new workers: the first "
                        "tasks of a run on new workers then pay for the imports")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    p.add_argument("--root-python", default=None,
                   help="a Python with PyROOT (e.g. a venv with `pip install root`): ROOT "
                        "itself then writes the files (benchmarks/root_nanoaod.py), with "
                        "embedded baskets like CMSSW's NanoAOD; they go to OUTDIR/root-*")
    return p.parse_args(argv)


def _fmt_ratio(value: float | None, target: float | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}"
    if target is not None:
        text += " ok" if value <= target else " MISS"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    widths = sorted({int(w) for w in args.widths.split(",") if w.strip()})
    if not widths:
        raise SystemExit("--widths needs at least one width")
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    samples: dict[int, list[str]] = {}
    facts: dict[int, dict[str, Any]] = {}
    for width in widths:
        folder = f"root-branches-{width}" if args.root_python else f"branches-{width}"
        samples[width], facts[width] = ensure_wide_sample(
            outdir / folder, args.events_per_file, args.files, width,
            root_python=args.root_python)
    events = args.events_per_file * args.files

    import dask
    import distributed

    import hepflow
    from hepflow.cluster import local_cluster

    chunk_entries = args.chunk_entries or hepflow.Options().cut_entries
    coffea_ok, coffea_why = coffea_runner_available()
    if not coffea_ok:
        print(f"coffea: skipped -- {coffea_why}")
    preimport = not args.cold_imports
    saved_env = os.environ.get("HEPFLOW_CACHE_DIR")
    cache_root = Path(tempfile.mkdtemp(prefix="hepflow-cache-", dir=outdir))
    runs: dict[int, dict[str, list[Outcome]]] = {w: {v: [] for v in VARIANTS} for w in widths}
    warmups: dict[int, dict[str, Outcome]] = {w: {} for w in widths}
    references: dict[int, Outcome] = {}
    steps: dict[int, int] = {}
    chunks: dict[int, int] = {}
    notes: list[str] = []
    failed_coffea: str | None = None

    def use_cache(path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        os.environ["HEPFLOW_CACHE_DIR"] = str(path)

    def timed(width: int, variant: str, func: Callable[[], Outcome], rep: int) -> Outcome:
        outcome = func()
        runs[width][variant].append(outcome)
        print(f"run {rep + 1}/{args.repeat} width {width:5d}: {variant:17s} total "
              f"{outcome.total_s:7.3f} s (build {outcome.build_s:.3f} s, compute "
              f"{outcome.compute_s:.3f} s)", flush=True)
        return outcome

    load_before = os.getloadavg()
    try:
        with local_cluster(args.workers) as cluster, distributed.Client(cluster) as client, \
                dask.config.set({"hepflow.progress-min-chunks": 10**9}):
            print(f"cluster: {args.workers} process workers x 1 thread, dashboard "
                  f"{client.dashboard_link}")
            fresh_workers = Recycler(cluster, client, args.workers, preimport)
            print(f"workers' spawn environment: {fresh_workers.initial}")
            if preimport:
                missing = sorted({n for r in client.run(_preimport).values() for n in r})
                if missing:
                    notes.append(f"workers could not import {missing}")
            # -- per width: the reference, hepflow's chunk count, untimed warm-ups --
            for width in widths:
                files = samples[width]
                references[width] = ref = run_reference(files)
                print(f"width {width}: uproot arrays() reference {ref.total_s:.2f} s in one "
                      f"process, count {ref.count:,}")
                # hepflow's chunks, for an equal partition count: in this process (no
                # futures left on the workers) and without reading or writing any cache
                prepared = hepflow.preprocess(hepflow.Dataset.from_files(files, TREE), None,
                                              chunk_entries=chunk_entries, use_cache=False)
                chunks[width] = len(prepared.chunks)
                steps[width] = args.steps_per_file or max(1, -(-chunks[width] // args.files))
                print(f"width {width}: hepflow makes {chunks[width]} chunks; hand-written "
                      f"uses steps_per_file={steps[width]}")
                use_cache(cache_root / f"warmup-{width}")
                for name, func in (
                        ("hepflow", lambda f=files: run_hepflow(f, client, chunk_entries)),
                        ("hand-written", lambda f=files, w=width: run_hand_written(
                            f, client, steps[w])),
                        *((("coffea", lambda f=files: run_coffea(f, client, chunk_entries)),)
                          if coffea_ok and failed_coffea is None else ())):
                    fresh_workers()
                    print(f"warm-up width {width}: {name} ...", end=" ", flush=True)
                    try:
                        warmups[width][name] = func()
                    except Exception as exc:
                        if name != "coffea":
                            raise
                        failed_coffea = f"{type(exc).__name__}: {exc}"
                        print(f"failed ({failed_coffea}); dropping it")
                        continue
                    print(f"{warmups[width][name].total_s:.2f} s")

            # -- timed, interleaved --
            for rep in range(args.repeat):
                for width in widths:
                    files = samples[width]
                    cold_dir = cache_root / f"w{width}-r{rep}"
                    use_cache(cold_dir)
                    fresh_workers()
                    seen = set(client.run(_cache_env).values())
                    if seen != {str(cold_dir)}:
                        notes.append(f"width {width} run {rep + 1}: workers saw "
                                     f"HEPFLOW_CACHE_DIR={sorted(seen, key=str)}")
                    if files_under(cold_dir):
                        notes.append(f"width {width} run {rep + 1}: the cold cache directory "
                                     f"was not empty")

                    def hf(f: list[str] = files) -> Outcome:
                        return run_hepflow(f, client, chunk_entries)

                    timed(width, "hepflow-cold", hf, rep)
                    if not files_under(cold_dir):
                        notes.append(f"width {width} run {rep + 1}: the cold run wrote nothing "
                                     f"to HEPFLOW_CACHE_DIR -- it may not have been cold")
                    fresh_workers()
                    timed(width, "hepflow-warm", hf, rep)
                    timed(width, "hepflow-hot", hf, rep)

                    def hw(f: list[str] = files, s: int = steps[width]) -> Outcome:
                        return run_hand_written(f, client, s)

                    fresh_workers()
                    timed(width, "hand-written", hw, rep)
                    timed(width, "hand-written-hot", hw, rep)
                    if coffea_ok and failed_coffea is None:
                        fresh_workers()
                        timed(width, "coffea",
                              lambda f=files: run_coffea(f, client, chunk_entries), rep)
    finally:
        if saved_env is None:
            os.environ.pop("HEPFLOW_CACHE_DIR", None)
        else:
            os.environ["HEPFLOW_CACHE_DIR"] = saved_env
        shutil.rmtree(cache_root, ignore_errors=True)
    load_after = os.getloadavg()

    # -- results agree? --
    mismatches: list[str] = []
    for width in widths:
        ref = references[width]
        checked = [(f"warm-up {n}", o) for n, o in warmups[width].items()]
        checked += [(f"{v} run {i + 1}", o) for v, outs in runs[width].items()
                    for i, o in enumerate(outs)]
        for label, outcome in checked:
            mismatches.extend(f"width {width} {label}: {p}"  # float (hepflow) vs double
                              for p in compare(ref, outcome, MOVED_FRACTION))
    same_physics = len({references[w].count for w in widths}) == 1 and all(
        not compare(references[widths[0]], references[w]) for w in widths[1:])

    # -- report --
    results = {w: {v: stats_of(outs) for v, outs in runs[w].items() if outs} for w in widths}

    def ratio(a: dict[str, Any], b: dict[str, Any], x: str, y: str,
              key: str = "best_total_s") -> float | None:
        return a[x][key] / b[y][key] if x in a and y in b else None

    ratios: dict[str, dict[str, float | None]] = {}
    for w in widths:
        r = results[w]
        ratios[str(w)] = {
            "hepflow-cold/hand-written": ratio(r, r, "hepflow-cold", "hand-written"),
            "hepflow-warm/hand-written": ratio(r, r, "hepflow-warm", "hand-written"),
            "hepflow-hot/hand-written-hot": ratio(r, r, "hepflow-hot", "hand-written-hot"),
            "hepflow-cold/hand-written median": ratio(r, r, "hepflow-cold", "hand-written",
                                                      "median_total_s"),
            "hepflow-warm/hand-written median": ratio(r, r, "hepflow-warm", "hand-written",
                                                      "median_total_s"),
            "hepflow-cold/coffea": ratio(r, r, "hepflow-cold", "coffea"),
            "hepflow-warm/coffea": ratio(r, r, "hepflow-warm", "coffea"),
        }
    lo = widths[0]
    width_ratios: dict[str, dict[str, float | None]] = {}
    for w in widths[1:]:
        width_ratios[f"{w}/{lo}"] = {
            v: ratio(results[w], results[lo], v, v)
            for v in ("hepflow-cold", "hepflow-warm", "hepflow-hot", "hand-written",
                      "hand-written-hot", "coffea")}

    print()
    print(f"wide dimuon benchmark: {args.files} files x {args.events_per_file:,} events "
          f"({events:,}), {COMPRESSION}, {args.workers} process workers, {args.repeat} timed "
          f"runs each, hepflow chunk_entries={chunk_entries} (times in seconds)")
    header = (f"{'width':>5s} {'variant':17s} {'best':>8s} {'median':>8s} {'build':>7s} "
              f"{'compute':>8s} {'Mev/s':>6s}")
    print(header)
    print("-" * len(header))
    for w in widths:
        for v, st in results[w].items():
            print(f"{facts[w]['branches']:5d} {v:17s} {st['best_total_s']:8.3f} "
                  f"{st['median_total_s']:8.3f} {st['best_build_s']:7.3f} "
                  f"{st['best_compute_s']:8.3f} {events / st['best_total_s'] / 1e6:6.2f}")
    print()
    print(f"hepflow / hand-written, best of {args.repeat} (issue 8 targets, marked at the "
          f"widest width: cold <= {TARGET_COLD}, warm <= {TARGET_WARM})")
    header = f"{'width':>5s} {'cold':>11s} {'warm':>11s} {'hot/hot':>9s} {'cold med':>9s} " \
             f"{'warm med':>9s}"
    print(header)
    print("-" * len(header))
    for w in widths:
        r = ratios[str(w)]
        widest = w == widths[-1]  # the targets are for the NanoAOD width
        cold = _fmt_ratio(r["hepflow-cold/hand-written"], TARGET_COLD if widest else None)
        warm = _fmt_ratio(r["hepflow-warm/hand-written"], TARGET_WARM if widest else None)
        print(f"{facts[w]['branches']:5d} {cold:>11s} {warm:>11s}"
              f" {_fmt_ratio(r['hepflow-hot/hand-written-hot']):>9s}"
              f" {_fmt_ratio(r['hepflow-cold/hand-written median']):>9s}"
              f" {_fmt_ratio(r['hepflow-warm/hand-written median']):>9s}")
    for key, per in width_ratios.items():
        print()
        print(f"width {key}, best of {args.repeat} (issue 8 target for hepflow: <= "
              f"{TARGET_WIDTH})")
        for v, value in per.items():
            target = TARGET_WIDTH if v.startswith("hepflow") else None
            if value is not None:
                print(f"  {v:17s} {_fmt_ratio(value, target)}")
    print()
    cpus = os.cpu_count() or 1
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
          f"{cpus} CPUs")
    spread = {f"{w} {v}": max(st["total_s"]) / min(st["total_s"])
              for w in widths for v, st in results[w].items()}
    noisy = [f"{k} {x:.1f}x" for k, x in spread.items() if x > 1.3]
    if noisy:
        print(f"note: noisy timings (slowest/fastest run: {', '.join(noisy)}); compare best-of "
              f"values, or rerun on a quiet machine")
    for note in notes:
        print(f"note: {note}")
    if mismatches:
        for m in mismatches:
            print(f"MISMATCH {m}")
    else:
        print("results agree: every run of every variant gives the uproot arrays() "
              "reference's count and histogram (" + ", ".join(
                  f"{facts[w]['branches']} branches: {references[w].count:,} events"
                  for w in widths) + f"; {NBINS} bins, flow included)")

    summary = {
        "benchmark": "wide",
        "config": {"events_per_file": args.events_per_file, "files": args.files,
                   "events": events, "widths": widths, "workers": args.workers,
                   "threads_per_worker": 1, "repeat": args.repeat,
                   "chunk_entries": chunk_entries, "hepflow_chunks": chunks,
                   "steps_per_file": steps, "preimport": preimport,
                   "compression": COMPRESSION, "seed": SEED, "bins": [NBINS, LOW, HIGH]},
        "samples": {str(w): {**facts[w], "files": samples[w]} for w in widths},
        "machine": machine_info(loadavg_before=load_before, loadavg_after=load_after),
        "versions": _versions(),
        "coffea": ("ran" if coffea_ok and failed_coffea is None
                   else failed_coffea or f"skipped: {coffea_why}"),
        "reference_s": {str(w): references[w].total_s for w in widths},
        "results": {str(w): results[w] for w in widths},
        "ratios": ratios,
        "width_ratios": width_ratios,
        "targets": {"warm": TARGET_WARM, "cold": TARGET_COLD, "width": TARGET_WIDTH},
        "spread": spread,
        "counts": {str(w): references[w].count for w in widths},
        "same_physics_across_widths": same_physics,
        "notes": notes,
        "match": not mismatches,
        "mismatches": mismatches,
    }
    write_summary(args.json, summary)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
