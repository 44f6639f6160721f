"""Element-wise work on collections as numpy on their flat contents.

Most collection arithmetic of an analysis combines lists that line up: the
branches of one counter (`Jet_pt * cos(Jet_phi)`), per-event values applied
to every element (`Jet_pt > 25`), and lists derived from those. Awkward's
general broadcasting re-derives that alignment at every operation; here a
plain list array (`ListOffsetArray` of a 1-d `NumpyArray`, what the reader,
filters and these functions produce) is split into offsets and contents once,
the operation runs as one numpy call on the contents, and the result shares
the offsets array, so the next operation sees by identity that it lines up.
Anything else (nested lists, records, options, misaligned lists) returns
`None` and takes awkward's general path.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np

Parts = tuple[np.ndarray, np.ndarray]  # (int64 offsets starting at 0, flat contents)


def parts(value: Any) -> Parts | None:
    """The offsets and flat contents of a plain list array, else None."""
    if not isinstance(value, ak.Array):
        return None
    layout = value.layout
    if not isinstance(layout, ak.contents.ListOffsetArray) or layout.parameters:
        return None
    content = layout.content
    if not isinstance(content, ak.contents.NumpyArray) or content.parameters:
        return None
    offsets = np.asarray(layout.offsets.data)
    data = np.asarray(content.data)
    if data.ndim != 1 or offsets.dtype != np.int64 or not len(offsets):
        return None
    if offsets[0] != 0:
        data = data[int(offsets[0]):int(offsets[-1])]
        offsets = offsets - offsets[0]
    elif len(data) != offsets[-1]:
        data = data[:int(offsets[-1])]
    return offsets, data


def wrap(offsets: np.ndarray, data: np.ndarray) -> ak.Array:
    """A list array of `data` grouped by `offsets` (no copy)."""
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets),
                                                ak.contents.NumpyArray(data)))


def elementwise(func: Callable[..., Any], *args: Any) -> Any:
    """`func` applied element by element, on flat contents, or None if it cannot be.

    At least one argument must be a plain list array; the others are list
    arrays with the same offsets, per-event numpy arrays (repeated for every
    element of their event) or scalars. The result is a list array sharing the
    first list's offsets.
    """
    split = [parts(a) for a in args]
    lists = [p for p in split if p is not None]
    if not lists:
        return None
    offsets = lists[0][0]
    for other, _ in lists[1:]:
        if other is not offsets and not np.array_equal(other, offsets):
            return None
    flat: list[Any] = []
    counts: np.ndarray | None = None
    for arg, part in zip(args, split, strict=True):
        if part is not None:
            flat.append(part[1])
        elif isinstance(arg, ak.Array):
            return None  # a list array of another layout: awkward's general path
        elif isinstance(arg, np.ndarray) and arg.ndim:
            if arg.ndim != 1 or len(arg) != len(offsets) - 1:
                return None
            counts = np.diff(offsets) if counts is None else counts
            flat.append(np.repeat(arg, counts))
        else:
            flat.append(arg)
    out = np.asarray(func(*flat))
    if out.shape != (int(offsets[-1]),):
        return None
    return wrap(offsets, out)


def select(value: Any, mask: Any) -> ak.Array | None:
    """`value[mask]` for a per-element boolean mask, on flat contents, or None.

    The new offsets depend only on the mask, so lists selected with the same
    mask (`Jet_pt[jet_ok]`, `Jet_eta[jet_ok]`, ...) share them; the last few
    masks' offsets are remembered for that.
    """
    vparts, mparts = parts(value), parts(mask)
    if vparts is None or mparts is None or mparts[1].dtype != np.bool_:
        return None
    offsets, data = vparts
    moffsets, keep = mparts
    if moffsets is not offsets and not np.array_equal(moffsets, offsets):
        return None

    def new_offsets() -> np.ndarray:
        running = np.empty(len(keep) + 1, dtype=np.int64)
        running[0] = 0
        np.cumsum(keep, out=running[1:])
        return running[offsets]

    # keyed by the mask's arrays: values read with offsets of their own share them too
    return wrap(_SELECTED.get((moffsets, keep), new_offsets), data[keep])


class Memo:
    """The last few results computed from some arrays, by the arrays' identity.

    Entries hold weak references to their keys, so a recycled `id()` never
    returns another array's result, and the memo never keeps arrays alive.
    """

    def __init__(self, kept: int = 16) -> None:
        self.kept = kept
        self._found: OrderedDict[tuple[int, ...],
                                 tuple[tuple[weakref.ref[np.ndarray], ...], Any]] = OrderedDict()

    def get(self, keys: tuple[np.ndarray, ...], make: Callable[[], Any]) -> Any:
        key = tuple(id(k) for k in keys)
        found = self._found.get(key)
        if found is not None and all(r() is k for r, k in zip(found[0], keys, strict=True)):
            return found[1]
        value = make()
        self._found[key] = (tuple(weakref.ref(k) for k in keys), value)
        while len(self._found) > self.kept:
            self._found.popitem(last=False)
        return value


_SELECTED = Memo()
_GATHER = Memo()


def take(value: Any, index: Any) -> ak.Array | None:
    """`value[index]` per event for lists of in-range element indices, or None.

    Returns None also when some index is out of range (the caller names it).
    The gather positions depend only on the two offsets and the indices, so
    the `Take`s of one index list from aligned collections (a trijet's px,
    py, pz, E) compute them once.
    """
    vparts, iparts = parts(value), parts(index)
    if vparts is None or iparts is None or iparts[1].dtype.kind not in "iu":
        return None
    offsets, data = vparts
    ioffsets, local = iparts

    def positions() -> np.ndarray | None:
        per = np.diff(ioffsets)
        # uint64 (size_t) indices as int64 bits: any index >= 2**63 turns negative, out of range
        local64 = local.view(np.int64) if local.dtype.itemsize == 8 else local.astype(np.int64)
        sizes = np.repeat(np.diff(offsets), per)
        if len(local64) and (local64.min() < 0 or (local64 >= sizes).any()):
            return None
        return np.repeat(offsets[:-1], per) + local64

    if len(offsets) != len(ioffsets):
        return None
    found = _GATHER.get((offsets, ioffsets, local), positions)
    if found is None:
        return None
    return wrap(ioffsets, data[found])


def _tables(largest: int, k: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Every k-subset of range(c), for c = 0..largest, in lexicographic order (ROOT's and
    itertools'), stacked: one flat column per subset position, and where each c starts."""
    found = _TABLES.get((largest, k))
    if found is None:
        rows = [row for c in range(largest + 1) for row in itertools.combinations(range(c), k)]
        table = np.array(rows, dtype=np.uint64).reshape(-1, k)
        starts = np.array([0, *itertools.accumulate(math.comb(c, k)
                                                    for c in range(largest + 1))],
                          dtype=np.int64)
        found = (tuple(np.ascontiguousarray(table[:, i]) for i in range(k)), starts)
        _TABLES[(largest, k)] = found
    return found


