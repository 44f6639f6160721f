"""AGC ttbar benchmark: hepflow's `examples/agc_ttbar.py` against ROOT's RDataFrame and coffea.

Run as ``python -m benchmarks.agc [--events 1000000 --files 8 --workers 2 --repeat 3]
[--root-python PY]``.

All compute the AGC ttbar analysis of ``examples/agc_ttbar.py`` with all its
variations -- nominal, jet energy scale up/down, jet energy resolution, eight
b-tag weight variations -- for the 4j1b (H_T) and 4j2b (trijet mass) regions:
24 weighted histograms, plus the unweighted ones of the jet variations
(8), which are compared bin for bin exactly.

* ``hepflow``: a fresh `RDataFrame` per run, `book` from the example (`Vary`
  and `VariationsFor`), every histogram computed in one pass;
* ``hepflow-cpp``: the same with the example's C++ twin,
  ``examples/agc_ttbar_cpp.py`` (its two helpers declared as C++ source);
* ``root-rdataframe``: ROOT's own RDataFrame running that twin's very C++ and
  strings (`benchmarks/agc_rdf.py`, in a Python with PyROOT given by
  ``--root-python`` or ``$HEPFLOW_ROOT_PYTHON``; skipped without one), with
  ``EnableImplicitMT`` and as many threads as the cluster has workers, in one
  process of its own: a warm-up (the JIT) then the timed runs;
* ``coffea-stack``: the same analysis as a coffea user writes it in dask mode,
  ``uproot.dask`` (``open_files=False``) + dask-awkward + ``hist.dask``; each
  jet variation recomputes the selection from the varied jet pT, the b-tag
  variations reweight the nominal selection, and everything is computed with
  one ``dask.compute``. The two declared Python functions of the example
  (`muon_sf`, `jet_resolution`) run through ``dask_awkward.map_partitions``.

Both run on one ``LocalCluster`` (process workers, one thread each) on the same
generated files; after one untimed warm-up each, the timed runs alternate. A
run is timed end to end (building the graph plus computing it). Results are
checked in every run: unweighted histograms equal exactly, weighted sums and
their variances within 1e-6 relative (the float addition order differs); any
difference is printed as MISMATCH and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.dimuon import (
    MOVED_FRACTION,
    Series,
    ensure_sample,
    moved_one_bin,
    weighted_bins_differ,
    write_summary,
)
from benchmarks.ttbar import root_written, uproot_inflates_with_libdeflate
from hepflow.bench.smoke import sized
from hepflow.observe.environment import machine_info, package_versions

TREE = "Events"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "agc_ttbar.py"
CPP_TWIN = EXAMPLE.with_name("agc_ttbar_cpp.py")
RDF_SCRIPT = Path(__file__).with_name("agc_rdf.py")
#: Relative tolerance on weighted sums (float additions in another order).
RTOL = 1e-6
#: region -> variation -> histogram; the weighted and the unweighted sets of one run.
Histograms = dict[str, dict[str, Any]]


def load_example(path: Path = EXAMPLE) -> ModuleType:
    """`examples/agc_ttbar.py` (or its C++ twin) as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the same analysis on awkward arrays, eager (ak) or lazy (dask_awkward) ------------------


