"""The `hepflow` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from hepflow.demo import main

    return main(events=args.events, files=args.files, workers=args.workers, outdir=args.outdir)


def _run(args: argparse.Namespace) -> int:
    import distributed

    from hepflow.analysis import run
    from hepflow.cluster import local_cluster

    if args.scheduler:
        client = distributed.Client(args.scheduler)
        cluster = None
    else:
        cluster = local_cluster(args.workers)
        client = distributed.Client(cluster)
    try:
        print(f"Dask dashboard: {client.dashboard_link}")
        summary = run(args.analysis, dataset=args.dataset, outdir=args.outdir,
                      report=args.report)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for name, result in summary["results"].items():
        print(f"{name}: {result}")
    print(f"outputs in {args.outdir}" + (f", run report in {args.report}" if args.report
                                          else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from hepflow.samples.cli import add_parser as add_make_sample

    parser = argparse.ArgumentParser(prog="hepflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_make_sample(sub)
    from hepflow.cluster.cli import add_parser as add_cluster_commands

    add_cluster_commands(sub)
    from hepflow.serve.cli import add_parser as add_serve

    add_serve(sub)
    from hepflow.bench.cli import add_parser as add_bench

    add_bench(sub)
    demo = sub.add_parser("demo", help="run the dimuon analysis on a generated sample "
                                       "on a local Dask cluster")
    demo.add_argument("--events", type=int, default=400_000)
    demo.add_argument("--files", type=int, default=4)
    demo.add_argument("--workers", type=int, default=None)
    demo.add_argument("--outdir", default="demo-sample")
    demo.set_defaults(func=_demo)
    run = sub.add_parser("run", help="run an analysis file on a local cluster (or a given "
                                     "scheduler) and write its results")
    run.add_argument("analysis", help="a Python file booking results with hepflow's API")
    run.add_argument("--dataset", default=None, help="dataset file given to the analysis")
    run.add_argument("--outdir", default="hepflow-output")
    run.add_argument("--report", default=None, help="write the run report (JSON) here")
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
