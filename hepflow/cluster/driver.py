"""The program a detached batch job runs: ``python -m hepflow.cluster.driver``.

It is `hepflow.cluster.submit.submit` plus bookkeeping: before and after the
run it writes ``state.json`` in the job folder (running / finished / failed,
the error, the outputs), because the batch system only knows an exit code,
and forgets even that after a while; ``hepflow status`` reads both.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _write_state(path: Path | None, **state: Any) -> None:
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, default=str))
    tmp.replace(path)  # readers never see half a file


def main(argv: Sequence[str] | None = None) -> int:
    """Run one analysis file on a cluster config; the exit status says whether it worked."""
    parser = argparse.ArgumentParser(prog="python -m hepflow.cluster.driver",
                                     description=__doc__)
    parser.add_argument("analysis")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--outdir", default="hepflow-output")
    parser.add_argument("--report", default=None)
    parser.add_argument("--state", default=None, help="where to write the driver's state")
    args = parser.parse_args(argv)
    state_path = Path(args.state) if args.state else None
    base = {"host": socket.gethostname(), "pid": os.getpid(), "analysis": args.analysis,
            "started": time.time()}
    _write_state(state_path, state="running", **base)
    print(f"hepflow driver on {base['host']}: {args.analysis} with cluster {args.cluster}",
          flush=True)
    try:
        from hepflow.cluster.submit import submit

        summary = submit(args.analysis, args.cluster, dataset=args.dataset,
                         outdir=args.outdir, report=args.report, echo=True)
    except BaseException as err:  # noqa: BLE001 - every failure must reach state.json
        traceback.print_exc()
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        code = 130 if isinstance(err, KeyboardInterrupt) else 1
        _write_state(state_path, state="failed", error=message, exit_code=code,
                     finished=time.time(), **base)
        print(f"hepflow driver: FAILED: {message}", file=sys.stderr, flush=True)
        return code
    outdir = Path(args.outdir)
    outputs = sorted(str(p) for p in outdir.iterdir() if p.is_file()) if outdir.is_dir() else []
    _write_state(state_path, state="finished", exit_code=0, finished=time.time(),
                 outputs=outputs, report=args.report, **base)
    for name, result in summary.get("results", {}).items():
        print(f"{name}: {result}", flush=True)
    print(f"hepflow driver: finished; outputs in {args.outdir}, run report in {args.report}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
