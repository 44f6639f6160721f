"""`AsNumpy`'s columns: each chunk's pieces joined into one numpy array, in place.

A column of one number per event is one `np.concatenate`. A collection
column is an object array holding one numpy array per event, as ROOT's
`AsNumpy` holds one `RVec` per event; here every event's array is a view
into one flat buffer per column, filled piece by piece from the pieces'
contents and offsets. No per-event Python list or per-event buffer is made,
so assembling the result needs the pieces, the result and one piece's
offsets at once (the old way, `ak.to_list` of the concatenated column, took
about 9x the data). Pieces of any other shape (nested collections, records,
strings, options) are converted one piece at a time into the preallocated
object array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np

#: What one event's array costs beyond its values: the array object and its pointer.
PER_EVENT_BYTES = 8 + 112


def numpy_column(parts: Sequence[Any]) -> np.ndarray:
    """The pieces of one column (numpy or awkward, in chunk order) as one numpy array."""
    if not parts:
        return np.array([])
    if not any(isinstance(p, ak.Array) for p in parts):
        joined = np.concatenate([np.asarray(p) for p in parts])
        # strings as ROOT's AsNumpy gives them: an object array of str, not numpy's
        # fixed-width `<U` (as wide as the longest string of the whole column)
        return joined.astype(object) if joined.dtype.kind == "U" else joined
    lists = [_flat_list(p) for p in parts]
    if all(x is not None for x in lists):
        return _views([x for x in lists if x is not None])
    return _objects(parts)


def nbytes_needed(parts: Sequence[Any]) -> int:
    """About how many bytes `numpy_column(parts)` needs for its result."""
    total = 0
    for part in parts:
        total += int(part.nbytes)
        if isinstance(part, ak.Array):
            total += PER_EVENT_BYTES * len(part)
    return total


def _flat_list(part: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(offsets, content) of a piece that is one list of plain numbers per event, else None."""
    if not isinstance(part, ak.Array):
        return None
    layout = part.layout
    if isinstance(layout, ak.contents.RegularArray):
        layout = layout.to_ListOffsetArray64(False)
    if not isinstance(layout, (ak.contents.ListOffsetArray, ak.contents.ListArray)) or \
            layout.parameter("__array__") is not None:
        return None
    if isinstance(layout, ak.contents.ListArray):
        layout = layout.to_ListOffsetArray64(True)
    content = layout.content
    if not isinstance(content, ak.contents.NumpyArray) or \
            content.parameter("__array__") is not None:
        return None
    data = np.asarray(content.data)
    if data.ndim != 1:
        return None
    return np.asarray(layout.offsets.data, dtype=np.int64), data


def _views(lists: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One object array of per-event views into one flat buffer, filled piece by piece."""
    rows = sum(len(offsets) - 1 for offsets, _ in lists)
    size = sum(int(offsets[-1] - offsets[0]) for offsets, _ in lists)
    filled = [c.dtype for o, c in lists if o[-1] > o[0]]  # an empty chunk's type may differ
    flat = np.empty(size, dtype=np.result_type(*(filled or [lists[0][1].dtype])))
    out = np.empty(rows, dtype=object)
    row = position = 0
    for offsets, content in lists:
        lo, hi = int(offsets[0]), int(offsets[-1])
        flat[position:position + hi - lo] = content[lo:hi]
        starts = (offsets - (lo - position)).tolist()
        for i in range(len(starts) - 1):
            out[row + i] = flat[starts[i]:starts[i + 1]]
        row += len(starts) - 1
        position += hi - lo
    return out


def _objects(parts: Sequence[Any]) -> np.ndarray:
    """Any other column: one numpy array per event, converted one piece at a time."""
    out = np.empty(sum(len(p) for p in parts), dtype=object)
    row = 0
    for part in parts:
        for item in ak.to_list(part) if isinstance(part, ak.Array) else part.tolist():
            out[row] = _element(item)
            row += 1
    return out


def _element(item: Any) -> np.ndarray:
    """One event's value as a numpy array; lists of different lengths as an object array."""
    try:
        return np.asarray(item)
    except ValueError:  # ragged inside the event, as `RVec<RVec<int>>`
        out = np.empty(len(item), dtype=object)
        for i, inner in enumerate(item):
            out[i] = _element(inner)
        return out


__all__ = ["PER_EVENT_BYTES", "nbytes_needed", "numpy_column"]
