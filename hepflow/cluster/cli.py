"""``hepflow submit``, ``hepflow status`` and ``hepflow logs``.

Wired into the main command line with one call, ``add_parser(subparsers)``.
Errors print as one line plus a hint (``--debug`` shows the traceback):
a physicist at a login node needs to know which file or setting to fix,
not where in hepflow the problem was noticed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from hepflow.errorreport import report_error

_SUBMIT_EPILOG = """examples:
  hepflow submit examples/dimuon.py --cluster local --dataset data.yaml
  hepflow submit examples/dimuon.py --cluster slurm.yaml --dataset data.yaml --report run.json
  hepflow submit examples/dimuon.py --cluster site.yaml#short --dataset data.yaml --detach
  hepflow submit examples/dimuon.py --cluster tcp://scheduler:8786 --dataset data.yaml
"""

def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn every error into one line plus a hint (`hepflow.errorreport.report_error`), unless
    ``--debug``; so these commands behave the same when wired into another parser."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except Exception as err:
            if getattr(args, "debug", False) or getattr(args, "debug_all", False):
                raise
            return report_error(args.command, err)

    return run


def _submit(args: argparse.Namespace) -> int:
    from hepflow.cluster.submit import format_status, submit, submit_detached, wait_for_job

    if args.detach:
        record = submit_detached(args.analysis, args.cluster, dataset=args.dataset,
                                 outdir=args.outdir, report=args.report,
                                 job_name=args.job_name)
        print(record.job_id)
        print(f"submitted {record.backend} job {record.job_id}; follow it with "
              f"`hepflow status {record.job_id}` and `hepflow logs {record.job_id}`",
              file=sys.stderr)
        print(f"outputs will be in {record.outdir}, the run report in {record.report}, "
              f"the driver log in {record.log}", file=sys.stderr)
        if args.wait is not None:
            status = wait_for_job(record, args.wait)
            print(format_status(status), file=sys.stderr)
            return 0 if status["status"] == "FINISHED" else 1
        return 0
    summary = submit(args.analysis, args.cluster, dataset=args.dataset, outdir=args.outdir,
                     report=args.report, echo=True)
    where = summary["cluster"]
    print(f"ran on {where['backend']} ({where['workers']} workers)")
    for name, result in summary["results"].items():
        print(f"{name}: {result}")
    print(f"outputs in {args.outdir}" + (f", run report in {args.report}" if args.report
                                          else ""))
    return 0


def _status(args: argparse.Namespace) -> int:
    from hepflow.cluster.submit import (
        find_job,
        format_status,
        job_status,
        list_jobs,
        wait_for_job,
    )

    if args.all:
        rows = [job_status(record) for record in list_jobs()]
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in rows if not args.json else []:
            print(f"{row['job']:<20} {row['status']:<10} {row['analysis']}")
        return 0
    record = find_job(args.job)
    status = (wait_for_job(record, args.wait) if args.wait is not None
              else job_status(record))
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 1 if status["status"] == "FAILED" else 0


def _logs(args: argparse.Namespace) -> int:
    from hepflow.cluster.submit import find_job, follow_log, read_log

    record = find_job(args.job)
    if args.follow:
        for chunk in follow_log(record):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    else:
        sys.stdout.write(read_log(record, tail=args.tail))
    print(f"(driver log: {record.log}; worker logs: {record.jobdir}/workers)", file=sys.stderr)
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``submit``, ``status`` and ``logs`` to the ``hepflow`` command's subparsers."""
    submit = subparsers.add_parser(
        "submit", help="run an analysis file on a cluster (local, Slurm, HTCondor, Kubernetes, "
                       "Dask Gateway, a scheduler), or submit it as a batch job with --detach",
        description="Run an analysis file on the cluster named by --cluster and write its "
                    "histograms (ROOT + PNG), results.json and the run report.",
        epilog=_SUBMIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    submit.add_argument("analysis", help="a Python file booking results with hepflow's API")
    submit.add_argument("--cluster", required=True,
                        help="a cluster config file (FILE or FILE#NAME), a backend name "
                             "(local, slurm, htcondor) or a scheduler address")
    submit.add_argument("--dataset", default=None, help="dataset file given to the analysis")
    submit.add_argument("--outdir", default="hepflow-output",
                        help="where outputs go (default: hepflow-output)")
    submit.add_argument("--report", default=None,
                        help="write the run report (JSON) here (--detach: default "
                             "OUTDIR/run.json)")
    submit.add_argument("--detach", action="store_true",
                        help="submit the driver itself as a batch job and print its job id")
    submit.add_argument("--job-name", default=None, help="batch job name of the driver")
    submit.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="with --detach: wait up to SECONDS for the job to end")
    submit.add_argument("--debug", action="store_true", help="show tracebacks")
    submit.set_defaults(func=_guarded(_submit))

    status = subparsers.add_parser(
        "status", help="state of a detached job (default: the latest), its outputs and log",
        epilog="examples:\n  hepflow status\n  hepflow status 1234 --wait 600\n"
               "  hepflow status --all", formatter_class=argparse.RawDescriptionHelpFormatter)
    status.add_argument("job", nargs="?", default=None,
                        help="job id, slurm-ID / htcondor-ID, or the job folder")
    status.add_argument("--all", action="store_true", help="list every recorded job")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="wait up to SECONDS for the job to end")
    status.add_argument("--debug", action="store_true", help="show tracebacks")
    status.set_defaults(func=_guarded(_status))

    logs = subparsers.add_parser(
        "logs", help="the driver log of a detached job (default: the latest)",
        epilog="examples:\n  hepflow logs 1234\n  hepflow logs --follow",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    logs.add_argument("job", nargs="?", default=None,
                      help="job id, slurm-ID / htcondor-ID, or the job folder")
    logs.add_argument("--follow", "-f", action="store_true",
                      help="keep printing until the job ends")
    logs.add_argument("--tail", type=int, default=None, metavar="N", help="last N lines only")
    logs.add_argument("--debug", action="store_true", help="show tracebacks")
    logs.set_defaults(func=_guarded(_logs))


__all__ = ["add_parser"]
