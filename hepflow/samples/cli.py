"""``hepflow make-sample``: write a NanoAOD-like sample from the command line.

Kept apart from ``hepflow/cli.py`` so the sample generator owns its options;
the main CLI only calls :func:`add_parser` and dispatches to :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from hepflow.samples.generator import (
    COMPRESSION_DEFAULT_LEVELS,
    PROCESSES,
    make_sample,
    sample_layout,
)

__all__ = ["add_parser", "run"]


def _positive_int(text: str) -> int:
    """argparse type: reject zero and negative counts at parse time, not mid-run."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_parser(subparsers: Any) -> None:
    """Add the ``make-sample`` subcommand to an argparse subparsers object.

    Sets ``func=run`` as the subcommand's default so a dispatcher can call
    ``args.func(args)``.
    """
    p = subparsers.add_parser(
        "make-sample",
        help="write a NanoAOD-like sample (DY, ttbar, QCD, or their mixture) as ROOT files",
        description=(
            "Write a NanoAOD-like sample: one TTree 'Events' per file, counters "
            "with counter-sized arrays (nMuon/Muon_pt[nMuon], ...), a truth label "
            "'process' (0 DY Z->mumu, 1 ttbar, 2 QCD) and many unused branches."
        ),
    )
    p.add_argument("outdir", help="directory to write {name}_{i:03d}.root into")
    p.add_argument(
        "--events",
        type=_non_negative_int,
        default=100_000,
        help="total events (default: %(default)s)",
    )
    p.add_argument(
        "--files",
        type=_positive_int,
        default=1,
        help="number of files; events split evenly (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument(
        "--compression",
        type=str.upper,
        choices=sorted(COMPRESSION_DEFAULT_LEVELS),
        default="ZSTD",
        help="compression algorithm (default: %(default)s)",
    )
    p.add_argument(
        "--compression-level",
        type=_non_negative_int,
        default=None,
        help="compression level (default: ZSTD 5, LZ4 4, ZLIB 1)",
    )
    p.add_argument(
        "--basket-entries",
        type=_positive_int,
        default=25_000,
        help="events per basket / ROOT cluster (default: %(default)s)",
    )
    p.add_argument(
        "--extra-branches",
        type=_non_negative_int,
        default=100,
        help="unused flat float branches (default: %(default)s)",
    )
    p.add_argument(
        "--branches",
        type=_positive_int,
        default=None,
        help="total branch count target; overrides --extra-branches",
    )
    p.add_argument("--name", default="sample", help="file name stem (default: %(default)s)")
    p.add_argument(
        "--process",
        choices=list(PROCESSES),
        default="mix",
        help="which process the events are: DY Z->mumu, ttbar or QCD alone (one sample "
        "per process, as a dataset has them), or their mixture (default: %(default)s)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the sample, print a summary and the write rate; return an exit status."""
    try:
        n_branches = sample_layout(args.extra_branches, args.branches).n_branches
        start = time.perf_counter()
        paths = make_sample(
            args.outdir,
            events=args.events,
            files=args.files,
            seed=args.seed,
            compression=args.compression,
            compression_level=args.compression_level,
            basket_entries=args.basket_entries,
            extra_branches=args.extra_branches,
            branches=args.branches,
            name=args.name,
            process=args.process,
        )
        elapsed = time.perf_counter() - start
    except ValueError as err:
        print(f"hepflow make-sample: error: {err}")
        return 2
    size = sum(os.path.getsize(p) for p in paths)
    level = args.compression_level
    if level is None:
        level = COMPRESSION_DEFAULT_LEVELS[args.compression]
    print(
        f"wrote {args.events:,} {args.process} events in {len(paths)} file(s) to {args.outdir} "
        f"({n_branches} branches, {args.compression}({level}), {size / 1e6:.1f} MB)"
    )
    rate = args.events / elapsed if elapsed > 0 else float("inf")
    print(f"{elapsed:.2f} s, {rate:,.0f} events/s")
    return 0
