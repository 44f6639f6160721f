"""Taking a filter's events out of a chunk column, lists included, without lazy carries.

Indexing an awkward list array by event leaves a `ListArray` whose elements
are scattered through the old content, and every later step (flattening for
a four-vector sum, arithmetic, filling) gathers them again. Columns read from
one counter branch share one offsets array (see `hepflow.io.baskets`), so the
element selection of a filter is computed once per offsets array and each such
column is narrowed with one boolean index into a compact list array that again
shares its offsets with its siblings.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

#: Per offsets array (by identity, kept alive with its entry): the element mask and new offsets.
Selections = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def take_events(value: Any, index: np.ndarray, selections: Selections) -> Any:
    """`value[index]` for the events `index` of a chunk column."""
    if isinstance(value, ak.Array):
        layout = value.layout
        if (isinstance(layout, ak.contents.ListOffsetArray) and not layout.parameters
                and isinstance(layout.content, ak.contents.NumpyArray)
                and not layout.content.parameters and layout.content.data.ndim == 1):
            return _take_lists(layout, index, selections)
    return value[index]


def _take_lists(layout: ak.contents.ListOffsetArray, index: np.ndarray,
                selections: Selections) -> ak.Array:
    offsets = np.asarray(layout.offsets.data)
    found = selections.get(id(offsets))
    if found is None or found[0] is not offsets:
        counts = np.diff(offsets)
        keep = np.zeros(len(counts), dtype=np.bool_)
        keep[index] = True
        new_offsets = np.empty(len(index) + 1, dtype=np.int64)
        new_offsets[0] = 0
        np.cumsum(counts[index], out=new_offsets[1:])
        found = (offsets, np.repeat(keep, counts), new_offsets)
        selections[id(offsets)] = found
    _, elements, new_offsets = found
    data = np.asarray(layout.content.data)[int(offsets[0]):int(offsets[-1])][elements]
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(new_offsets),
                                                ak.contents.NumpyArray(data)))


__all__ = ["Selections", "take_events"]
