"""Dimuon-mass benchmark: hepflow against the same analysis hand-written with uproot.dask.

Run as ``python -m benchmarks.dimuon [--events 2000000 --files 8 --workers 2 --repeat 3]``.

The analysis is the RDataFrame tutorial's dimuon spectrum: events with exactly
two muons of opposite charge, the invariant mass of the pair (in float for
hepflow, as ROOT's InvariantMass of RVec<float>; in float64 for the others), filled
into a 30000-bin histogram from 0.25 to 300 GeV, computed together with the
number of selected events. It runs

* ``hepflow``: ``RDataFrame(...).Filter(...).Filter(...).Define(...)``, then
  ``Histo1D`` + ``Count`` (one pass);
* ``hand-written``: what a user would write without hepflow -- ``uproot.dask``
  (``open_files=False``, so files are opened on the workers) + dask-awkward +
  ``hist.dask`` (dask-histogram), computed with one ``dask.compute(hist, count)``;
* ``hand-written-defaults``: the same with uproot.dask's default
  ``open_files=True`` -- the literal first thing a user writes, and a trap on a
  distributed cluster: every task then carries the opened TTrees of all files
  (skip it with ``--no-defaults``);
* ``coffea``: a ``coffea.processor.Runner`` with a Dask executor, only if coffea
  can be imported (skipped otherwise);

all on ONE distributed ``LocalCluster`` (process workers, one thread each),
plus a floor reference: reading just the six needed branches with
``uproot.open`` + ``tree.arrays`` in this one process, file after file.

After one untimed warm-up run of each (page cache, worker imports), the timed
runs are interleaved (hepflow, hand-written, ..., floor, then again) so drifts
in machine load hit all of them alike. Each run is timed end to end: building
the lazy graph (for hand-written that includes ``uproot.dask`` opening every
file on the client when ``open_files=True``; for hepflow, preprocessing, which
after the warm-up comes from hepflow's on-disk cache) plus computing it; the
two phases are also reported separately. Results are checked: the counts must
be equal and the histograms equal bin for bin (``np.array_equal`` on the
values, flow bins included); any difference is printed as MISMATCH and makes
the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hepflow.bench.smoke import sized
from hepflow.observe.environment import machine_info, package_versions

TREE = "Events"
#: The branches the analysis needs (what the floor reference reads).
BRANCHES = ("nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge")
#: The histogram model: RDataFrame's df102 dimuon spectrum binning.
NBINS, LOW, HIGH = 30000, 0.25, 300.0
SEED = 12345
COMPRESSION = "ZSTD"
MANIFEST = "benchmark-sample.json"


# -- the sample ----------------------------------------------------------------------------


def ensure_sample(outdir: Path, events: int, files: int, seed: int = SEED) -> list[str]:
    """The sample's files, generated once and reused while the manifest matches."""
    wanted = {"events": events, "files": files, "seed": seed, "compression": COMPRESSION,
              "generator": "hepflow.samples.make_sample"}
    manifest = outdir / MANIFEST
    try:
        found = json.loads(manifest.read_text())
    except (OSError, ValueError):
        found = None
    if found is not None and found.get("config") == wanted:
        paths = [outdir / name for name in found.get("files", [])]
        if len(paths) == files and all(p.is_file() for p in paths):
            print(f"sample: reusing {files} files, {events:,} events in {outdir}")
            return [str(p) for p in paths]
    from hepflow.samples import make_sample

    print(f"sample: generating {events:,} events in {files} {COMPRESSION} files in {outdir} ...",
          flush=True)
    manifest.unlink(missing_ok=True)
    start = time.perf_counter()
    paths = make_sample(outdir, events=events, files=files, seed=seed, compression=COMPRESSION)
    print(f"sample: done in {time.perf_counter() - start:.1f} s")
    manifest.write_text(json.dumps({"config": wanted, "files": [p.name for p in paths]},
                                   indent=1))
    return [str(p) for p in paths]


# -- the implementations ---------------------------------------------------------------------


@dataclass
class Outcome:
    """One run: seconds to build the lazy graph, seconds to compute it, and the results."""

    build_s: float
    compute_s: float
    count: int | None = None
    hist: Any = None

    @property
    def total_s(self) -> float:
        return self.build_s + self.compute_s