def analysis_columns(events: Any, lib: Any, apply: Callable[..., Any], agc: ModuleType,
                     ) -> dict[str, dict[str, tuple[Any, Any]]]:
    """region -> variation key -> (observable, weight), the example's analysis in arrays.

    `lib` is ``awkward`` or ``dask_awkward``; ``apply(fn, *columns, like=...)``
    calls one of the example's declared functions on whole columns.
    """
    f64 = np.float64
    mu_ok = ((events.Muon_pt > 30) & (abs(events.Muon_eta) < 2.1) & events.Muon_tightId
             & (events.Muon_pfRelIso04_all < 0.15))
    el_ok = ((events.Electron_pt > 30) & (abs(events.Electron_eta) < 2.1)
             & (events.Electron_cutBased == 4) & (events.Electron_pfRelIso03_all < 0.15))
    one = (lib.sum(mu_ok, axis=1) + lib.sum(el_ok, axis=1)) == 1
    ev, mu_ok = events[one], mu_ok[one]
    sf = apply(agc.muon_sf, ev.Muon_pt[mu_ok], ev.Muon_eta[mu_ok], like=None)
    weight = lib.values_astype(ev.genWeight, f64) * lib.prod(sf, axis=1)
    resolution = apply(agc.jet_resolution, ev.event, ev.Jet_pt, like=ev.Jet_pt)
    jet_pts = {"nominal": ev.Jet_pt,
               "pt_scale:down": ev.Jet_pt * np.float32(1 - agc.JES),
               "pt_scale:up": ev.Jet_pt * np.float32(1 + agc.JES),
               "pt_res:up": ev.Jet_pt * resolution}
    out: dict[str, dict[str, tuple[Any, Any]]] = {"4j1b": {}, "4j2b": {}}
    for key, pt in jet_pts.items():
        ok = (pt > 30) & (abs(ev.Jet_eta) < 2.4) & (ev.Jet_jetId >= 2)
        four = lib.num(pt[ok], axis=1) >= 4
        jets = {name: column[ok][four] for name, column in
                (("pt", pt), ("eta", ev.Jet_eta), ("phi", ev.Jet_phi), ("mass", ev.Jet_mass),
                 ("btag", ev.Jet_btagDeepFlavB))}
        w = weight[four]
        n_btag = lib.sum(jets["btag"] > agc.BTAG_WP, axis=1)
        weights = {key: w}
        if key == "nominal":
            for i in range(agc.BTAG_JETS):
                shift = agc.BTAG_VAR * lib.values_astype(jets["pt"][:, i], f64) / agc.BTAG_VAR_PT
                weights[f"btag_var_{i}:up"] = w * (1 + shift)
                weights[f"btag_var_{i}:down"] = w * (1 - shift)
        in1, in2 = n_btag == 1, n_btag >= 2
        ht = lib.sum(lib.values_astype(jets["pt"][in1], f64), axis=1)
        mass = trijet_mass({k: v[in2] for k, v in jets.items()}, lib, agc.BTAG_WP)
        for name, wt in weights.items():
            out["4j1b"][name] = (ht, wt[in1])
            out["4j2b"][name] = (mass, wt[in2])
    return out


