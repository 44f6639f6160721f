"""Reading a chunk's baskets straight from the file, without parsing the TTree again.

Opening a NanoAOD file and deserialising its TTree costs about 0.3 ms per
branch (0.44 s for 1,432 branches) while a chunk reads a handful of them.
Preprocessing therefore records, once per file, where every basket of every
branch lies (`BranchLayout`); a chunk task then issues one vector read for
exactly the baskets it needs, decompresses them with uproot's own
`uproot.compression.decompress`, and interprets them with numpy.

This is the one module that goes below uproot's public TTree API (TKey and
TBasket headers). Only what NanoAOD uses is handled here — flat numeric and
boolean branches and counter-sized arrays without per-entry headers; any
other branch (or a basket embedded in the TTree) has no layout and is read
through uproot as before. tests/test_baskets.py pins the output against
uproot's `arrays()` bit for bit.
"""

from __future__ import annotations

import base64
import itertools
import queue
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot

_KEY = struct.Struct(">ihiIhh")  # fNbytes, key version, fObjlen, fDatime, fKeylen, fCycle
_BASKET = struct.Struct(">Hiiii")  # fVersion, fBufferSize, fNevBufSize, fNevBuf, fLast


@dataclass(frozen=True, slots=True)
class BranchLayout:
    """Where a branch's baskets lie and how to interpret them."""

    kind: str  # "flat" or "jagged"
    dtype: str  # on-disk numpy dtype, e.g. ">f4"
    seeks: tuple[int, ...]
    nbytes: tuple[int, ...]
    entries: tuple[int, ...]  # basket entry boundaries: len(seeks) + 1 values

    def baskets_for(self, start: int, stop: int) -> range:
        """Indices of the baskets holding entries [start, stop)."""
        bounds = np.asarray(self.entries)
        first = int(np.searchsorted(bounds, start, side="right")) - 1
        last = int(np.searchsorted(bounds, stop, side="left"))
        return range(max(first, 0), min(last, len(self.seeks)))