def run_hepflow(files: Sequence[str], client: Any, chunk_entries: int | None) -> Outcome:
    import hepflow

    start = time.perf_counter()
    df = hepflow.RDataFrame(TREE, list(files), client=client, chunk_entries=chunk_entries)
    selected = (df.Filter("nMuon == 2", "two muons")
                  .Filter("Muon_charge[0] != Muon_charge[1]", "opposite charge")
                  .Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
    h = selected.Histo1D(("m", "m", NBINS, LOW, HIGH), "Dimuon_mass")
    n = selected.Count()
    built = time.perf_counter()
    hist_value = h.GetValue()  # runs the histogram and the count in one pass
    count = int(n.GetValue())
    done = time.perf_counter()
    return Outcome(built - start, done - built, count, hist_value)


def run_hand_written(files: Sequence[str], client: Any, steps_per_file: int,
                     open_files: bool = False) -> Outcome:
    """The idiomatic uproot.dask + dask-awkward + hist.dask version of the same analysis.

    ``open_files=False`` opens the files on the workers. With uproot's default
    (True) the client opens every file and every task's spec embeds the opened
    TTrees of *all* files (3.4 MB pickled per task for this sample, ~0.4 s to
    pickle and ~0.25 s to unpickle each), which dominates the run; both are timed.
    """
    import awkward as ak
    import dask
    import hist.dask
    import uproot

    start = time.perf_counter()
    events = uproot.dask({f: TREE for f in files}, steps_per_file=steps_per_file,
                         open_files=open_files)
    two = events[events.nMuon == 2]
    selected = two[two.Muon_charge[:, 0] != two.Muon_charge[:, 1]]
    pt, eta, phi, mass = (ak.values_astype(selected[name], np.float64)
                          for name in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))
    # Four-vectors in float64, summed over the pair: E^2 - |p|^2 of (mu1 + mu2).
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    sx, sy, sz, se = (c[:, 0] + c[:, 1] for c in (px, py, pz, energy))
    dimuon_mass = np.sqrt(se * se - sx * sx - sy * sy - sz * sz)
    h = hist.dask.Hist.new.Reg(NBINS, LOW, HIGH, name="m").Double().fill(dimuon_mass)
    n = ak.num(selected, axis=0)
    built = time.perf_counter()
    hist_value, count = dask.compute(h, n)  # on the default (distributed) client
    done = time.perf_counter()
    return Outcome(built - start, done - built, int(count), hist_value)


def coffea_runner_available() -> tuple[bool, str]:
    try:
        import coffea
        from coffea import processor
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        return False, f"coffea not importable ({type(exc).__name__}: {exc})"
    missing = [n for n in ("Runner", "DaskExecutor", "ProcessorABC") if not hasattr(processor, n)]
    if missing:
        return False, f"this coffea has no processor.{'/'.join(missing)}"
    return True, f"coffea {getattr(coffea, '__version__', '?')}"


def run_coffea(files: Sequence[str], client: Any, chunk_entries: int) -> Outcome:
    """coffea's (non-dask-awkward) processor.Runner with its Dask executor, BaseSchema columns."""
    import awkward as ak
    import hist
    from coffea import processor
    from coffea.nanoevents import BaseSchema

    class Dimuon(processor.ProcessorABC):
        def process(self, events: Any) -> dict[str, Any]:
            two = events[events.nMuon == 2]
            sel = two[two.Muon_charge[:, 0] != two.Muon_charge[:, 1]]
            pt, eta, phi, mass = (ak.values_astype(sel[n], np.float64)
                                  for n in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))
            px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
            e = np.sqrt(px * px + py * py + pz * pz + mass * mass)
            sx, sy, sz, se = (ak.to_numpy(c[:, 0] + c[:, 1]) for c in (px, py, pz, e))
            h = hist.Hist.new.Reg(NBINS, LOW, HIGH, name="m").Double()
            h.fill(np.sqrt(se * se - sx * sx - sy * sy - sz * sz))
            return {"m": h, "n": len(sel)}

        def postprocess(self, accumulator: Any) -> Any:
            return accumulator

    start = time.perf_counter()
    runner = processor.Runner(executor=processor.DaskExecutor(client=client),
                              schema=BaseSchema, chunksize=chunk_entries, savemetrics=False)
    built = time.perf_counter()
    out = runner({"sample": list(files)}, Dimuon(), treename=TREE)
    done = time.perf_counter()
    return Outcome(built - start, done - built, int(out["n"]), out["m"])


def run_floor(files: Sequence[str]) -> Outcome:
    """Reading just the needed branches, file after file, in this one process."""
    import uproot

    start = time.perf_counter()
    entries = 0
    for path in files:
        with uproot.open(path) as f:
            arrays = f[TREE].arrays(list(BRANCHES))
            entries += len(arrays)
    return Outcome(0.0, time.perf_counter() - start, None, None)


