"""ttbar benchmark in the style of the Analysis Grand Challenge (AGC): compute as well as I/O.

Run as ``python -m benchmarks.ttbar [--events 2000000 --files 8 --workers 2 --repeat 5]``;
it runs the same analysis, on one cluster and the same files, as

* ``hepflow-strings``: `book` below -- every step an RDataFrame expression
  string, the trijet step with ``Combinations``/``Take``/``ArgMax``;
* ``hepflow-callable``: the same, but the top-candidate mass is a Python
  callable on awkward arrays (`trijet_mass`: ``ak.combinations`` of ``vector``
  Momentum4D jets, ``argmax`` of the trijet pT), what a user writes when the
  expression language has no way to say it;
* ``hand-written``: uproot.dask (``open_files=False``) + dask-awkward +
  hist.dask + vector, as a coffea user writes it in dask mode;
* ``rdataframe``: ROOT's own RDataFrame with implicit multi-threading (as many
  threads as the cluster has workers), run by ``benchmarks/ttbar_rdf.py`` in a
  Python that has PyROOT (``--root-python``, default ``$HEPFLOW_ROOT_PYTHON``;
  skipped without one: ROOT is never a hepflow dependency);

with a fresh dataframe / graph per repetition, an untimed warm-up of each and
the timed repetitions interleaved. It prints medians, best-of and the ratios
to the hand-written time, and checks that every way gives the same
histograms: unweighted contents equal, weighted sums and variances within
1e-9 relative (filling order differs). ``--root-written`` first rewrites the
sample with ROOT's ``Snapshot`` (so the files are TTrees written by ROOT itself)
and runs every way on those.

Also the built-in analysis of ``hepflow bench scaling ttbar --workers 1,2,4``;
as an analysis file ``hepflow run benchmarks/ttbar.py --dataset D.yaml``.

The selection follows the AGC's ttbar single-lepton analysis on NanoAOD-like
events:

* exactly one lepton (muon or electron, pT > 30 GeV, |eta| < 2.1);
* jets with pT > 25 GeV, |eta| < 2.4 and a jet ID; at least four of them;
* b-tag counting (DeepFlavour score > 0.5): the ``4j1b`` region (at least one
  b-tag) fills H_T; the ``4j2b`` region (at least two) forms every trijet
  combination of the selected jets (``Combinations(jets, 3)``), keeps those
  with a b-tagged jet, picks the one with the largest pT and fills its mass:
  the reconstructed top quark;
* several histograms, all weighted with ``genWeight``: H_T (nominal and with
  the jet pT scaled up and down by 3 %, the AGC's jet-energy-scale variation),
  the top candidate mass, the leading jet pT, the b-tag multiplicity and MET.

The trijet step is the compute-heavy part (C(n, 3) combinations per event,
jagged Take/ArgMax); the rest reads about a dozen branches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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
from hepflow.bench.smoke import sized
from hepflow.observe.environment import machine_info, package_versions

TREE = "Events"
#: Jet-energy-scale variation applied to the jet pT for the H_T up/down histograms.
JES = 0.03
BTAG = 0.5
#: Relative tolerance of weighted bin sums between ways (their filling order differs).
RTOL = 1e-9
#: The histograms every way fills: name -> (bins, low, high).
BINNING: dict[str, tuple[int, float, float]] = {
    "ht_4j1b": (50, 50.0, 1050.0), "ht_4j1b_jes_up": (50, 50.0, 1050.0),
    "ht_4j1b_jes_down": (50, 50.0, 1050.0), "top_mass_4j2b": (50, 50.0, 550.0),
    "leading_jet_pt": (50, 25.0, 525.0), "n_btag": (6, 0.0, 6.0), "met_4j1b": (50, 0.0, 500.0),
}
RDF_SCRIPT = Path(__file__).with_name("ttbar_rdf.py")


def select(df: Any) -> tuple[Any, Any]:
    """The 4j1b and 4j2b regions (dataframes) with the selected jets defined."""
    lepton = ("Sum(Muon_pt > 30 && abs(Muon_eta) < 2.1) + "
              "Sum(Electron_pt > 30 && abs(Electron_eta) < 2.1)")
    jets = (df.Define("n_leptons", lepton)
              .Filter("n_leptons == 1", "exactly one lepton")
              .Define("jet_ok", "Jet_pt > 25 && abs(Jet_eta) < 2.4 && Jet_jetId >= 2")
              .Define("jet_pt", "Jet_pt[jet_ok]")
              .Define("jet_eta", "Jet_eta[jet_ok]")
              .Define("jet_phi", "Jet_phi[jet_ok]")
              .Define("jet_mass", "Jet_mass[jet_ok]")
              .Define("jet_btag", "Jet_btagDeepFlavB[jet_ok]")
              .Filter("size(jet_pt) >= 4", "at least four jets")
              .Define("n_btag", f"Sum(jet_btag > {BTAG})"))
    region_4j1b = jets.Filter("n_btag >= 1", "4j1b: at least one b-tag")
    region_4j2b = region_4j1b.Filter("n_btag >= 2", "4j2b: at least two b-tags")
    return region_4j1b, region_4j2b


def top_candidate(region: Any) -> Any:
    """The mass of the highest-pT trijet containing a b-tagged jet, as `top_mass`."""
    return (region
            .Define("jet_px", "jet_pt * cos(jet_phi)")
            .Define("jet_py", "jet_pt * sin(jet_phi)")
            .Define("jet_pz", "jet_pt * sinh(jet_eta)")
            .Define("jet_e", "sqrt(jet_px*jet_px + jet_py*jet_py + jet_pz*jet_pz + "
                             "jet_mass*jet_mass)")
            .Define("trijet", "Combinations(jet_pt, 3)")
            .Define("j1", "trijet[0]").Define("j2", "trijet[1]").Define("j3", "trijet[2]")
            .Define("tri_px", "Take(jet_px, j1) + Take(jet_px, j2) + Take(jet_px, j3)")
            .Define("tri_py", "Take(jet_py, j1) + Take(jet_py, j2) + Take(jet_py, j3)")
            .Define("tri_pz", "Take(jet_pz, j1) + Take(jet_pz, j2) + Take(jet_pz, j3)")
            .Define("tri_e", "Take(jet_e, j1) + Take(jet_e, j2) + Take(jet_e, j3)")
            .Define("tri_pt", "sqrt(tri_px*tri_px + tri_py*tri_py)")
            .Define("tri_mass", "auto m2 = tri_e*tri_e - tri_px*tri_px - tri_py*tri_py - "
                                "tri_pz*tri_pz; return sqrt(Where(m2 > 0., m2, 0.));")
            .Define("tri_btag", "auto a = Take(jet_btag, j1), b = Take(jet_btag, j2), "
                                "c = Take(jet_btag, j3); auto ab = Where(a > b, a, b); "
                                "return Where(ab > c, ab, c);")
            .Define("tri_pt_b", f"Where(tri_btag > {BTAG}, tri_pt, -1.0)")
            .Define("best", "ArgMax(tri_pt_b)")
            .Define("top_mass", "tri_mass[best]"))


def trijet_mass(pt: Any, eta: Any, phi: Any, mass: Any, btag: Any, lib: Any = None) -> Any:
    """The top candidate's mass as awkward code: vector jets, ``combinations``, ``argmax``.

    `lib` is awkward (default: the callable of `top_candidate_callable`) or
    dask_awkward (the hand-written way); the jets are made float64 first (hepflow's
    expressions compute float32 inputs in float, as C++ does; the few events this moves
    stay within the comparison's tolerance).
    """
    import awkward as ak
    import vector

    lib = ak if lib is None else lib
    jets = lib.zip({"pt": lib.values_astype(pt, np.float64),
                    "eta": lib.values_astype(eta, np.float64),
                    "phi": lib.values_astype(phi, np.float64),
                    "mass": lib.values_astype(mass, np.float64)},
                   with_name="Momentum4D", behavior=vector.backends.awkward.behavior)
    j1, j2, j3 = lib.unzip(lib.combinations(jets, 3, axis=1))
    b1, b2, b3 = lib.unzip(lib.combinations(btag, 3, axis=1))
    trijet = j1 + j2 + j3
    tagged = np.maximum(np.maximum(b1, b2), b3) > BTAG
    best = lib.argmax(lib.where(tagged, trijet.pt, -1.0), axis=1, keepdims=True)
    return lib.firsts(trijet[best].mass, axis=1)


def top_candidate_callable(region: Any) -> Any:
    """`top_candidate` with the trijet step as a Python callable (`trijet_mass`)."""
    return region.Define("top_mass", trijet_mass,
                         ["jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag"])


def book(df: Any, trijet: str = "strings") -> dict[str, Any]:
    """Book every result of the analysis on `df`; returns the named result handles.

    `trijet` is ``"strings"`` (expression strings) or ``"callable"`` (`trijet_mass`).
    """
    region_4j1b, region_4j2b = select(df)
    ht = (region_4j1b.Define("ht", "Sum(jet_pt)")
                     .Define("ht_up", f"Sum(jet_pt * {1 + JES})")
                     .Define("ht_down", f"Sum(jet_pt * {1 - JES})"))
    top = (top_candidate if trijet == "strings" else top_candidate_callable)(region_4j2b)
    w = "genWeight"

    def model(name: str, title: str) -> tuple[str, str, int, float, float]:
        return (name, title, *BINNING[name])

    return {
        "ht_4j1b": ht.Histo1D(model("ht_4j1b", "H_T, 4j1b;H_T [GeV]"), "ht", w),
        "ht_4j1b_jes_up": ht.Histo1D(model("ht_4j1b_jes_up", "H_T JES up;H_T [GeV]"),
                                     "ht_up", w),
        "ht_4j1b_jes_down": ht.Histo1D(model("ht_4j1b_jes_down", "H_T JES down;H_T [GeV]"),
                                       "ht_down", w),
        "top_mass_4j2b": top.Histo1D(model("top_mass_4j2b", "trijet mass, 4j2b;m_{bjj} [GeV]"),
                                     "top_mass", w),
        "leading_jet_pt": region_4j1b.Define("lead_pt", "Max(jet_pt)").Histo1D(
            model("leading_jet_pt", "leading jet p_T;p_T [GeV]"), "lead_pt", w),
        "n_btag": region_4j1b.Histo1D(model("n_btag", "b-tagged jets;n"), "n_btag", w),
        "met_4j1b": region_4j1b.Histo1D(model("met_4j1b", "MET;p_T^{miss} [GeV]"), "MET_pt", w),
        "events_4j2b": top.Count(),
        "cutflow": df.Report(),
    }


if __name__ == "__hepflow_analysis__":  # `hepflow run benchmarks/ttbar.py --dataset ...`
    import hepflow
    from hepflow.analysis import dataset

    results = book(hepflow.RDataFrame(dataset()))


# -- the ways --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One run: seconds to build and to compute, each histogram's (values, variances), the count."""

    build_s: float
    compute_s: float
    hists: dict[str, tuple[np.ndarray, np.ndarray]]
    count: int

    @property
    def total_s(self) -> float:
        return self.build_s + self.compute_s


def _contents(h: Any) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(h.values(flow=True), dtype=np.float64),
            np.asarray(h.variances(flow=True), dtype=np.float64))


