"""The `hepflow` command line.

Every failure prints as one line (``hepflow COMMAND: error: ...``) plus a hint,
and the command exits non-zero; a physicist at a login node needs to know
which file or setting to fix, not where in hepflow it was noticed.
``hepflow --debug COMMAND`` (or a command's own ``--debug``) shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hepflow.errorreport import report_error


def _demo(args: argparse.Namespace) -> int:
    from hepflow.demo import main

    return main(events=args.events, files=args.files, workers=args.workers, outdir=args.outdir)


def _run(args: argparse.Namespace) -> int:
    import distributed

    from hepflow.analysis import check_output_folder, check_report_file, run
    from hepflow.cluster import local_cluster
    from hepflow.engine.localcluster import close_quietly
    from hepflow.errors import ClusterError, PlanError

    # Everything that can be checked without a cluster is checked before one starts.
    if not Path(args.analysis).is_file():
        raise PlanError(f"analysis file {args.analysis} does not exist")
    if args.dataset is not None and not Path(args.dataset).is_file():
        raise PlanError(f"dataset file {args.dataset} does not exist")
    if args.report is not None:
        check_report_file(args.report)
    check_output_folder(args.outdir)
    if args.scheduler:
        try:
            client = distributed.Client(args.scheduler, timeout=args.timeout)
        except (OSError, ValueError) as err:
            raise ClusterError(f"cannot reach the Dask scheduler {args.scheduler} within "
                               f"{args.timeout:g} s: {err}") from err
        cluster = None
    else:
        cluster = local_cluster(args.workers)
        client = distributed.Client(cluster)
    try:
        print(f"Dask dashboard: {client.dashboard_link}")
        summary = run(args.analysis, dataset=args.dataset, outdir=args.outdir,
                      report=args.report)
    finally:
        if cluster is not None:
            close_quietly(client, cluster)
        else:
            client.close()
    for name, result in summary["results"].items():
        print(f"{name}: {result}")
    print(f"outputs in {args.outdir}" + (f", run report in {args.report}" if args.report
                                          else ""))
    return 0


def _version() -> str:
    """hepflow's version and the dask/distributed it runs with (they are not pinned)."""
    from importlib.metadata import PackageNotFoundError, version

    from hepflow.version import __version__

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"hepflow {__version__} (dask {of('dask')}, distributed {of('distributed')})"


def build_parser() -> argparse.ArgumentParser:
    from hepflow.samples.cli import add_parser as add_make_sample

    parser = argparse.ArgumentParser(prog="hepflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", dest="debug_all", action="store_true",
                        help="show tracebacks instead of one-line errors")
    parser.add_argument("--version", action="version", version=_version())
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
    run.add_argument("--timeout", type=float, default=30.0,
                     help="seconds to wait for --scheduler (default 30)")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `hepflow` command; errors become one line on stderr and a non-zero status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"hepflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug_all or getattr(args, "debug", False):
            raise
        return report_error(args.command, err)


if __name__ == "__main__":
    sys.exit(main())
