"""The compiled loop of `engine/stdsort.py`: libstdc++'s `std::sort` of positions, per event.

A module of its own so that numba is imported only when a sort runs, and so
that its functions live at module level, where numba's on-disk cache
(`cache=True`) finds them again in the next process.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

THRESHOLD = 16  # libstdc++'s _S_threshold
jit = numba.njit(cache=True, nogil=True)


@jit
def less(v: Any, idx: Any, a: int, b: int) -> bool:
    """ROOT's comparator: `v[i] < v[j]` of the positions held at slots a and b."""
    return bool(v[idx[a]] < v[idx[b]])


@jit
def less_value(v: Any, x: Any, idx: Any, b: int) -> bool:
    return bool(x < v[idx[b]])


@jit
def less_than_value(v: Any, idx: Any, a: int, x: Any) -> bool:
    return bool(v[idx[a]] < x)


@jit
def adjust_heap(v: Any, idx: Any, first: int, hole: int, length: int, value: Any) -> None:
    """Sift the hole down to a leaf along the larger children, then `value` up: the
    order libstdc++ moves elements in, which decides where ties end up."""
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(v, idx, first + child, first + child - 1):
            child -= 1
        idx[first + hole] = idx[first + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        idx[first + hole] = idx[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    x = v[value]
    while hole > top and less_than_value(v, idx, first + parent, x):
        idx[first + hole] = idx[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    idx[first + hole] = value


@jit
def heap_sort(v: Any, idx: Any, first: int, last: int) -> None:
    """The fallback of a range whose depth budget is spent: make-heap, then pop-heap."""
    length = last - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            adjust_heap(v, idx, first, parent, length, idx[first + parent])
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        value = idx[last]
        idx[last] = idx[first]
        adjust_heap(v, idx, first, 0, last - first, value)


@jit
def swap(idx: Any, a: int, b: int) -> None:
    idx[a], idx[b] = idx[b], idx[a]


@jit
def median_to_first(v: Any, idx: Any, result: int, a: int, b: int, c: int) -> None:
    """The median of a, b, c swapped into `result` (the pivot slot), ties as C++ breaks them."""
    if less(v, idx, a, b):
        if less(v, idx, b, c):
            swap(idx, result, b)
        elif less(v, idx, a, c):
            swap(idx, result, c)
        else:
            swap(idx, result, a)
    elif less(v, idx, a, c):
        swap(idx, result, a)
    elif less(v, idx, b, c):
        swap(idx, result, c)
    else:
        swap(idx, result, b)


@jit
def partition(v: Any, idx: Any, first: int, last: int) -> int:
    """Median-of-three pivot, then the unguarded Hoare partition; returns the cut."""
    mid = first + (last - first) // 2
    median_to_first(v, idx, first, first + 1, mid, last - 1)
    pivot = first
    lo, hi = first + 1, last
    while True:
        while lo < last and less(v, idx, lo, pivot):
            lo += 1
        hi -= 1
        while hi > first and less(v, idx, pivot, hi):
            hi -= 1
        if not lo < hi:
            return lo
        swap(idx, lo, hi)
        lo += 1


@jit
def linear_insert(v: Any, idx: Any, lowest: int, pos: int) -> None:
    """Move the element at `pos` left past the larger ones (strictly: ties stay)."""
    value = idx[pos]
    x = v[value]
    prev = pos - 1
    while prev >= lowest and less_value(v, x, idx, prev):
        idx[pos] = idx[prev]
        pos = prev
        prev -= 1
    idx[pos] = value


@jit
def insertion_sort(v: Any, idx: Any, first: int, last: int) -> None:
    for i in range(first + 1, last):
        if less(v, idx, i, first):
            value = idx[i]
            for k in range(i, first, -1):
                idx[k] = idx[k - 1]
            idx[first] = value
        else:
            linear_insert(v, idx, first, i)


@jit
def std_sort(v: Any, idx: Any) -> None:
    """`std::sort(idx, idx + n, comp)`: introsort to ranges of 16, then insertion sort."""
    n = len(idx)
    if n < 2:
        return
    depth = 0
    m = n
    while m > 1:
        m >>= 1
        depth += 1
    depth *= 2  # 2 * floor(log2 n)
    stack = np.empty((2 * depth + 4, 3), dtype=np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, n, depth
    top = 1
    while top:
        top -= 1
        first, last, limit = stack[top, 0], stack[top, 1], stack[top, 2]
        while last - first > THRESHOLD:
            if limit == 0:
                heap_sort(v, idx, first, last)
                break
            limit -= 1
            cut = partition(v, idx, first, last)
            stack[top, 0], stack[top, 1], stack[top, 2] = cut, last, limit
            top += 1
            last = cut
    if n > THRESHOLD:
        insertion_sort(v, idx, 0, THRESHOLD)
        for i in range(THRESHOLD, n):
            linear_insert(v, idx, 0, i)
    else:
        insertion_sort(v, idx, 0, n)


@jit
def per_event(offsets: Any, values: Any, out: Any) -> None:
    """Each event's positions 0..n-1 in `out`, sorted as ROOT's Argsort sorts them."""
    for e in range(len(offsets) - 1):
        lo, hi = offsets[e], offsets[e + 1]
        idx = out[lo:hi]
        for k in range(hi - lo):
            idx[k] = k
        std_sort(values[lo:hi], idx)


__all__ = ["THRESHOLD", "per_event"]