def run_hepflow(files: Sequence[str], client: Any, chunk_entries: int | None,
                trijet: str) -> Outcome:
    import hepflow

    start = time.perf_counter()
    df = hepflow.RDataFrame(TREE, list(files), client=client, chunk_entries=chunk_entries)
    results = book(df, trijet)
    built = time.perf_counter()
    hepflow.RunGraphs(list(results.values()))
    done = time.perf_counter()
    return Outcome(built - start, done - built,
                   {name: _contents(results[name].GetValue()) for name in BINNING},
                   int(results["events_4j2b"].GetValue()))


def hand_written_graph(events: Any) -> tuple[dict[str, Any], Any]:
    """The analysis in dask-awkward + hist.dask: the lazy histograms and the 4j2b count."""
    import dask_awkward as dak
    import hist.dask

    def weight_of(mask: Any) -> Any:
        return dak.values_astype(ev.genWeight[mask], np.float64)

    lepton = (dak.sum((events.Muon_pt > 30) & (abs(events.Muon_eta) < 2.1), axis=1)
              + dak.sum((events.Electron_pt > 30) & (abs(events.Electron_eta) < 2.1), axis=1))
    ev = events[lepton == 1]
    ok = (ev.Jet_pt > 25) & (abs(ev.Jet_eta) < 2.4) & (ev.Jet_jetId >= 2)
    four = dak.num(ev.Jet_pt[ok], axis=1) >= 4
    ev, ok = ev[four], ok[four]
    jets = {name: ev[f"Jet_{branch}"][ok] for name, branch in
            (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("mass", "mass"),
             ("btag", "btagDeepFlavB"))}
    n_btag = dak.sum(jets["btag"] > BTAG, axis=1)
    r1, r2 = n_btag >= 1, n_btag >= 2
    pt1 = dak.values_astype(jets["pt"][r1], np.float64)
    r2_jets = [jets[n][r2] for n in ("pt", "eta", "phi", "mass", "btag")]
    observables = {
        "ht_4j1b": (dak.sum(pt1, axis=1), r1),
        "ht_4j1b_jes_up": (dak.sum(pt1 * (1 + JES), axis=1), r1),
        "ht_4j1b_jes_down": (dak.sum(pt1 * (1 - JES), axis=1), r1),
        "top_mass_4j2b": (trijet_mass(*r2_jets, lib=dak), r2),
        "leading_jet_pt": (dak.max(jets["pt"][r1], axis=1), r1),
        "n_btag": (n_btag[r1], r1),
        "met_4j1b": (ev.MET_pt[r1], r1),
    }
    hists = {name: hist.dask.Hist.new.Reg(*BINNING[name], name="x").Weight().fill(
                 x, weight=weight_of(mask)) for name, (x, mask) in observables.items()}
    return hists, dak.num(ev[r2], axis=0)


