"""`hepflow bench`: scaling runs and the scaling model, on the command line.

    hepflow bench scaling ANALYSIS --workers 1,2,4 --mode strong|weak [--repeat 3]
        [--dataset FILE|GLOB] [--scheduler ADDRESS] [--out DIR]
    hepflow bench model scaling.json [--events 1e9 --storage-gbs 10 --nic-gbits 10]

With HEPFLOW_BENCH_SMOKE=1 the defaults shrink to a smoke size (hepflow.bench.smoke).
ANALYSIS is an analysis file (see `hepflow.analysis`) or a built-in benchmark
analysis: dimuon, ttbar, training-prep. The cli module of hepflow wires this
in with `add_parser(subparsers)`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hepflow.bench.smoke import sized


def _workers(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--workers takes counts like 1,2,4, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"--workers takes positive counts, not {text!r}")
    return tuple(sorted(set(values)))


def _scaling(args: argparse.Namespace) -> int:
    from hepflow.bench.model import Facility, format_model, predict
    from hepflow.bench.plot import write_outputs
    from hepflow.bench.scaling import ScalingConfig, format_table, run_scaling

    dataset: str | tuple[str, ...] | None = None
    if args.dataset:
        dataset = args.dataset[0] if len(args.dataset) == 1 else tuple(args.dataset)
    config = ScalingConfig(
        analysis=args.analysis, workers=args.workers, mode=args.mode, repeat=args.repeat,
        warmup=args.warmup, dataset=dataset, events=args.events, files=args.files,
        sample_dir=args.sample_dir, chunk_entries=args.chunk_entries,
        scheduler=args.scheduler, outdir=args.out, overhead_tasks=args.overhead_tasks)
    result = run_scaling(config)
    result["model"] = predict(result, _facility(args, Facility),
                              chunk_entries=args.model_chunk_entries)
    paths = write_outputs(result, args.out)
    print()
    print(format_table(result))
    print()
    print(format_model(result["model"]))
    print()
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0 if all(p["accounting_ok"] for p in result["points"]) else 1


def _facility(args: argparse.Namespace, cls: Any) -> Any:
    return cls(events=int(args.model_events), storage_gbytes_per_s=args.storage_gbs,
               nic_gbits_per_s=args.nic_gbits, workers_per_node=args.workers_per_node)


def _model(args: argparse.Namespace) -> int:
    from hepflow.bench.model import TARGETS, Facility, format_model, predict

    result = json.loads(Path(args.scaling_json).read_text())
    targets = args.targets or TARGETS
    print(format_model(predict(result, _facility(args, Facility), targets,
                               chunk_entries=args.model_chunk_entries)))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from hepflow.bench.model import Facility, format_model, predict
    from hepflow.bench.simulate import SimConfig, calibrated_scaling, format_result, run_simulation

    config = SimConfig(
        workers=args.workers, processes=args.processes, chunk_seconds=args.chunk_seconds,
        chunk_entries=args.chunk_entries, task_seconds=args.task_seconds,
        tasks_per_worker=args.tasks_per_worker,
        baseline_chunks_per_worker=args.baseline_chunks_per_worker,
        partial_bytes=args.partial_bytes, records=args.records, split_every=args.split_every,
        min_ideal_seconds=args.min_seconds,
        modes=tuple(m for m in args.modes.split(",") if m), outdir=args.out)
    result = run_simulation(config)
    print()
    print(format_result(result))
    calibrated = calibrated_scaling(result)
    model = predict(calibrated, _facility(args, Facility), args.targets or (100, 500, 1000),
                    batching=True)
    result["model"] = model
    out = Path(args.out)
    (out / "calibrated-scaling.json").write_text(json.dumps(calibrated, indent=2))
    (out / "simulate.json").write_text(json.dumps(result, indent=2))
    print()
    print("calibrated model (batched dispatch, chunks sized for each worker count):")
    print(format_model(model))
    print(f"\nwritten: {out / 'simulate.json'}, {out / 'calibrated-scaling.json'}")
    return 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scaling model (hepflow.bench.model)")
    g.add_argument("--model-events", type=float, default=1e9,
                   help="dataset size the model predicts for (default 1e9 events)")
    g.add_argument("--storage-gbs", type=float, default=10.0,
                   help="aggregate storage bandwidth, GB/s (default 10)")
    g.add_argument("--nic-gbits", type=float, default=10.0,
                   help="network card per node, Gb/s (default 10)")
    g.add_argument("--workers-per-node", type=int, default=16)
    g.add_argument("--model-chunk-entries", type=float, default=None,
                   help="predict for chunks of this many entries (default: as measured)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `bench` (with `scaling` and `model`) to hepflow's sub-commands."""
    bench: argparse.ArgumentParser = subparsers.add_parser(
        "bench", help="benchmarks: scaling runs and the scaling model", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = bench.add_subparsers(dest="bench_command", required=True)
    p = sub.add_parser("scaling", help="run an analysis at several worker counts",
                       description="Strong or weak scaling of an analysis on one cluster; "
                                   "writes scaling.json, scaling.png and scaling.html.")
    p.add_argument("analysis", help="an analysis file, or dimuon, ttbar, training-prep")
    p.add_argument("--workers", type=_workers, default=(1, 2),
                   help="worker counts, e.g. 1,2,4 (default 1,2)")
    p.add_argument("--mode", choices=("strong", "weak"), default="strong")
    p.add_argument("--repeat", type=int, default=sized(3, 1),
                   help="timed runs per point (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--dataset", nargs="+", default=None,
                   help="a dataset file or ROOT files/globs (default: the generated "
                        "benchmark sample)")
    p.add_argument("--events", type=int, default=sized(2_000_000, 20_000),
                   help="events in the generated benchmark sample (default 2000000)")
    p.add_argument("--files", type=int, default=sized(8, 2),
                   help="files in the generated sample")
    p.add_argument("--sample-dir", default="bench-sample")
    p.add_argument("--chunk-entries", type=int, default=None)
    p.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler: measures its current size "
                        "only (default: one LocalCluster per worker count)")
    p.add_argument("--out", default="scaling-output", help="output folder")
    p.add_argument("--overhead-tasks", type=int, default=sized(1000, 100),
                   help="trivial tasks timed to measure the scheduler's per-task overhead")
    _add_model_options(p)
    p.set_defaults(func=_scaling)
    m = sub.add_parser("model", help="predict speed-ups at 10/100/1000 workers from a "
                                     "scaling.json")
    m.add_argument("scaling_json")
    m.add_argument("--targets", type=_workers, default=None, help="e.g. 10,100,1000")
    _add_model_options(m)
    m.set_defaults(func=_model)
    s = sub.add_parser("simulate", help="many simulated workers on one machine: the real "
                                        "scheduler and dispatch, chunk tasks that sleep",
                       description="Measures the scheduler's saturation, speed-up and "
                                   "efficiency against worker count, one task per chunk "
                                   "against batched dispatch, and calibrates the model.")
    s.add_argument("--workers", type=_workers, default=(100, 250, 500),
                   help="simulated worker counts (threads), default 100,250,500")
    s.add_argument("--processes", type=int, default=0,
                   help="worker processes (default: one per 25 simulated workers)")
    s.add_argument("--chunk-seconds", type=float, default=0.076,
                   help="measured seconds per chunk (default: ttbar's 0.076)")
    s.add_argument("--chunk-entries", type=int, default=125_000)
    s.add_argument("--task-seconds", type=float, default=1.67e-3,
                   help="scheduler seconds per task that batches are sized for")
    s.add_argument("--tasks-per-worker", type=int, default=4)
    s.add_argument("--min-seconds", type=float, default=10.0,
                   help="batched runs last at least this long ideally (default 10)")
    s.add_argument("--baseline-chunks-per-worker", type=int, default=8)
    s.add_argument("--partial-bytes", type=int, default=32_000,
                   help="size of each chunk's partial result")
    s.add_argument("--records", action="store_true",
                   help="send each chunk's record, as a real chunk does (costs worker CPU)")
    s.add_argument("--split-every", type=int, default=8)
    s.add_argument("--modes", default="per-chunk,batched")
    s.add_argument("--targets", type=_workers, default=None,
                   help="worker counts the calibrated model predicts (default 100,500,1000)")
    s.add_argument("--out", default="simulate-output")
    _add_model_options(s)
    s.set_defaults(func=_simulate)
    return bench


def main(argv: Sequence[str] | None = None, prog: str = "hepflow") -> int:
    """`hepflow bench ...` on its own (for `python -m benchmarks.*`)."""
    parser = argparse.ArgumentParser(prog=prog)
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def scaling_main(analysis: str, argv: Sequence[str] | None, prog: str) -> int:
    """`hepflow bench scaling ANALYSIS ...` for a benchmark module's own `main`: 1 and 2
    workers and an output folder named after the analysis unless the caller gives them."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--workers") for a in args):
        args += ["--workers", "1,2"]
    if not any(a.startswith("--out") for a in args):
        args += ["--out", f"scaling-{analysis}"]
    return main(["bench", "scaling", analysis, *args], prog=prog)


__all__ = ["add_parser", "main", "scaling_main"]