# -- checking --------------------------------------------------------------------------------


#: hepflow computes the mass in float, as ROOT's `InvariantMass<float>` does, the other
#: implementations in double: an event whose two masses straddle a bin edge is one bin
#: over (about 0.2 % of the events with 0.01 GeV bins). Allowed: at most this fraction of
#: the entries, each in a neighbouring bin.
MOVED_FRACTION = 0.01


def compare(reference: Outcome, other: Outcome, moved_fraction: float = 0.0) -> list[str]:
    """Differences between two runs' results (empty when they agree exactly, or up to
    `moved_fraction` of the entries each moved to a neighbouring bin)."""
    problems = []
    if reference.count != other.count:
        problems.append(f"count {reference.count} != {other.count}")
    a, b = reference.hist, other.hist
    edges_a, edges_b = np.asarray(a.axes[0].edges), np.asarray(b.axes[0].edges)
    if not np.array_equal(edges_a, edges_b):
        problems.append("the histograms' bin edges differ")
        return problems
    va, vb = np.asarray(a.values(flow=True)), np.asarray(b.values(flow=True))
    if not np.array_equal(va, vb) and not moved_one_bin(va, vb, moved_fraction, 0.0):
        diff = np.flatnonzero(va != vb)
        problems.append(f"{diff.size} of {va.size} bins differ (first at flow-index "
                        f"{diff[0]}: {va[diff[0]]} vs {vb[diff[0]]}; totals {va.sum()} vs "
                        f"{vb.sum()})")
    return problems


def weighted_bins_differ(label: str, a: np.ndarray, va: np.ndarray, b: np.ndarray,
                         vb: np.ndarray, rtol: float) -> str | None:
    """Why two weighted histograms (contents `a`, `b`; variances `va`, `vb`) differ beyond
    `rtol` (relative to each one's largest bin: filling order changes the last bits), or None."""
    ok = (np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max(initial=1.0))
          and np.allclose(va, vb, rtol=rtol, atol=rtol * np.abs(va).max(initial=1.0)))
    if ok:
        return None
    worst = int(np.argmax(np.abs(a - b)))
    return (f"{label}: bin {worst} {a[worst]!r} vs {b[worst]!r} "
            f"(totals {a.sum()!r} vs {b.sum()!r})")


def moved_one_bin(a: np.ndarray, b: np.ndarray, fraction: float, rtol: float) -> bool:
    """Whether `b` is `a` with at most `fraction` of its content moved to neighbouring bins.

    Each entry moved by one bin shifts the running sum of the bins by its weight
    once, so the summed shifts count the moved content.
    """
    total = float(np.abs(a).sum())
    if fraction <= 0.0 or not np.isclose(a.sum(), b.sum(), rtol=rtol, atol=rtol * total):
        return False
    return float(np.abs(np.cumsum(a) - np.cumsum(b)).sum()) <= fraction * total


# -- driving ---------------------------------------------------------------------------------


class Timed(Protocol):
    """What a series needs of a run's outcome (each benchmark has its own results)."""

    build_s: float
    compute_s: float

    @property
    def total_s(self) -> float: ...


@dataclass
class Series:
    """One implementation's warm-up and timed runs (shared by the benchmarks)."""

    name: str
    describe: str
    func: Callable[[], Any]
    warmup: Timed | None = None
    runs: list[Any] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        totals = [r.total_s for r in self.runs]
        best = min(self.runs, key=lambda r: r.total_s)
        return {
            "describe": self.describe,
            "total_s": totals,
            "build_s": [r.build_s for r in self.runs],
            "compute_s": [r.compute_s for r in self.runs],
            "warmup_total_s": self.warmup.total_s if self.warmup else None,
            "best_total_s": best.total_s,
            "best_build_s": min(r.build_s for r in self.runs),
            "best_compute_s": min(r.compute_s for r in self.runs),
            "median_total_s": statistics.median(totals),
            "median_compute_s": statistics.median(r.compute_s for r in self.runs),
        }


def write_summary(path: Path | None, summary: Mapping[str, Any]) -> None:
    """The JSON summary of a benchmark run, if one was asked for."""
    if path is not None:
        path.write_text(json.dumps(summary, indent=1))
        print(f"summary written to {path}")