def run_hand_written(files: Sequence[str], client: Any, steps_per_file: int) -> Outcome:
    """uproot.dask + dask-awkward + hist.dask + vector, computed with one ``dask.compute``."""
    import dask
    import uproot

    start = time.perf_counter()
    events = uproot.dask({f: TREE for f in files}, steps_per_file=steps_per_file,
                         open_files=False)
    hists, count = hand_written_graph(events)
    built = time.perf_counter()
    computed, n = dask.compute(hists, count, scheduler=client)
    done = time.perf_counter()
    return Outcome(built - start, done - built,
                   {name: _contents(h) for name, h in computed.items()}, int(n))


def run_rdataframe(root_python: str, files: Sequence[str], threads: int, repeat: int,
                   ) -> list[Outcome]:
    """ROOT's RDataFrame (`ttbar_rdf.py`, in a Python with PyROOT): warm-up + `repeat` runs."""
    command = [root_python, str(RDF_SCRIPT), "--threads", str(threads), "--repeat",
               str(repeat + 1), "--jes", repr(JES), "--btag", repr(BTAG),
               "--binning", json.dumps(BINNING), *files]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{RDF_SCRIPT.name} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    return [Outcome(r["build_s"], r["compute_s"],
                    {name: (np.asarray(v), np.asarray(w)) for name, (v, w) in r["hists"].items()},
                    int(r["count"])) for r in runs]


