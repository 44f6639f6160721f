"""Reading the branches of one TTree chunk, with open files kept per worker process.

`hepflow.io.sources.read_chunk` is the front door: it sends TTree chunks here,
RNTuple chunks to `hepflow.io.rntuple`, and reads friend trees alongside.

Consecutive chunks of the same file on the same worker reuse the open file
(`hepflow.io.handles`: an LRU cache that reopens a file replaced under the
same name).

Each replica is tried `retries + 1` times with exponential backoff before the
next replica is tried. A replica whose file UUID differs from the one seen at
preprocessing is refused: it is a different file under the same name. Every
failure becomes a `ReadError` naming the file, the replica and the entry range.

Chunks whose branches all have basket layouts are read straight from the
baskets (`hepflow.io.baskets`). A basket that fails its integrity checks is a
damaged file: the chunk fails at once with a `ReadError` naming the branch,
basket and entries (other replicas are still tried, retrying the same bytes
is not), and it is never handed to uproot, which checks less and would read
some damage as different numbers (tests/test_corruption.py has such cases).
Any other failure of the basket reader gets one read through uproot before
the chunk counts as failed. The chunk's `Measurement.read_paths` says which way it went.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepflow.core.chunk import Chunk
from hepflow.core.measure import Measurement
from hepflow.errors import ReadError
from hepflow.io.baskets import BasketError, BasketTiming, BranchLayout, read_branches
from hepflow.io.failover import Refused, read_with_failover
from hepflow.io.handles import (
    ReadStats,
    close_all,
    forget,
    open_cached,
    open_file,
    open_tree,
    open_trees,
)
from hepflow.io.policy import ReadOptions
from hepflow.io.uproot_private import TimingExecutor
from hepflow.logs import get_logger


@dataclass
class _Timing:
    open_seconds: float = 0.0
    decompress: TimingExecutor | None = None
    interpret: TimingExecutor | None = None
    read_path: str = "uproot"
    basket_failure: str = ""


FileLayout = tuple[int, Mapping[str, BranchLayout]]
log = get_logger(__name__)


def read_chunk(chunk: Chunk, branches: Sequence[str], options: ReadOptions | None = None,
               layout: FileLayout | None = None) -> tuple[dict[str, Any], ReadStats]:
    """The TTree chunk's branches (numpy for flat, awkward for jagged) and what reading cost."""
    def attempt(url: str, timeout: float) -> tuple[dict[str, Any], ReadStats]:
        timing = _Timing(0.0, TimingExecutor(), TimingExecutor())
        arrays, nbytes = _read(url, chunk, branches, timeout, timing, layout)
        assert timing.decompress is not None and timing.interpret is not None
        fallback = timing.basket_failure
        return arrays, ReadStats(Measurement(
            bytes_compressed=nbytes,
            seconds={"open": timing.open_seconds, "decompress": timing.decompress.seconds,
                     "interpret": timing.interpret.seconds},
            read_paths={timing.read_path: 1}, file_paths={chunk.url: timing.read_path},
            fallbacks=(f"{chunk.describe()}: {fallback}",) if fallback else ()), url)

    return read_with_failover(chunk, options, attempt)


def _read(url: str, chunk: Chunk, branches: Sequence[str], timeout: float,
          timing: _Timing, layout: FileLayout | None = None) -> tuple[dict[str, Any], int]:
    def fail(cause: str, kind: type[ReadError] = ReadError) -> ReadError:
        if timing.basket_failure:  # what the basket reader found comes first
            cause = f"the basket reader found: {timing.basket_failure}; read again through " \
                f"uproot, {cause}"
        return kind(chunk.url, chunk.entry_start, chunk.entry_stop, cause, replica=url)

    opening = time.perf_counter()
    fast = layout is not None and all(b in layout[1] for b in branches)
    damaged = False
    try:
        opened = open_cached(url, timeout, uuid=chunk.uuid)
        handle = opened.handle
        if chunk.uuid and str(handle.uuid) != chunk.uuid:
            raise fail(f"this is a different file (UUID {handle.uuid}, expected "
                       f"{chunk.uuid}); refusing it", Refused)
        if fast and layout is not None and int(handle.fEND) != layout[0]:
            fast = False  # rewritten since preprocessing: read its metadata afresh
        if fast and layout is not None:
            timing.open_seconds = time.perf_counter() - opening
            try:
                return _read_baskets(handle, layout[1], chunk, branches, timing, fail)
            except _BasketFailure as failure:
                timing.read_path, timing.basket_failure = "uproot-retry", failure.reason
                log.warning("falling back to uproot for %s entries [%d, %d) (replica %s): the "
                            "basket reader found: %s", chunk.url, chunk.entry_start,
                            chunk.entry_stop, url, failure.reason)
                damaged = failure.damaged
                opening = time.perf_counter()
        ttree = opened.tree(chunk.tree)
        timing.open_seconds = time.perf_counter() - opening
    except ReadError:
        raise
    except FileNotFoundError as exc:
        raise fail(f"file not found ({exc})") from exc
    except Exception as exc:
        raise fail(f"cannot open the file or tree {chunk.tree!r}: {_in_words(exc)}") from exc
    if ttree.num_entries < chunk.entry_stop:
        raise fail(f"the tree has only {ttree.num_entries} entries", Refused)
    if not branches:
        return {}, 0
    source = handle.source
    before = int(getattr(source, "num_requested_bytes", 0) or 0)
    try:
        present = [b for b in branches if b in ttree]  # a file may lack some (FilterAvailable)
        arrays = ttree.arrays(present, entry_start=chunk.entry_start,
                              entry_stop=chunk.entry_stop, library="ak", how=dict,
                              decompression_executor=timing.decompress,
                              interpretation_executor=timing.interpret)
    except Exception as exc:
        said = "it fails too" if timing.basket_failure else "uproot cannot read it"
        raise fail(f"{said}: {_in_words(exc)}",
                   Refused if damaged else ReadError) from exc
    nbytes = int(getattr(source, "num_requested_bytes", 0) or 0) - before
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if len(array) != chunk.num_entries:
            raise fail(f"branch {name!r} gave {len(array)} entries", Refused if damaged
                       else ReadError)
        broken = ak.validity_error(array) if array.ndim > 1 else ""
        if broken:  # offsets that go backwards or past the data: never hand these on
            raise fail(f"branch {name!r}: its entry offsets are inconsistent, the file is "
                       f"damaged ({broken})")
        out[name] = np.asarray(ak.to_numpy(array)) if array.ndim == 1 else array
    if layout is not None:
        _check_counts(out, layout[1], fail)
    return out, max(nbytes, 0)


