"""Smoke size for the benchmarks: `HEPFLOW_BENCH_SMOKE=1` shrinks their defaults.

The benchmark commands of benchmarks/README.md take minutes at their default
size (2M events, several timed runs). With the variable set, each benchmark's
*defaults* become a smoke size (about 20k events, 2 files, 1 timed run, short
load steps, few scaling points), so the same command lines run in seconds: the
README test runs them as written. An option given on the command line still
wins, since only the argparse default changes.
"""

from __future__ import annotations

import os
from typing import TypeVar

#: The environment variable that selects the smoke size.
SMOKE_ENV = "HEPFLOW_BENCH_SMOKE"

T = TypeVar("T")


def smoke() -> bool:
    """Whether the benchmarks run at smoke size (`HEPFLOW_BENCH_SMOKE` set, not 0)."""
    return os.environ.get(SMOKE_ENV, "").strip() not in ("", "0")


def sized(full: T, small: T) -> T:
    """A benchmark default: `full` normally, `small` at smoke size."""
    return small if smoke() else full


__all__ = ["SMOKE_ENV", "sized", "smoke"]