_TABLES: dict[tuple[int, int], tuple[tuple[np.ndarray, ...], np.ndarray]] = {}
#: Stacked tables above this many indices (events of many elements, large k): awkward's path.
_TABLE_LIMIT = 4_000_000


def combinations(value: Any, k: int, guard: Callable[[int, str], None]) -> ak.Array | None:
    """ROOT's `Combinations(v, k)`: k index lists, lexicographic per event, or None.

    Each event's indices are rows of one precomputed table per element count
    (`_tables`), gathered with one numpy index per subset position, so nothing
    is built combination by combination; the result is a list of records
    `{"0": i0, "1": i1, ...}` whose index lists share one offsets array (what
    `trijet[0]`, `Take` and the flat path use). `guard` refuses absurd totals
    before anything is allocated.
    """
    found = parts(value)
    if found is None or k < 1:
        return None
    counts = np.diff(found[0])
    largest = int(counts.max(initial=0))
    if math.comb(largest + 1, k + 1) * k > _TABLE_LIMIT:  # the stacked tables' size
        return None
    columns, starts = _tables(max(largest, 1), k)
    sizes = np.diff(starts)[counts]
    new_offsets = np.empty(len(counts) + 1, dtype=np.int64)
    new_offsets[0] = 0
    np.cumsum(sizes, out=new_offsets[1:])
    total = int(new_offsets[-1])
    guard(total * k, "Combinations")
    rows = np.repeat(starts[:-1][counts] - new_offsets[:-1], sizes)
    rows += np.arange(total, dtype=np.int64)
    fields = [ak.contents.NumpyArray(column[rows]) for column in columns]
    return ak.Array(ak.contents.ListOffsetArray(
        ak.index.Index64(new_offsets),
        ak.contents.RecordArray(fields, [str(i) for i in range(k)], length=total)))


__all__ = ["Memo", "Parts", "combinations", "elementwise", "parts", "select", "take", "wrap"]
