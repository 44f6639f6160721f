"""Every use of uproot below its public reading API, in one place.

The fast basket reader needs three things uproot's public API does not give:
a vector read of raw byte ranges (`Source.chunks` and `Chunk.get`), the
uncompressed payload of a key together with the displacement ROOT's object
references count from (`ReadOnlyKey.get_uncompressed_chunk_cursor` and
`Cursor`), and an inline executor to time uproot's own decompression and
interpretation (`TrivialExecutor`). Keeping them here means an uproot release
that renames or reshapes any of them breaks exactly one module, and
tests/test_uproot_private.py names which one fails, instead of a basket read
failing somewhere inside a run.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import uproot
import uproot.models.RNTuple
import uproot.source.chunk
import uproot.source.cursor
import uproot.source.futures

#: The uproot names this module relies on, checked by tests/test_uproot_private.py.
REQUIRED = (
    "uproot.source.chunk.Source.chunks",
    "uproot.source.chunk.Chunk.get",
    "uproot.source.cursor.Cursor",
    "uproot.source.cursor.Cursor.displacement",
    "uproot.reading.ReadOnlyKey.get_uncompressed_chunk_cursor",
    "uproot.reading.ReadOnlyKey.data_uncompressed_bytes",
    "uproot.source.futures.TrivialExecutor",
    # hepflow.io.rntuple_write: uproot's RNTuple writer, storing page checksums
    "uproot.writing._cascadentuple.NTuple.add_rblob",
    "uproot.writing.writable.WritableNTuple.extend",
    # close: an fsspec source's filesystem (`_fs`, set by `_open`), whose handles outlive it
    "uproot.source.fsspec.FSSpecSource._open",
    # rntuple_footer: a footer read without its header (a damaged header's entries)
    "uproot.models.RNTuple.FooterReader",
    "uproot.source.chunk.Chunk.wrap",
)


def read_ranges(file: Any, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The bytes [start, stop) of each range of an open `uproot.ReadOnlyFile`, in one vector read.

    Local files are memory-mapped; remote ones go out as one XRootD vector
    read (or one HTTP multi-range request), which is what makes a chunk of a
    few branches cost one round trip.
    """
    if not ranges:
        return []
    chunks = file.source.chunks(list(ranges), notifications=queue.Queue())
    out = []
    for chunk, (lo, hi) in zip(chunks, ranges, strict=True):
        data = chunk.get(lo, hi, uproot.source.cursor.Cursor(lo), {})
        out.append(np.asarray(data, dtype=np.uint8))
    return out


def close(file: Any) -> None:
    """Close an `uproot.ReadOnlyFile` and every server handle its fsspec filesystem keeps.

    fsspec-xrootd keeps open XRootD file handles for 30 s after the last read,
    and an XRootD server hands a still-open file to every new open of its
    path: a file replaced under the same name would be read as the old one by
    everyone until those handles close. Closing the uproot file alone leaves
    them open.
    """
    file.close()
    filesystem = getattr(file.source, "_fs", None)
    if filesystem is not None:
        filesystem.invalidate_cache()


def rntuple_footer(ntuple: Any, envelope: np.ndarray) -> Any:
    """An RNTuple's footer records, parsed from its verified uncompressed envelope bytes.

    uproot's `RNTuple.footer` first parses the header (to compare checksums):
    with a damaged header it cannot be read, yet the footer still counts the
    entries the damage makes unreadable.
    """
    m = ntuple.members
    version = tuple(m[k] for k in ("fVersionEpoch", "fVersionMajor", "fVersionMinor",
                                   "fVersionPatch"))
    chunk = uproot.source.chunk.Chunk.wrap(ntuple.file.source, envelope.tobytes())
    return uproot.models.RNTuple.FooterReader(version).read(
        chunk, uproot.source.cursor.Cursor(0), {})


def key_payload(file: Any, name: str) -> tuple[bytes, int]:
    """(uncompressed object bytes, displacement) of the key `name` in the file's top directory.

    The displacement is where byte 0 of the payload lies counted from the start
    of the key, which is what ROOT's class references inside the object count from.
    """
    key = file.root_directory.key(name)
    chunk, cursor = key.get_uncompressed_chunk_cursor()
    offset = cursor.index - chunk.start
    data = bytes(chunk.raw_data[offset:offset + key.data_uncompressed_bytes])
    return data, int(cursor.displacement())


def key_class(file: Any, name: str) -> str:
    """The class name a key of the file's top directory declares (e.g. ``TTree``)."""
    return str(file.root_directory.key(name).fClassName)


def model_position(model: Any, within: Any) -> int:
    """Where a deserialised object (e.g. an embedded TBasket) starts inside `within`'s payload."""
    return int(model.cursor.index) - int(within.cursor.index)


class TimingExecutor(uproot.source.futures.TrivialExecutor):  # type: ignore[misc]
    """uproot's inline executor, adding up the seconds spent in the tasks it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def submit(self, task: Any, /, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return super().submit(task, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


__all__ = ["REQUIRED", "TimingExecutor", "key_class", "key_payload", "model_position",
           "read_ranges"]
