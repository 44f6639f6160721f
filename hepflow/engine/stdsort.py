"""ROOT's `Argsort` and `Sort`: the order C++'s `std::sort` (GNU libstdc++) leaves ties in.

ROOT's `Argsort(v)` is `std::sort` of the indices `0..n-1` compared by
`v[i] < v[j]`, and `std::sort` is not stable: beyond 16 elements, the
introsort's median-of-three partitioning moves equal elements past each
other, so a stable sort gives another order of ties than ROOT (and another
`Take(v, Argsort(v))` of a second, tied-by-the-first column). This module
follows the algorithm libstdc++ uses, step by step, so hepflow's order is
ROOT's (`StableArgsort`/`StableSort` stay stable, as in ROOT):

- introsort loop while a range has more than 16 elements: median of
  (first + 1, middle, last - 1) moved to first, unguarded Hoare partition
  around it, the right part handled fully before the left one (the parts
  are independent, so an explicit stack gives the same result as recursion);
- a range whose depth budget (2 floor(log2 n)) is spent is heapsorted
  (make-heap, then pop-heap to the end, libstdc++'s sift-down-then-up);
- a final insertion sort over the whole range, guarded for the first 16
  elements and unguarded after them.

`Sort(v)` is `std::sort` of the values with `<`: the same comparisons, so the
same permutation, so it is `v` in `Argsort(v)`'s order. The "unguarded" scans
are bounded here too, which changes nothing for a strict weak order (they
stop at the sentinel C++ relies on) and keeps a NaN, where C++'s order is
undefined, from reading past the collection.

One compiled loop (`engine/stdsort_kernel.py`) runs over a chunk's flat contents
and offsets; numba compiles it on first use (per element type) and caches it on
disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def argsort(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-event `std::sort` order of `values` (grouped by int64 `offsets` from 0), as
    positions within each event (uint64, C++'s size_t)."""
    out = np.empty(len(values), dtype=np.uint64)
    if len(values):
        _kernel()(np.ascontiguousarray(offsets, dtype=np.int64),
                  np.ascontiguousarray(values), out)
    return out


def _kernel() -> Any:
    """The compiled loop, imported (and numba with it) on first use."""
    from hepflow.engine.stdsort_kernel import per_event

    return per_event


__all__ = ["argsort"]
