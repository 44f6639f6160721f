"""How the command line reports a failure: one line plus a hint, and an exit status.

`hepflow`'s own commands and the subcommands of `hepflow.cluster` and
`hepflow.serve` report the same way; it lives below all of them so that
none of them reaches up to `hepflow.cli` for it.
"""

from __future__ import annotations

import sys

from hepflow.errors import HepflowError

#: Exit status of a refused input (a bad file, setting or expression) and of a bug.
USER_ERROR = 2
INTERNAL_ERROR = 1

_HINTS = {
    "ClusterConfigError": "check the cluster config (see deployments/README.md for examples)",
    "ClusterError": "check the scheduler address or cluster; `--cluster local` (or `hepflow run` "
                    "without `--scheduler`) runs on this machine",
    "SubmitError": "`hepflow status` lists detached jobs; `hepflow logs JOB` shows a driver log",
    "ConfigError": "check the serve config (see hepflow/serve/config.py for every setting)",
    "SnapshotError": "choose a writable file name for the Snapshot",
    "AnalysisError": "the analysis file itself failed; fix the line named above",
    "ExpressionError": "fix the expression in the analysis file",
    "PlanError": "the analysis file itself has a problem; try it with `--cluster local`",
    "ReadError": "check that the input file is complete and readable (`hepflow` retries "
                 "other replicas first)",
}


def report_error(command: str, err: BaseException) -> int:
    """Print `err` as one line plus a hint; the exit status for it.

    hepflow's own errors and operating-system errors (a missing or
    unreadable file) are the user's to fix; anything else is a bug, named as
    such, still without a traceback.
    """
    message = str(err).strip() or type(err).__name__
    if isinstance(err, (HepflowError, OSError)):
        print(f"hepflow {command}: error: {message}", file=sys.stderr)
        names = [c.__name__ for c in type(err).__mro__]
        hint = next((_HINTS[n] for n in names if n in _HINTS), None)
        print(f"hint: {hint} (--debug shows the traceback)" if hint
              else "hint: --debug shows the traceback", file=sys.stderr)
        return USER_ERROR
    first = message.splitlines()[0][:300]
    print(f"hepflow {command}: internal error: {type(err).__name__}: {first}",
          file=sys.stderr)
    print("hint: this is a bug in hepflow or a package it uses; rerun with --debug and "
          "report the traceback", file=sys.stderr)
    return INTERNAL_ERROR


__all__ = ["INTERNAL_ERROR", "USER_ERROR", "report_error"]