def _versions() -> dict[str, str]:
    return package_versions(("hepflow", "dask", "distributed", "dask-awkward", "dask-histogram",
                             "uproot", "awkward", "hist", "numpy", "coffea"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dimuon", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=sized(2_000_000, 20_000),
                   help="events in the sample")
    p.add_argument("--files", type=int, default=sized(8, 2), help="files in the sample")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster process workers")
    p.add_argument("--repeat", type=int, default=sized(3, 1),
                   help="timed runs of each implementation")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"),
                   help="where the sample is generated and cached (default ./bench-sample)")
    p.add_argument("--steps-per-file", type=int, default=3,
                   help="uproot.dask partitions per file for the hand-written version "
                        "(default 3: the same 24 partitions as hepflow's default chunks "
                        "at the default size)")
    p.add_argument("--chunk-entries", type=int, default=None,
                   help="hepflow chunk size in entries (default: hepflow's configured one)")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    p.add_argument("--no-defaults", action="store_true",
                   help="skip the hand-written run with uproot.dask's default open_files=True "
                        "(slow: it ships every opened TTree in every task)")
    p.add_argument("--malloc-trim", action="store_true",
                   help="start the workers with distributed's default "
                        "MALLOC_TRIM_THRESHOLD_=65536 instead of hepflow's cluster setting "
                        "(a what-if; both implementations always share one cluster)")
    p.add_argument("--no-floor", action="store_true", help="skip the uproot read floor")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    # Keep hepflow's preprocessing cache next to the sample, not in ~/.cache.
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    files = ensure_sample(outdir, args.events, args.files)

    import dask
    import distributed

    from hepflow.options import Options

    chunk_entries = args.chunk_entries or Options().cut_entries
    coffea_ok, coffea_why = coffea_runner_available()

    from hepflow.cluster import local_cluster

    # hepflow's embedded cluster leaves out distributed's MALLOC_TRIM_THRESHOLD_=65536
    # (which makes glibc mmap/unmap every large array); both implementations share it.
    make_cluster = (lambda: distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True,
        dashboard_address=":0")) if args.malloc_trim else (lambda: local_cluster(args.workers))
    load_before = os.getloadavg()
    with make_cluster() as cluster, \
            distributed.Client(cluster) as client:
        trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        print(f"cluster: {args.workers} process workers x 1 thread, MALLOC_TRIM_THRESHOLD_="
              f"{sorted(set(trim.values()), key=str)}, dashboard {client.dashboard_link}")
        with dask.config.set({"hepflow.progress-min-chunks": 10**9}):
            series = [
                Series("hepflow", f"hepflow RDataFrame, chunk_entries={chunk_entries}",
                       lambda: run_hepflow(files, client, chunk_entries)),
                Series("hand-written", f"uproot.dask(steps_per_file={args.steps_per_file}) "
                       "+ dask-awkward + hist.dask, open_files=False",
                       lambda: run_hand_written(files, client, args.steps_per_file)),
            ]
            if not args.no_defaults:
                series.append(Series(
                    "hand-written-defaults", f"the same with uproot.dask's default "
                    f"open_files=True (steps_per_file={args.steps_per_file})",
                    lambda: run_hand_written(files, client, args.steps_per_file, True)))
            if coffea_ok:
                series.append(Series("coffea", f"coffea processor.Runner + DaskExecutor "
                                     f"({coffea_why})",
                                     lambda: run_coffea(files, client, chunk_entries)))
            else:
                print(f"coffea: skipped -- {coffea_why}")
            if not args.no_floor:
                series.append(Series("uproot-read-floor", "uproot.open + tree.arrays of the 6 "
                                     "branches, 1 process, file after file",
                                     lambda: run_floor(files)))

            failed: dict[str, str] = {}
            for s in series:
                print(f"warm-up: {s.name} ...", end=" ", flush=True)
                try:
                    s.warmup = s.func()
                except Exception as exc:
                    if s.name != "coffea":
                        raise
                    failed[s.name] = f"{type(exc).__name__}: {exc}"
                    print(f"failed ({failed[s.name]}); dropping it")
                    continue
                print(f"{s.warmup.total_s:.2f} s")
            series = [s for s in series if s.name not in failed]
            for rep in range(args.repeat):
                for s in series:
                    outcome = s.func()
                    s.runs.append(outcome)
                    print(f"run {rep + 1}/{args.repeat}: {s.name:21s} total {outcome.total_s:7.3f}"
                          f" s (build {outcome.build_s:.3f} s, compute {outcome.compute_s:.3f} s)",
                          flush=True)

    load_after = os.getloadavg()

    # -- results agree? --
    by_name = {s.name: s for s in series}
    reference = by_name["hepflow"]
    mismatches: dict[str, list[str]] = {}
    for s in series:
        if s.name in ("hepflow", "uproot-read-floor"):
            continue
        for i, checked in enumerate([s.warmup, *s.runs]):
            if checked is None:
                continue
            problems = compare(reference.runs[-1], checked, MOVED_FRACTION)
            if problems:
                mismatches.setdefault(s.name, []).extend(
                    f"{'warm-up' if i == 0 else f'run {i}'}: {p}" for p in problems)
    for i, checked in enumerate([reference.warmup, *reference.runs[:-1]]):
        if checked is None:
            continue
        problems = compare(reference.runs[-1], checked)
        if problems:
            mismatches.setdefault("hepflow (run to run)", []).extend(
                f"{'warm-up' if i == 0 else f'run {i}'}: {p}" for p in problems)

    # -- report --
    stats = {s.name: s.stats() for s in series}
    hf, hand = stats["hepflow"], stats["hand-written"]
    ratios = {
        "hepflow/hand-written best total": hf["best_total_s"] / hand["best_total_s"],
        "hepflow/hand-written median total": hf["median_total_s"] / hand["median_total_s"],
        "hepflow/hand-written best compute": hf["best_compute_s"] / hand["best_compute_s"],
    }
    if "hand-written-defaults" in stats:
        ratios["hepflow/hand-written-defaults best total"] = (
            hf["best_total_s"] / stats["hand-written-defaults"]["best_total_s"])
    if "uproot-read-floor" in stats:
        floor = stats["uproot-read-floor"]["best_total_s"]
        ratios["hepflow best total / (floor / workers)"] = hf["best_total_s"] / (
            floor / args.workers)

    events = args.events
    print()
    print(f"dimuon benchmark: {events:,} events, {args.files} files ({COMPRESSION}), "
          f"{args.workers} process workers, {args.repeat} timed runs each "
          f"(times in seconds; best of {args.repeat}, median)")
    header = (f"{'implementation':22s} {'best total':>10s} {'median':>8s} {'build':>7s} "
              f"{'compute':>8s} {'Mevents/s':>9s}")
    print(header)
    print("-" * len(header))
    for name, st in stats.items():
        rate = events / st["best_total_s"] / 1e6
        print(f"{name:22s} {st['best_total_s']:10.3f} {st['median_total_s']:8.3f} "
              f"{st['best_build_s']:7.3f} {st['best_compute_s']:8.3f} {rate:9.2f}")
    print()
    for label, value in ratios.items():
        print(f"{label:44s} {value:6.3f}")
    print()
    cpus = os.cpu_count() or 1
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
          f"{cpus} CPUs")
    spread = {name: max(st["total_s"]) / min(st["total_s"]) for name, st in stats.items()}
    noisy = [f"{name} {value:.1f}x" for name, value in spread.items() if value > 1.3]
    if noisy:
        print(f"note: noisy timings (slowest/fastest run: {', '.join(noisy)}); something else "
              f"was probably using the CPUs -- compare best-of values, or rerun on a quiet "
              f"machine")
    count = reference.runs[-1].count
    if mismatches:
        for name, problems in mismatches.items():
            for p in problems:
                print(f"MISMATCH {name} vs hepflow: {p}")
    else:
        others = ", ".join(s.name for s in series if s.name not in ("hepflow",
                                                                       "uproot-read-floor"))
        print(f"results agree: hepflow and {others} give count {count:,} and the same "
              f"histograms ({NBINS} bins, flow included) in every run, up to events one bin "
              f"over (at most {MOVED_FRACTION:.0%}: hepflow's mass is in float, as ROOT's)")

    summary = {
        "benchmark": "dimuon",
        "config": {"events": events, "files": args.files, "workers": args.workers,
                   "threads_per_worker": 1, "repeat": args.repeat,
                   "steps_per_file": args.steps_per_file, "chunk_entries": chunk_entries,
                   "compression": COMPRESSION, "seed": SEED, "bins": [NBINS, LOW, HIGH],
                   "malloc_trim": args.malloc_trim,
                   "sample": [str(f) for f in files]},
        "machine": machine_info(loadavg_before=load_before, loadavg_after=load_after),
        "versions": _versions(),
        "coffea": "ran" if "coffea" in stats else failed.get("coffea", f"skipped: {coffea_why}"),
        "results": stats,
        "ratios": ratios,
        "spread": spread,
        "count": count,
        "match": not mismatches,
        "mismatches": mismatches,
    }
    write_summary(args.json, summary)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
