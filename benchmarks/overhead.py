"""Where a dimuon run's time goes that is not reading or computing: the per-run overhead.

Run as ``python -m benchmarks.overhead [--events 2000000 --files 8 --workers 2 --repeat 5]``.

Each repetition builds a fresh ``RDataFrame`` (as a user's script does) on one
``LocalCluster`` (process workers, one thread each) and times, from the moment
``GetValue`` is called to the moment the result is returned:

* on the client, from the run report (`RunInfo.phases`): planning and
  lowering (kernel, content keys, task graph), handing the graph to the
  scheduler, waiting, and delivering (accounting checks, finishing results);
* on the cluster, from Dask's task stream: the latency until the first chunk
  task starts, the chunk tasks' own time per worker (reading + decompressing
  + the fused kernel: the work), the idle time between chunk tasks (scheduler
  round trips, load imbalance), the tree reduction after the last chunk
  task, and the result's way back to the client.

Building the dataframe (preprocessing, from hepflow's on-disk cache after the
warm-up) is reported apart, and so is the floor: the six branches read with
``uproot`` in this one process. Every row is a median over the repetitions;
"overhead" is everything but the workers' chunk work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.dimuon import BRANCHES, ensure_sample, run_floor, write_summary

TREE = "Events"


def _book(files: Sequence[str], client: Any) -> tuple[Any, Any, float]:
    import hepflow
    from hepflow.demo import DIMUON_MASS

    start = time.perf_counter()
    df = hepflow.RDataFrame(TREE, list(files), client=client)
    selected = (df.Filter("nMuon == 2", "two muons")
                  .Filter("Muon_charge[0] != Muon_charge[1]", "opposite charge")
                  .Define("Dimuon_mass", DIMUON_MASS))
    hist = selected.Histo1D(("m", "m", 30000, 0.25, 300.0), "Dimuon_mass")
    return hist, selected.Count(), time.perf_counter() - start


def one_run(files: Sequence[str], client: Any, workers: int) -> dict[str, float]:
    """One repetition's breakdown, in seconds."""
    from distributed import get_task_stream

    hist, count, build_s = _book(files, client)
    with get_task_stream(client) as stream:
        called = time.time()
        began = time.perf_counter()
        hist.GetValue()
        total = time.perf_counter() - began
        returned = called + total
    phases = count.run_info().phases
    chunk: list[tuple[float, float]] = []
    merge: list[tuple[float, float]] = []
    for task in stream.data:
        for span in task["startstops"]:
            if span["action"] == "compute":
                into = chunk if "hepflow-chunk" in str(task["key"]) else merge
                into.append((span["start"], span["stop"]))
    first_start = min(a for a, _ in chunk)
    last_chunk = max(b for _, b in chunk)
    last_task = max(b for _, b in chunk + merge)
    work = sum(b - a for a, b in chunk) / workers
    submitted = called + phases.get("lower", 0.0) + phases.get("submit", 0.0)
    return {
        "total": total,
        "lower": phases.get("lower", 0.0),
        "submit": phases.get("submit", 0.0),
        "to_first_task": first_start - submitted,
        "chunk_work_per_worker": work,
        "idle_between_chunks": (last_chunk - first_start) - work,
        "reduction": last_task - last_chunk,
        "result_back": returned - last_task - phases.get("deliver", 0.0),
        "deliver": phases.get("deliver", 0.0),
        "build_dataframe": build_s,
    }


ROWS = (
    ("lower", "plan lowering: kernel, content keys, task graph (client)"),
    ("submit", "graph submission (client)"),
    ("to_first_task", "scheduler until the first chunk task starts"),
    ("idle_between_chunks", "workers idle between chunk tasks (round trips, imbalance)"),
    ("reduction", "tree reduction after the last chunk task"),
    ("result_back", "merged result back to the client"),
    ("deliver", "accounting checks and finishing results (client)"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"))
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    files = ensure_sample(outdir, args.events, args.files)

    import dask
    import distributed

    from hepflow.cluster import local_cluster

    runs: list[dict[str, float]] = []
    with local_cluster(args.workers) as cluster, distributed.Client(cluster) as client, \
            dask.config.set({"hepflow.progress-min-chunks": 10**9}):
        one_run(files, client, args.workers)  # warm-up: imports, page cache, preprocessing
        floors = []
        for _ in range(args.repeat):
            runs.append(one_run(files, client, args.workers))
            floors.append(run_floor(files).total_s)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor = statistics.median(floors)
    overhead = median["total"] - median["chunk_work_per_worker"]
    print(f"\ndimuon run, {args.events:,} events in {args.files} files, {args.workers} process "
          f"workers; medians of {args.repeat} runs, seconds, from GetValue() to the result")
    print(f"{'GetValue() to result':64s} {median['total']:7.3f}")
    print(f"{'  chunk tasks (read + decompress + kernel), per worker':64s} "
          f"{median['chunk_work_per_worker']:7.3f}")
    for key, label in ROWS:
        print(f"  {label:62s} {median[key]:7.3f}")
    print(f"{'  overhead: all but the chunk tasks':64s} {overhead:7.3f} "
          f"({overhead / median['total']:.0%})")
    print(f"{'building the RDataFrame (preprocessing cache), before GetValue':64s} "
          f"{median['build_dataframe']:7.3f}")
    print(f"{'floor: ' + ', '.join(BRANCHES[:2]) + ', ... read by uproot in one process':64s} "
          f"{floor:7.3f}")
    print(f"{'total / floor':64s} {median['total'] / floor:7.2f}")
    write_summary(args.json, {"median": median, "runs": runs, "floor_s": floors,
                              "overhead_s": overhead})
    return 0


if __name__ == "__main__":
    sys.exit(main())