def uproot_inflates_with_libdeflate() -> None:
    """uproot's documented switch to libdeflate for zlib baskets, which hepflow's reader
    uses: without it the uproot-based baselines would inflate ROOT's default zlib (the
    ROOT-written sample) twice as slowly. Run on every worker (`Client.run`)."""
    import uproot

    uproot.ZLIB.library = "deflate"


def root_written(root_python: str, files: Sequence[str], outdir: Path) -> list[str]:
    """The sample rewritten by ROOT's own ``Snapshot`` (once; reused while newer than the input)."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = [str(outdir / Path(f).name) for f in files]
    fresh = all(Path(o).is_file() and Path(o).stat().st_mtime >= Path(f).stat().st_mtime
                for f, o in zip(files, out, strict=True))
    if not fresh:
        print(f"sample: rewriting {len(files)} files with ROOT's Snapshot into {outdir} ...",
              flush=True)
        for f, o in zip(files, out, strict=True):
            subprocess.run([root_python, str(RDF_SCRIPT), "--snapshot", o, f], check=True)
    return out


# -- checking --------------------------------------------------------------------------------


def compare(reference: Outcome, other: Outcome, moved_fraction: float = 0.0) -> list[str]:
    """Differences: the count equal, unweighted-equivalent contents within RTOL, up to
    `moved_fraction` of the content moved to a neighbouring bin (the strings compute the
    jets' four-momenta in float, as C++ does; the other ways in double)."""
    problems = []
    if reference.count != other.count:
        problems.append(f"events_4j2b {reference.count} != {other.count}")
    for name in BINNING:
        (a, va), (b, vb) = reference.hists[name], other.hists[name]
        if a.shape != b.shape:
            problems.append(f"{name}: {a.size} vs {b.size} bins")
            continue
        problem = weighted_bins_differ(name, a, va, b, vb, RTOL)
        if problem and not moved_one_bin(a, b, moved_fraction, RTOL):
            problems.append(problem)
    return problems


# -- driving ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ttbar", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=sized(2_000_000, 20_000),
                   help="events in the sample")
    p.add_argument("--files", type=int, default=sized(8, 2), help="files in the sample")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster process workers")
    p.add_argument("--repeat", type=int, default=sized(5, 1), help="timed runs of each way")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"),
                   help="where the sample is generated and cached (shared with the dimuon one)")
    p.add_argument("--steps-per-file", type=int, default=3,
                   help="uproot.dask partitions per file for the hand-written way")
    p.add_argument("--chunk-entries", type=int, default=None,
                   help="hepflow chunk size in entries (default: hepflow's configured one)")
    p.add_argument("--root-python", default=os.environ.get("HEPFLOW_ROOT_PYTHON"),
                   help="a Python with PyROOT for the RDataFrame baseline (and --root-written)")
    p.add_argument("--root-written", action="store_true",
                   help="run on the sample rewritten by ROOT's Snapshot (needs --root-python)")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    return p.parse_args(argv)


