"""Dimuon analysis over root:// from a local XRootD server vs. over local files, same run.

    python -m benchmarks.remote [--events 2000000 --files 8 --workers 2 --repeat 3]

Both read the same generated sample (the one `benchmarks.dimuon` makes, in
./bench-sample); the XRootD server (Debian's xrootd, unprivileged, 127.0.0.1)
exports that directory. Runs are interleaved after one warm-up of each, on one
cluster, and results are checked to be identical. Prints events/s for both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.dimuon import ensure_sample, run_hepflow
from hepflow.bench.smoke import sized


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=sized(2_000_000, 20_000))
    p.add_argument("--files", type=int, default=sized(8, 2))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=sized(3, 1))
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.testing import XRootDServer, xrootd_available

    if not xrootd_available():
        raise SystemExit("Debian's xrootd-server is not installed (make system-deps)")
    outdir = args.outdir.resolve()
    files = ensure_sample(outdir, args.events, args.files)
    with XRootDServer(outdir, name="bench-site") as server, \
            local_cluster(args.workers) as cluster, distributed.Client(cluster) as client:
        urls = [server.url(Path(f).name) for f in files]
        print(f"XRootD server {server.address} exporting {outdir}")
        variants = {"local": list(files), "root://": urls}
        times: dict[str, list[float]] = {k: [] for k in variants}
        results: dict[str, Any] = {}
        for name, inputs in variants.items():
            outcome = run_hepflow(inputs, client, None)
            results[name] = outcome
            print(f"warm-up {name}: {outcome.total_s:.2f} s")
        for _ in range(args.repeat):
            for name, inputs in variants.items():
                outcome = run_hepflow(inputs, client, None)
                times[name].append(outcome.total_s)
        same = results["local"].count == results["root://"].count and \
            (results["local"].hist.values(flow=True) == results["root://"].hist.values(
                flow=True)).all()
    summary = {}
    print(f"\n{'input':<10}{'best s':>10}{'median s':>10}{'events/s (best)':>20}")
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        rate = args.events / best
        summary[name] = {"best_s": best, "median_s": median, "events_per_s": rate}
        print(f"{name:<10}{best:>10.3f}{median:>10.3f}{rate:>20,.0f}")
    ratio = summary["root://"]["events_per_s"] / summary["local"]["events_per_s"]
    print(f"\nroot:// throughput / local throughput: {ratio:.2f}")
    print("results identical" if same else "MISMATCH between local and root:// results")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "ratio": ratio, "same": bool(same),
                                         "events": args.events, "files": args.files,
                                         "workers": args.workers, "when": time.time()},
                                        indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
