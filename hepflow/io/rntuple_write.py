"""Writing an RNTuple with a checksum after every page, as ROOT writes it.

uproot's RNTuple writer checksums its envelopes but not its pages, so damage
to a page of a hepflow snapshot could never be detected. ROOT stores the
xxh3-64 of a page's stored (compressed) bytes in the 8 bytes right after the
page, outside the page's locator, and marks the page by a negative element
count in its page list entry (RNTuple binary format specification 1.0, "Page
Locations"); ROOT's reader then verifies it, and so does hepflow's
(`hepflow.io.rntuple_checksums`).

The RNTuple is still written by uproot: `ChecksummedNTuple` changes only how
uproot's writer stores each blob. Every blob is followed by the xxh3-64 of its
bytes (for an envelope that is 8 unread bytes, its locator ending before
them), and in the page list envelope, recognised by its own type, length and
checksum, every page is marked as checksummed and the envelope checksum is
recomputed. Sizes and offsets do not move, so uproot's bookkeeping stays
right.
"""

from __future__ import annotations

import struct
from typing import Any

import awkward as ak
import numpy as np
import uproot.writing._cascadentuple as cascade
import xxhash

from hepflow.io.rntuple_checksums import CHECKSUM_BYTES, PAGE_LIST

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
#: size of a list frame's own size and item count
_LIST_HEAD = _I64.size + _U32.size
#: a page list entry: element count, then a standard locator (size, offset)
_PAGE_ENTRY = _I32.size + _I32.size + _U64.size


def _checksum(data: bytes | bytearray) -> bytes:
    return _U64.pack(xxhash.xxh3_64_intdigest(bytes(data)))


def _is_page_list(data: bytes) -> bool:
    """Whether `data` is a whole, intact page list envelope (type, length and checksum agree)."""
    if len(data) < 2 * CHECKSUM_BYTES:
        return False
    preamble = _U64.unpack_from(data)[0]
    return preamble & 0xFFFF == PAGE_LIST and preamble >> 16 == len(data) and \
        _checksum(data[:-CHECKSUM_BYTES]) == data[-CHECKSUM_BYTES:]


def _list_frame(data: bytes | bytearray, pos: int) -> tuple[int, int, int]:
    """(position after the frame, number of items, position of the first item)."""
    size = _I64.unpack_from(data, pos)[0]
    if size >= 0:
        raise ValueError(f"expected a list frame at byte {pos} of the page list")
    return pos - size, _U32.unpack_from(data, pos + _I64.size)[0], pos + _LIST_HEAD


def mark_page_checksums(envelope: bytes) -> bytes:
    """The page list envelope with every page marked as followed by its checksum."""
    data = bytearray(envelope)
    summaries_end = 2 * CHECKSUM_BYTES + abs(_I64.unpack_from(data, 2 * CHECKSUM_BYTES)[0])
    _, clusters, pos = _list_frame(data, summaries_end)
    for _ in range(clusters):
        cluster_end, columns, column = _list_frame(data, pos)
        for _ in range(columns):
            column_end, pages, page = _list_frame(data, column)
            for _ in range(pages):
                count = _I32.unpack_from(data, page)[0]
                if _I32.unpack_from(data, page + _I32.size)[0] < 0:
                    raise ValueError("a page list entry with a non-standard locator")
                _I32.pack_into(data, page, -abs(count))
                page += _PAGE_ENTRY
            column = column_end
        pos = cluster_end
    data[-CHECKSUM_BYTES:] = _checksum(data[:-CHECKSUM_BYTES])
    return bytes(data)


class ChecksummedNTuple(cascade.NTuple):  # type: ignore[misc]
    """uproot's RNTuple writer, storing a checksum after every page (and every envelope)."""

    def add_rblob(self, sink: Any, raw_data: Any, uncompressed_bytes: int) -> Any:
        data = np.ascontiguousarray(raw_data).tobytes() if isinstance(raw_data, np.ndarray) \
            else bytes(raw_data)
        if _is_page_list(data):
            data = mark_page_checksums(data)
        return super().add_rblob(sink, data + _checksum(data), uncompressed_bytes)


def create(directory: Any, name: str, table: ak.Array) -> None:
    """Create the RNTuple `name` in an open uproot directory, its first cluster `table`."""
    ntuple = directory.mkrntuple(name, table.layout.form)
    cascading = ntuple._cascading
    if type(cascading) is not cascade.NTuple:
        raise TypeError(f"uproot's RNTuple writer is a {type(cascading).__name__}, not the "
                        "NTuple hepflow adds page checksums to")
    cascading.__class__ = ChecksummedNTuple
    ntuple.extend(table)


def extend(directory: Any, name: str, table: ak.Array) -> None:
    """Append `table` as one more cluster to an RNTuple `create` made in this open file."""
    ntuple = directory[name]
    if not isinstance(ntuple._cascading, ChecksummedNTuple):
        raise TypeError(f"the RNTuple {name!r} was not created by hepflow's writer")
    ntuple.extend(table)


__all__ = ["ChecksummedNTuple", "create", "extend", "mark_page_checksums"]
