"""The `hepflow` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from hepflow.demo import main

    return main(events=args.events, files=args.files, workers=args.workers, outdir=args.outdir)


def build_parser() -> argparse.ArgumentParser:
    from hepflow.samples.cli import add_parser as add_make_sample

    parser = argparse.ArgumentParser(prog="hepflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_make_sample(sub)
    demo = sub.add_parser("demo", help="run the dimuon analysis on a generated sample "
                                       "on a local Dask cluster")
    demo.add_argument("--events", type=int, default=400_000)
    demo.add_argument("--files", type=int, default=4)
    demo.add_argument("--workers", type=int, default=None)
    demo.add_argument("--outdir", default="demo-sample")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