def _ways(files: Sequence[str], client: Any, args: argparse.Namespace,
          chunk_entries: int) -> list[Series]:
    return [
        Series("hepflow-strings", "hepflow RDataFrame, trijet as expression strings",
               lambda: run_hepflow(files, client, chunk_entries, "strings")),
        Series("hepflow-callable", "hepflow RDataFrame, trijet as an awkward+vector callable",
               lambda: run_hepflow(files, client, chunk_entries, "callable")),
        Series("hand-written", f"uproot.dask(steps_per_file={args.steps_per_file}, "
               "open_files=False) + dask-awkward + hist.dask + vector",
               lambda: run_hand_written(files, client, args.steps_per_file)),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.root_written and not args.root_python:
        raise SystemExit("--root-written needs --root-python (a Python with PyROOT)")
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    files = ensure_sample(outdir, args.events, args.files)
    if args.root_written:
        files = root_written(args.root_python, files, outdir / "root-written")

    import dask
    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.options import Options

    chunk_entries = args.chunk_entries or Options().cut_entries
    load_before = os.getloadavg()
    with local_cluster(args.workers) as cluster, distributed.Client(cluster) as client, \
            dask.config.set({"hepflow.progress-min-chunks": 10**9}):
        client.run(uproot_inflates_with_libdeflate)
        uproot_inflates_with_libdeflate()  # the in-process baselines read here
        series = _ways(files, client, args, chunk_entries)
        for s in series:
            print(f"warm-up: {s.name} ...", end=" ", flush=True)
            s.warmup = s.func()
            print(f"{s.warmup.total_s:.2f} s", flush=True)
        for rep in range(args.repeat):
            for s in series:
                outcome = s.func()
                s.runs.append(outcome)
                print(f"run {rep + 1}/{args.repeat}: {s.name:17s} total {outcome.total_s:7.3f} s"
                      f" (build {outcome.build_s:.3f} s, compute {outcome.compute_s:.3f} s)",
                      flush=True)
    if args.root_python:
        print(f"rdataframe: {args.repeat} runs + warm-up with {args.workers} threads ...",
              flush=True)
        rdf = Series("rdataframe", f"ROOT RDataFrame, EnableImplicitMT({args.workers})",
                     lambda: None)
        rdf.warmup, *rdf.runs = run_rdataframe(args.root_python, files, args.workers,
                                               args.repeat)
        series.append(rdf)
    else:
        print("rdataframe: skipped (no --root-python / HEPFLOW_ROOT_PYTHON)")
    load_after = os.getloadavg()
    return report(args, files, series, chunk_entries, load_before, load_after)


def report(args: argparse.Namespace, files: Sequence[str], series: Sequence[Series],
           chunk_entries: int, load_before: tuple[float, ...],
           load_after: tuple[float, ...]) -> int:
    """Print the table, the ratios and the result check; write the JSON summary."""
    reference = series[0].runs[-1]
    mismatches: dict[str, list[str]] = {}
    for s in series:
        for i, checked in enumerate([s.warmup, *s.runs]):
            if checked is None or checked is reference:
                continue
            for problem in compare(reference, checked, MOVED_FRACTION):
                mismatches.setdefault(s.name, []).append(
                    f"{'warm-up' if i == 0 else f'run {i}'}: {problem}")
    stats = {s.name: s.stats() for s in series}
    hand = stats["hand-written"]
    ratios = {f"{name}/hand-written median": st["median_total_s"] / hand["median_total_s"]
              for name, st in stats.items() if name != "hand-written"}
    ratios.update({f"{name}/hand-written best": st["best_total_s"] / hand["best_total_s"]
                   for name, st in stats.items() if name != "hand-written"})
    print()
    print(f"ttbar benchmark: {args.events:,} events, {len(files)} files"
          f"{' (written by ROOT)' if args.root_written else ''}, {args.workers} process "
          f"workers, {args.repeat} timed runs each (seconds)")
    header = (f"{'way':18s} {'median':>8s} {'best':>8s} {'build':>7s} {'compute':>8s} "
              f"{'Mevents/s':>9s} {'/hand-written':>13s}")
    print(header)
    print("-" * len(header))
    for name, st in stats.items():
        print(f"{name:18s} {st['median_total_s']:8.3f} {st['best_total_s']:8.3f} "
              f"{st['best_build_s']:7.3f} {st['best_compute_s']:8.3f} "
              f"{args.events / st['median_total_s'] / 1e6:9.2f} "
              f"{st['median_total_s'] / hand['median_total_s']:13.3f}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
          f"{os.cpu_count() or 1} CPUs")
    if mismatches:
        for name, problems in mismatches.items():
            for p in problems:
                print(f"MISMATCH {name} vs hepflow-strings: {p}")
    else:
        print(f"results agree: every run of every way gives {reference.count:,} 4j2b events "
              f"and the same {len(BINNING)} histograms (within {RTOL:g})")
    write_summary(args.json, {
        "benchmark": "ttbar",
        "config": {"events": args.events, "files": len(files), "workers": args.workers,
                   "repeat": args.repeat, "steps_per_file": args.steps_per_file,
                   "chunk_entries": chunk_entries, "root_written": args.root_written,
                   "sample": list(files)},
        "machine": machine_info(loadavg_before=load_before, loadavg_after=load_after),
        "versions": package_versions(("hepflow", "dask", "distributed", "dask-awkward",
                                      "dask-histogram", "uproot", "awkward", "hist", "vector",
                                      "numpy")),
        "results": stats, "ratios": ratios, "count": reference.count,
        "match": not mismatches, "mismatches": mismatches,
    })
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