def _check_counts(arrays: Mapping[str, Any], layouts: Mapping[str, BranchLayout],
                  fail: Any) -> None:
    """Each list's sizes equal its counter branch's values, as the basket reader checks.

    uproot does not compare them, so a basket whose offsets were damaged into
    other, still consistent, sizes would otherwise pass after the basket
    reader rejected it.
    """
    for name, array in arrays.items():
        layout = layouts.get(name)
        counter = layout.counter if layout is not None else ""
        if not counter or counter not in arrays or getattr(array, "ndim", 1) != 2:
            continue
        sizes = np.asarray(ak.num(array, axis=1))
        expected = np.asarray(arrays[counter]).astype(np.int64)
        if len(sizes) != len(expected) or not np.array_equal(sizes, expected):
            raise fail(f"branch {name!r}: uproot reads sizes that disagree with its "
                       f"counter branch {counter!r}, the file is damaged", Refused)


class _BasketFailure(Exception):
    """The basket reader could not read the chunk; uproot gets one try before it fails.

    `damaged` says the basket reader found the bytes inconsistent (`BasketError`):
    then uproot's result is checked against the counter branches too, and if
    uproot fails as well the replica is not tried again (another may be).
    """

    def __init__(self, reason: str, damaged: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.damaged = damaged


def _in_words(exc: BaseException) -> str:
    """An uproot or numpy error about a damaged file, said as what is wrong with the file."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if "expected Chunk of length" in text or "received 0 bytes" in text:
        return f"the file ends before the data it lists: it was cut short, e.g. by an " \
               f"incomplete copy ({text})"
    if isinstance(exc, IndexError) or "out of bounds" in text:
        return f"its data points outside its own buffer, the file is damaged ({text})"
    if "wrong number of entries" in text or ("expected" in text and "obtained" in text):
        return f"a basket holds a different number of entries than the branch says " \
               f"({text})"
    if "decompress" in text.lower() or "checksum" in text.lower():
        return f"compressed data does not decompress, the file is damaged ({text})"
    return text


def _read_baskets(handle: Any, layouts: Mapping[str, BranchLayout], chunk: Chunk,
                  branches: Sequence[str], timing: _Timing,
                  fail: Any) -> tuple[dict[str, Any], int]:
    """The fast path: the chunk's baskets straight from the file (see `hepflow.io.baskets`).

    Any failure, a damaged basket included, raises `_BasketFailure`, so the
    caller reads the chunk through uproot once before calling it failed.
    """
    basket_timing = BasketTiming()
    try:
        arrays = read_branches(handle, layouts, chunk.entry_start, chunk.entry_stop,
                               basket_timing, names=branches)
    except BasketError as exc:
        raise _BasketFailure(f"the file is damaged: {exc}", damaged=True) from exc
    except Exception as exc:
        raise _BasketFailure(f"{type(exc).__name__}: {exc}") from exc
    assert timing.decompress is not None and timing.interpret is not None
    timing.decompress.seconds += basket_timing.decompress_seconds
    timing.interpret.seconds += basket_timing.interpret_seconds
    for name, array in arrays.items():
        if len(array) != chunk.num_entries:
            raise _BasketFailure(f"branch {name} gave {len(array)} entries")
    timing.read_path = "baskets"
    return arrays, basket_timing.bytes_read


__all__ = ["FileLayout", "ReadStats", "close_all", "forget", "open_file", "open_tree",
           "open_trees", "read_chunk"]