def trijet_mass(jets: Mapping[str, Any], lib: Any, wp: float) -> Any:
    """Mass of the highest-pT trijet with a b-tagged jet, in float64 as the example."""
    pt, eta, phi, mass = (lib.values_astype(jets[n], np.float64)
                          for n in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    idx = lib.argcombinations(jets["pt"], 3, axis=1)
    j1, j2, j3 = idx["0"], idx["1"], idx["2"]
    tpx, tpy, tpz, te = (c[j1] + c[j2] + c[j3] for c in (px, py, pz, e))
    btag = jets["btag"]
    tri_btag = np.maximum(np.maximum(btag[j1], btag[j2]), btag[j3])
    rank = lib.where(tri_btag > wp, tpx * tpx + tpy * tpy, -1.0)
    best = lib.argmax(rank, axis=1, keepdims=True)
    bx, by, bz, be = (lib.firsts(c[best], axis=1) for c in (tpx, tpy, tpz, te))
    return np.sqrt(np.maximum(be * be - bx * bx - by * by - bz * bz, 0.0))


def fill(columns: Mapping[str, Mapping[str, tuple[Any, Any]]], make: Callable[[], Any],
         ) -> tuple[Histograms, Histograms]:
    """Weighted histograms of every variation, unweighted ones of the jet variations."""
    weighted: Histograms = {}
    counts: Histograms = {}
    for region, varied in columns.items():
        weighted[region], counts[region] = {}, {}
        for key, (obs, w) in varied.items():
            weighted[region][key] = make().fill(obs, weight=w)
            if not key.startswith("btag_var_"):
                counts[region][key] = make().fill(obs)
    return weighted, counts


# -- the implementations ---------------------------------------------------------------------


@dataclass
class Outcome:
    build_s: float
    compute_s: float
    weighted: Histograms
    counts: Histograms

    @property
    def total_s(self) -> float:
        return self.build_s + self.compute_s


def run_hepflow(agc: ModuleType, files: Sequence[str], client: Any,
                chunk_entries: int | None, declare: Callable[[], None]) -> Outcome:
    """One run of the example's analysis, with the helpers `declare` declares."""
    import hepflow

    start = time.perf_counter()
    declare()
    df = hepflow.RDataFrame(TREE, list(files), client=client, chunk_entries=chunk_entries)
    ht, top = agc.with_observables(*agc.select(df))
    weighted_maps = agc.book_histograms(ht, top)
    count_maps = agc.book_histograms(ht, top, weight=None)
    built = time.perf_counter()
    every = [m.handle(k) for maps in (weighted_maps, count_maps) for m in maps.values()
             for k in m]
    hepflow.RunGraphs(every)
    done = time.perf_counter()
    weighted = {r: {k: m[k] for k in m} for r, m in weighted_maps.items()}
    counts = {r: {k: m[k] for k in m} for r, m in count_maps.items()}
    return Outcome(built - start, done - built, weighted, counts)


class Recorder:
    """Stands in for a dataframe node and writes down every call made on it.

    `record_program` runs the example's functions on one; ROOT replays the calls
    (`benchmarks/agc_rdf.py`), so both frameworks run the same strings.
    """

    def __init__(self, steps: list[list[Any]], index: int) -> None:
        self._steps = steps
        self.index = index

    def __getattr__(self, method: str) -> Callable[..., Recorder]:
        def call(*args: Any) -> Recorder:
            self._steps.append([self.index, method, list(args)])
            return Recorder(self._steps, len(self._steps))
        return call


def record_program(agc: ModuleType, cpp: str) -> dict[str, Any]:
    """The example as data: C++ helpers, the calls on its dataframes, the booked histograms."""
    steps: list[list[Any]] = []
    ht, top = agc.with_observables(*agc.select(Recorder(steps, 0)))
    results = {kind: {region: node.index for region, node in
                      agc.book_histograms(ht, top, weight, variations_for=lambda h: h).items()}
               for kind, weight in (("weighted", "weight"), ("counts", None))}
    return {"cpp": cpp, "steps": steps, "results": results,
            "binning": [agc.BINS, agc.LOW, agc.HIGH]}


def run_rdataframe(root_python: str, program: Mapping[str, Any], files: Sequence[str],
                   threads: int, repeat: int, workdir: Path) -> list[Outcome]:
    """ROOT's RDataFrame (`agc_rdf.py`, in a Python with PyROOT): warm-up + `repeat` runs."""
    import hist

    path = workdir / "agc-program.json"
    path.write_text(json.dumps(program))
    command = [root_python, str(RDF_SCRIPT), "--program", str(path), "--threads",
               str(threads), "--repeat", str(repeat), *files]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{RDF_SCRIPT.name} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")

    bins, low, high = program["binning"]

    def histogram(values: list[float], variances: list[float]) -> Any:
        h = hist.Hist.new.Reg(bins, low, high, name="x").Weight()
        view = h.view(flow=True)
        view.value, view.variance = values, variances
        return h

    outcomes = []
    for r in json.loads(done.stdout.strip().splitlines()[-1]):
        sets = {kind: {region: {key: histogram(*vw) for key, vw in varied.items()}
                       for region, varied in regions.items()}
                for kind, regions in r["hists"].items()}
        outcomes.append(Outcome(r["build_s"], r["compute_s"], sets["weighted"], sets["counts"]))
    return outcomes


def run_coffea_stack(agc: ModuleType, files: Sequence[str], steps_per_file: int) -> Outcome:
    import hist.dask
    import uproot

    # dask and dask_awkward export their functions untyped (mypy --strict rejects them).
    dask: Any = importlib.import_module("dask")
    dak: Any = importlib.import_module("dask_awkward")

    def apply(fn: Callable[..., Any], *args: Any, like: Any) -> Any:
        if like is None:
            return dak.map_partitions(fn, *args)
        return dak.map_partitions(_ShapeAware(fn), *args, meta=like._meta)

    start = time.perf_counter()
    events = uproot.dask({f: TREE for f in files}, steps_per_file=steps_per_file,
                         open_files=False)
    columns = analysis_columns(events, dak, apply, agc)
    weighted, counts = fill(columns, lambda: hist.dask.Hist.new.Reg(
        agc.BINS, agc.LOW, agc.HIGH, name="x").Weight())
    built = time.perf_counter()
    (weighted, counts), = dask.compute((weighted, counts))
    done = time.perf_counter()
    return Outcome(built - start, done - built, weighted, counts)


class _ShapeAware:
    """A column function dask-awkward can trace: on typetracers it returns the last
    argument's shape (touching every input), on data it calls the function.

    dask-awkward finds the columns a graph needs by running it on typetracer
    arrays; a function that needs the values (the resolution hash) cannot run
    there, so it says which columns it reads and what it returns instead.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        import awkward as ak

        if any(ak.backend(a) == "typetracer" for a in args):
            for a in args:
                ak.typetracer.touch_data(a)
            return args[-1]
        return self.fn(*args)


# -- checking --------------------------------------------------------------------------------


def compare(reference: Outcome, other: Outcome, moved_fraction: float = 0.0) -> list[str]:
    """Differences: unweighted bins must be equal, weighted sums within RTOL, up to
    `moved_fraction` of the entries (or weight) each moved to a neighbouring bin.

    The example computes its jets' four-momenta in float, as C++ (and ROOT) do with
    float branches; a twin in double may put an event whose mass lies on a bin edge
    one bin over.
    """
    problems = []
    for label, ref_set, other_set, exact in (("counts", reference.counts, other.counts, True),
                                             ("weighted", reference.weighted, other.weighted,
                                              False)):
        for region, varied in ref_set.items():
            missing = set(varied) ^ set(other_set.get(region, {}))
            if missing:
                problems.append(f"{label} {region}: variations differ: {sorted(missing)}")
                continue
            for key, h in varied.items():
                o = other_set[region][key]
                a, b = np.asarray(h.values(flow=True)), np.asarray(o.values(flow=True))
                where = f"{label} {region} {key}"
                if exact:
                    problem = None if np.array_equal(a, b) else weighted_bins_differ(
                        where, a, a, b, b, 0.0)
                else:
                    problem = weighted_bins_differ(where, a, np.asarray(h.variances(flow=True)),
                                                   b, np.asarray(o.variances(flow=True)), RTOL)
                if problem and not moved_one_bin(a, b, moved_fraction,
                                                  0.0 if exact else RTOL):
                    problems.append(problem)
    return problems


# -- driving ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.agc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=sized(1_000_000, 20_000),
                   help="events in the sample")
    p.add_argument("--files", type=int, default=sized(8, 2), help="files in the sample")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster process workers")
    p.add_argument("--repeat", type=int, default=sized(3, 1),
                   help="timed runs of each implementation")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample-agc"),
                   help="where the sample is generated and cached")
    p.add_argument("--steps-per-file", type=int, default=2,
                   help="uproot.dask partitions per file for the dask-awkward version")
    p.add_argument("--chunk-entries", type=int, default=None,
                   help="hepflow chunk size in entries (default: hepflow's configured one)")
    p.add_argument("--root-python", default=os.environ.get("HEPFLOW_ROOT_PYTHON"),
                   help="a Python with PyROOT, for ROOT's RDataFrame (default: "
                        "$HEPFLOW_ROOT_PYTHON; without one ROOT is skipped)")
    p.add_argument("--root-written", action="store_true",
                   help="run on the sample rewritten by ROOT's Snapshot (needs --root-python)")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    from hepflow.engine.kernelcache import kernel_dir

    shutil.rmtree(kernel_dir(), ignore_errors=True)  # the cold run compiles every kernel
    if args.root_written and not args.root_python:
        raise SystemExit("--root-written needs --root-python (a Python with PyROOT)")
    files = ensure_sample(outdir, args.events, args.files)
    if args.root_written:
        files = root_written(args.root_python, files, outdir / "root-written")
    agc = load_example()
    cpp = load_example(CPP_TWIN)

    import dask
    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.options import Options

    chunk_entries = args.chunk_entries or Options().cut_entries
    load_before = os.getloadavg()
    with local_cluster(args.workers) as cluster, distributed.Client(cluster) as client, \
            dask.config.set({"hepflow.progress-min-chunks": 10**9}):
        client.run(uproot_inflates_with_libdeflate)  # the coffea stack reads with uproot
        series = [
            Series("hepflow", f"hepflow RDataFrame + Vary/VariationsFor, chunk_entries="
                   f"{chunk_entries}, Python helpers",
                   lambda: run_hepflow(agc, files, client, chunk_entries, agc.declare)),
            Series("hepflow-cpp", "the same, the helpers declared as C++ "
                   "(examples/agc_ttbar_cpp.py)",
                   lambda: run_hepflow(agc, files, client, chunk_entries, cpp.declare)),
            Series("coffea-stack", f"uproot.dask(steps_per_file={args.steps_per_file}, "
                   "open_files=False) + dask-awkward + hist.dask",
                   lambda: run_coffea_stack(agc, files, args.steps_per_file)),
        ]
        for s in series:
            print(f"warm-up: {s.name} ...", end=" ", flush=True)
            s.warmup = s.func()
            print(f"{s.warmup.total_s:.2f} s", flush=True)
        for rep in range(args.repeat):
            for s in series:
                outcome = s.func()
                s.runs.append(outcome)
                print(f"run {rep + 1}/{args.repeat}: {s.name:15s} total {outcome.total_s:7.3f} s"
                      f" (build {outcome.build_s:.3f} s, compute {outcome.compute_s:.3f} s)",
                      flush=True)
    if args.root_python:
        print(f"root-rdataframe: warm-up + {args.repeat} runs with {args.workers} threads ...",
              flush=True)
        rdf = Series("root-rdataframe", f"ROOT RDataFrame + Vary/VariationsFor, "
                     f"EnableImplicitMT({args.workers}), the C++ twin's helpers", lambda: None)
        rdf.warmup, *rdf.runs = run_rdataframe(args.root_python,
                                               record_program(agc, cpp.HELPERS), files,
                                               args.workers, args.repeat, outdir)
        for rep, outcome in enumerate(rdf.runs):
            print(f"run {rep + 1}/{args.repeat}: {rdf.name:15s} total {outcome.total_s:7.3f} s"
                  f" (build {outcome.build_s:.3f} s, compute {outcome.compute_s:.3f} s)")
        series.append(rdf)
    else:
        print("root-rdataframe: skipped (no --root-python / HEPFLOW_ROOT_PYTHON)")
    load_after = os.getloadavg()

    reference = series[0].runs[-1]
    mismatches: dict[str, list[str]] = {}
    for s in series:
        for i, checked in enumerate([s.warmup, *s.runs]):
            if checked is None or checked is reference:
                continue
            # the coffea stack computes the trijet in double: an event on a bin edge may
            # land one bin over; ROOT and the C++ twin compute as the example does
            moved = MOVED_FRACTION if s.name == "coffea-stack" else 0.0
            for problem in compare(reference, checked, moved):
                mismatches.setdefault(s.name, []).append(
                    f"{'warm-up' if i == 0 else f'run {i}'}: {problem}")

    stats = {s.name: s.stats() for s in series}
    ratios = {f"{ours}/{theirs} {which} total": stats[ours][f"{which}_total_s"]
              / stats[theirs][f"{which}_total_s"]
              for ours in ("hepflow", "hepflow-cpp")
              for theirs in ("root-rdataframe", "coffea-stack") if theirs in stats
              for which in ("best", "median")}
    n_weighted = sum(len(v) for v in reference.weighted.values())
    n_counts = sum(len(v) for v in reference.counts.values())
    print()
    print(f"AGC ttbar benchmark: {args.events:,} events, {args.files} files, {args.workers} "
          f"process workers, {n_weighted} weighted + {n_counts} unweighted histograms, "
          f"{args.repeat} timed runs each (seconds)")
    header = (f"{'implementation':15s} {'cold':>7s} {'best total':>10s} {'median':>8s} "
              f"{'build':>7s} {'compute':>8s} {'Mevents/s':>9s}")
    print(header)
    print("-" * len(header))
    # cold: the first run on fresh workers, compiling every kernel (ROOT: its JIT)
    for name, st in stats.items():
        print(f"{name:15s} {st['warmup_total_s']:7.3f} {st['best_total_s']:10.3f} "
              f"{st['median_total_s']:8.3f} "
              f"{st['best_build_s']:7.3f} {st['best_compute_s']:8.3f} "
              f"{args.events / st['best_total_s'] / 1e6:9.3f}")
    print()
    for label, value in ratios.items():
        print(f"{label:36s} {value:6.3f}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
          f"{os.cpu_count() or 1} CPUs")
    spread = {name: max(st["total_s"]) / min(st["total_s"]) for name, st in stats.items()}
    noisy = [f"{name} {value:.1f}x" for name, value in spread.items() if value > 1.3]
    if noisy:
        print(f"note: noisy timings (slowest/fastest run: {', '.join(noisy)}); something else "
              "was using the CPUs -- compare best-of values, or rerun on a quiet machine")
    if mismatches:
        for name, problems in mismatches.items():
            for p in problems:
                print(f"MISMATCH {name} vs hepflow: {p}")
    else:
        print(f"results agree: every run of each gives the same {n_counts} unweighted "
              f"histograms exactly and the same {n_weighted} weighted ones within {RTOL:g}")

    summary = {
        "benchmark": "agc",
        "config": {"events": args.events, "files": args.files, "workers": args.workers,
                   "threads_per_worker": 1, "repeat": args.repeat,
                   "steps_per_file": args.steps_per_file, "chunk_entries": chunk_entries,
                   "sample": [str(f) for f in files],
                   "histograms": {"weighted": n_weighted, "unweighted": n_counts}},
        "machine": machine_info(loadavg_before=load_before, loadavg_after=load_after),
        "versions": package_versions(("hepflow", "dask", "distributed", "dask-awkward",
                                      "dask-histogram", "uproot", "awkward", "hist", "numpy",
                                      "coffea")),
        "results": stats, "ratios": ratios, "spread": spread, "match": not mismatches,
        "mismatches": mismatches,
    }
    write_summary(args.json, summary)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