class LayoutTable(Mapping[str, BranchLayout]):
    """The layouts of a file's branches, packed into one integer array until one is asked for.

    A 1,500-branch file has 1,500 layouts and a plan reads a dozen. Holding
    them as 1,500 objects (or 6,000 JSON lists) makes loading a cache,
    unpickling a preprocessing result or shipping a kernel cost more than the
    run itself, mostly in the garbage collector; one int64 array and a few
    lists of names cost almost nothing, and a `BranchLayout` is built only for
    the branches a plan reads. Row i of the array is
    ``[n, seeks (n), sizes (n), entry boundaries (n + 1)]``.
    """

    __slots__ = ("_built", "_dtypes", "_index", "_kinds", "_names", "_numbers", "_starts")

    def __init__(self, names: Sequence[str] = (), kinds: Sequence[str] = (),
                 dtypes: Sequence[str] = (), numbers: Any = None, starts: Any = None) -> None:
        self._names = list(names)
        self._kinds = list(kinds)
        self._dtypes = list(dtypes)
        self._numbers = np.asarray([] if numbers is None else numbers, dtype=np.int64)
        self._starts = np.asarray([0] if starts is None else starts, dtype=np.int64)
        self._index: dict[str, int] | None = None
        self._built: dict[str, BranchLayout] = {}

    @classmethod
    def of(cls, layouts: Mapping[str, BranchLayout]) -> LayoutTable:
        values = list(layouts.values())
        rows = [(len(v.seeks), *v.seeks, *v.nbytes, *v.entries) for v in values]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=starts[1:])
        numbers = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(starts[-1]))
        return cls(list(layouts), [v.kind for v in values], [v.dtype for v in values], numbers,
                   starts)

    def _position(self) -> dict[str, int]:
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self._names)}
        return self._index

    def __getitem__(self, name: str) -> BranchLayout:
        found = self._built.get(name)
        if found is None:
            i = self._position()[name]
            row = self._numbers[self._starts[i]:self._starts[i + 1]].tolist()
            n = row[0]
            found = BranchLayout(self._kinds[i], self._dtypes[i], tuple(row[1:1 + n]),
                                 tuple(row[1 + n:1 + 2 * n]), tuple(row[1 + 2 * n:]))
            self._built[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._position()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form; the integers travel as base64 of little-endian int64."""
        return {"names": self._names, "kinds": self._kinds, "dtypes": self._dtypes,
                "numbers": _pack(self._numbers), "starts": _pack(self._starts)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LayoutTable:
        return cls(data["names"], data["kinds"], data["dtypes"], _unpack(data["numbers"]),
                   _unpack(data["starts"]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (LayoutTable, (self._names, self._kinds, self._dtypes, self._numbers,
                              self._starts))


def _pack(values: np.ndarray) -> str:
    return base64.b64encode(values.astype("<i8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i8").astype(np.int64)


def layout_of(branch: Any) -> BranchLayout | None:
    """The layout of one uproot TBranch, or None if it needs uproot's general reader."""
    interp = branch.interpretation
    if getattr(branch, "embedded_baskets", None):
        return None
    numerical = uproot.interpretation.numerical.AsDtype
    if isinstance(interp, numerical) and not interp.inner_shape:
        kind, dtype = "flat", interp.from_dtype
    elif isinstance(interp, uproot.interpretation.jagged.AsJagged) and \
            isinstance(interp.content, numerical) and not interp.content.inner_shape and \
            interp.header_bytes == 0:
        kind, dtype = "jagged", interp.content.from_dtype
    else:
        return None
    n = branch.num_baskets
    entries = [int(branch.basket_entry_start_stop(i)[0]) for i in range(n)]
    entries.append(int(branch.num_entries))
    seeks = tuple(int(x) for x in branch.member("fBasketSeek")[:n])
    nbytes = tuple(int(x) for x in branch.member("fBasketBytes")[:n])
    if any(s <= 0 for s in seeks):
        return None
    return BranchLayout(kind, np.dtype(dtype).str, seeks, nbytes, tuple(entries))


def layouts_of(ttree: Any) -> LayoutTable:
    """Layouts of every branch this module can read; others are simply absent."""
    out: dict[str, BranchLayout] = {}
    for name, branch in ttree.iteritems(recursive=True):
        layout = layout_of(branch)
        if layout is not None:
            out[name] = layout
    return LayoutTable.of(out)


@dataclass
class BasketTiming:
    decompress_seconds: float = 0.0
    interpret_seconds: float = 0.0
    bytes_read: int = 0


def _basket_payload(raw: np.ndarray, source: Any, timing: BasketTiming,
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """(data bytes, per-entry byte offsets or None) of one basket's raw key + payload."""
    buf = raw.tobytes() if not isinstance(raw, (bytes, bytearray)) else raw
    nbytes, _, objlen, _, keylen, _ = _KEY.unpack_from(buf, 0)
    _, _, _, nevbuf, last = _BASKET.unpack_from(buf, keylen - _BASKET.size - 1)
    start = time.perf_counter()
    compressed = nbytes - keylen
    if compressed != objlen:
        chunk = uproot.source.chunk.Chunk.wrap(source, buf)
        out = uproot.compression.decompress(chunk, uproot.source.cursor.Cursor(keylen), {},
                                            compressed, objlen)
        payload = np.frombuffer(out.raw_data, dtype=np.uint8)
    else:
        payload = np.frombuffer(buf, dtype=np.uint8, count=objlen, offset=keylen)
    timing.decompress_seconds += time.perf_counter() - start
    border = last - keylen
    if border == objlen:
        return payload, None
    raw_offsets = payload[border:].view(">i4")
    offsets = raw_offsets[1:nevbuf + 2].astype(np.int64) - keylen
    offsets[-1] = border
    return payload[:border], offsets


def read_branches(file: Any, layouts: Mapping[str, BranchLayout], start: int, stop: int,
                  timing: BasketTiming) -> dict[str, Any]:
    """Entries [start, stop) of the given branches: numpy for flat, awkward for jagged."""
    wanted: list[tuple[str, int]] = []
    ranges: list[tuple[int, int]] = []
    for name, layout in layouts.items():
        for i in layout.baskets_for(start, stop):
            wanted.append((name, i))
            ranges.append((layout.seeks[i], layout.seeks[i] + layout.nbytes[i]))
    source = file.source
    chunks = source.chunks(ranges, notifications=queue.Queue()) if ranges else []
    raw_by_basket: dict[tuple[str, int], Any] = {}
    for key, chunk, (lo, hi) in zip(wanted, chunks, ranges, strict=True):
        raw_by_basket[key] = chunk.get(lo, hi, uproot.source.cursor.Cursor(lo), {})
        timing.bytes_read += hi - lo
    out: dict[str, Any] = {}
    for name, layout in layouts.items():
        baskets = layout.baskets_for(start, stop)
        payloads = [_basket_payload(raw_by_basket[(name, i)], source, timing) for i in baskets]
        begin = time.perf_counter()
        out[name] = _assemble(layout, baskets, payloads, start, stop)
        timing.interpret_seconds += time.perf_counter() - begin
    return out


def _assemble(layout: BranchLayout, baskets: range,
              payloads: list[tuple[np.ndarray, np.ndarray | None]], start: int,
              stop: int) -> Any:
    dtype = np.dtype(layout.dtype)
    native = dtype.newbyteorder("=")
    first_entry = layout.entries[baskets.start] if len(baskets) else start
    lo, hi = start - first_entry, stop - first_entry
    if layout.kind == "flat":
        if not payloads:
            return np.zeros(0, dtype=native)
        values = np.concatenate([np.frombuffer(data, dtype=dtype) for data, _ in payloads])
        return values[lo:hi].astype(native)
    contents = []
    counts = []
    for data, offsets in payloads:
        contents.append(np.frombuffer(data, dtype=dtype))
        if offsets is None:  # no entry offsets: every entry of this basket is empty
            raise ValueError("jagged basket without entry offsets")
        counts.append(np.diff(offsets) // dtype.itemsize)
    all_counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    content = np.concatenate(contents) if contents else np.zeros(0, dtype=dtype)
    cumulative = np.concatenate([[0], np.cumsum(all_counts)])
    piece = content[cumulative[lo]:cumulative[hi]].astype(native)
    return ak.unflatten(piece, all_counts[lo:hi])


__all__ = ["BasketTiming", "BranchLayout", "LayoutTable", "layout_of", "layouts_of",
           "read_branches"]
