"""Narrowing chunk columns to a filter's events: equal to awkward's indexing, lists compact."""

from __future__ import annotations

import awkward as ak
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hepflow.engine.narrowing import take_events


@given(st.lists(st.integers(0, 4), max_size=40), st.data())
def test_take_events_equals_awkward_indexing(counts: list[int], data: st.DataObject) -> None:
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    values = np.arange(offsets[-1], dtype=np.float32) * 1.5
    # a chunk's lists may start inside a larger content (offsets[0] > 0)
    pad = data.draw(st.integers(0, 3))
    content = np.concatenate([np.full(pad, -1.0, np.float32), values])
    lists = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets + pad),
                                                 ak.contents.NumpyArray(content)))
    sibling = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets + pad),
                                                   ak.contents.NumpyArray(content * 2)))
    keep = data.draw(st.lists(st.booleans(), min_size=len(counts), max_size=len(counts)))
    index = np.flatnonzero(np.asarray(keep, dtype=bool))
    selections: dict = {}
    got = take_events(lists, index, selections)
    assert ak.to_list(got) == ak.to_list(lists[index])
    assert ak.to_list(take_events(sibling, index, selections)) == ak.to_list(sibling[index])
    layout = got.layout
    assert isinstance(layout, ak.contents.ListOffsetArray)
    assert int(layout.offsets[0]) == 0 and len(layout.content) == int(layout.offsets[-1])


def test_siblings_share_offsets_and_flat_columns_pass_through() -> None:
    offsets = np.array([0, 2, 2, 5], dtype=np.int64)

    def make(scale: float) -> ak.Array:
        return ak.Array(ak.contents.ListOffsetArray(
            ak.index.Index64(offsets), ak.contents.NumpyArray(np.arange(5.0) * scale)))

    selections: dict = {}
    index = np.array([0, 2])
    a, b = take_events(make(1), index, selections), take_events(make(2), index, selections)
    assert a.layout.offsets.data is b.layout.offsets.data
    assert ak.to_list(b) == [[0.0, 2.0], [4.0, 6.0, 8.0]]
    flat = np.array([1, 2, 3])
    assert take_events(flat, index, selections).tolist() == [1, 3]
    strings = ak.Array(["ab", "", "cde"])
    assert ak.to_list(take_events(strings, index, selections)) == ["ab", "cde"]
    nested = ak.Array([[[1], [2, 3]], [], [[4]]])
    assert ak.to_list(take_events(nested, index, selections)) == [[[1], [2, 3]], [[4]]]
