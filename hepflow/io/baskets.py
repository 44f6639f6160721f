"""Reading a chunk's baskets straight from the file, without parsing the TTree again.

Opening a NanoAOD file and deserialising its TTree costs about 0.3 ms per
branch (0.44 s for 1,432 branches) while a chunk reads a handful of them.
Preprocessing therefore records, once per file, where every basket of every
branch lies (`BranchLayout`); a chunk task then issues one vector read for
exactly the baskets it needs, checks and decompresses them
(`hepflow.io.basketbytes`) and interprets them with numpy.

Handled here: numeric and boolean branches, scalar or with fixed dimensions
(``x[3]/F``), counter-sized arrays (``x[n]/F``), ``std::vector`` of numbers in
split objects, ``Double32_t``/``Float16_t``, and baskets embedded in the TTree
key. Any other branch has no layout (`LayoutTable.skipped` says why) and is
read through uproot. tests/test_baskets.py and tests/test_realfiles_ttree.py
pin the output against uproot's `arrays()` bit for bit.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepflow.io import uproot_private
from hepflow.io.basketbytes import (
    VECTOR_HEADER,
    Damaged,
    Decoder,
    basket_contents,
    decoder,
    spec_of,
    truncated_spec,
)
from hepflow.io.embedded import EmbeddedBaskets

#: Version of `LayoutTable.to_json`; an entry written by another version is not read.
LAYOUT_FORMAT = 3
_BYTECOUNT = 0x40000000


@dataclass(frozen=True, slots=True)
class BranchLayout:
    """Where a branch's baskets lie and how to interpret them.

    A negative seek is the basket embedded in the TTree key (at most one, the
    last); its bytes travel with the layout in `embedded`, so reading it
    never needs the TTree key (see `hepflow.io.embedded`).
    """

    kind: str  # "flat", "jagged" (sized by a counter branch) or "vector" (std::vector)
    dtype: str  # value type, see `hepflow.io.basketbytes.decoder`, e.g. ">f4" or ">f4->f8[3]"
    seeks: tuple[int, ...]
    nbytes: tuple[int, ...]
    entries: tuple[int, ...]  # basket entry boundaries: len(seeks) + 1 values
    counter: str = ""  # the branch holding each entry's size, for "jagged"
    embedded: bytes = b""  # the embedded basket's bytes (see `hepflow.io.embedded`)

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

    `skipped` names every branch of the tree that has no layout, with the
    reason, so a run can say which columns (and so which files) go the slow
    way through uproot: see `read_path`. `metadata` says who read the basket
    tables: ``hepflow`` (`hepflow.io.treemeta`, milliseconds) or ``uproot``
    (its full TTree model, about 0.3 ms per branch, for trees the parser does
    not know, e.g. split objects). `embedded` holds the bytes of the baskets
    embedded in the TTree key, one slot per branch.
    """

    __slots__ = ("_built", "_counters", "_dtypes", "_index", "_kinds", "_names", "_numbers",
                 "_starts", "embedded", "metadata", "skipped")

    def __init__(self, names: Sequence[str] = (), kinds: Sequence[str] = (),
                 dtypes: Sequence[str] = (), numbers: Any = None, starts: Any = None,
                 counters: Sequence[str] | None = None,
                 skipped: Mapping[str, str] | None = None, metadata: str = "hepflow",
                 embedded: EmbeddedBaskets | None = None) -> None:
        self._names = list(names)
        self._kinds = list(kinds)
        self._dtypes = list(dtypes)
        self._counters = list(counters) if counters is not None else [""] * len(self._names)
        self._numbers = np.asarray([] if numbers is None else numbers, dtype=np.int64)
        self._starts = np.asarray([0] if starts is None else starts, dtype=np.int64)
        self.skipped: dict[str, str] = dict(skipped or {})
        self.metadata = metadata
        self.embedded = embedded if embedded is not None else EmbeddedBaskets()
        self._index: dict[str, int] | None = None
        self._built: dict[str, BranchLayout] = {}

    @classmethod
    def of(cls, layouts: Mapping[str, BranchLayout], skipped: Mapping[str, str] | None = None,
           metadata: str = "hepflow") -> LayoutTable:
        values = list(layouts.values())
        rows = [(len(v.seeks), *v.seeks, *v.nbytes, *v.entries) for v in values]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=starts[1:])
        numbers = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(starts[-1]))
        return cls(list(layouts), [v.kind for v in values], [v.dtype for v in values], numbers,
                   starts, [v.counter for v in values], skipped, metadata,
                   EmbeddedBaskets.of([v.embedded or None for v in values]))

    @property
    def read_path(self) -> str:
        """``baskets`` if every branch has a layout, ``uproot`` if none has, else ``mixed``."""
        if not self.skipped:
            return "baskets"
        return "mixed" if self._names else "uproot"

    def fallback_reasons(self) -> dict[str, list[str]]:
        """Why branches go through uproot: each distinct reason with the branches it covers."""
        out: dict[str, list[str]] = {}
        for name, why in self.skipped.items():
            out.setdefault(why, []).append(name)
        return out

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
                                 tuple(row[1 + n:1 + 2 * n]), tuple(row[1 + 2 * n:]),
                                 self._counters[i], self.embedded.basket(i))
            self._built[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._position()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form; the integers travel as base64 of little-endian int64.

        The embedded baskets' bytes are not in it, only where they lie:
        ``embedded.data()`` goes to a file of its own, given to `from_json`.
        """
        return {"format": LAYOUT_FORMAT, "names": self._names, "kinds": self._kinds,
                "dtypes": self._dtypes, "counters": self._counters,
                "numbers": _pack(self._numbers), "starts": _pack(self._starts),
                "skipped": self.skipped, "metadata": self.metadata,
                "embedded": {"offsets": _pack(self.embedded.offsets),
                             "lengths": _pack(self.embedded.lengths),
                             "size": self.embedded.size}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], embedded_file: str | None = None,
                  ) -> LayoutTable:
        """The table `to_json` wrote, its embedded baskets read from `embedded_file`.

        KeyError for another format or embedded baskets without their file,
        OSError/ValueError from `EmbeddedBaskets.in_file`: a cache entry to redo.
        """
        if data.get("format") != LAYOUT_FORMAT:
            raise KeyError(f"basket layouts of format {data.get('format')}, not {LAYOUT_FORMAT}")
        index = data["embedded"]
        store = EmbeddedBaskets(_unpack(index["offsets"]), _unpack(index["lengths"]))
        if store.size != int(index["size"]):
            raise KeyError("an embedded-basket index that does not add up")
        if store.size:
            if embedded_file is None:
                raise KeyError("embedded baskets without the file that holds them")
            store = store.in_file(embedded_file)
        return cls(data["names"], data["kinds"], data["dtypes"], _unpack(data["numbers"]),
                   _unpack(data["starts"]), data["counters"], data["skipped"], data["metadata"],
                   store)

    def __reduce__(self) -> tuple[Any, ...]:
        return (LayoutTable, (self._names, self._kinds, self._dtypes, self._numbers,
                              self._starts, self._counters, self.skipped, self.metadata,
                              self.embedded))


def _pack(values: np.ndarray) -> str:
    return base64.b64encode(values.astype("<i8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i8").astype(np.int64)


def _value_spec(interp: Any) -> str | None:
    """The `decoder` text of a numeric uproot interpretation, or None for anything else."""
    numerical = uproot.interpretation.numerical
    if isinstance(interp, (numerical.AsDouble32, numerical.AsFloat16)):
        kind = "d32" if isinstance(interp, numerical.AsDouble32) else "f16"
        return truncated_spec(kind, float(interp.low), float(interp.high), int(interp.num_bits),
                              tuple(interp.to_dims))
    if type(interp) is numerical.AsDtype:
        stored = interp.from_dtype
        to = interp.to_dtype
        if stored.fields is not None or to.fields is not None or stored.shape != to.shape:
            return None
        return spec_of(stored.base.str, to.base.str, tuple(stored.shape))
    return None


def _describe(interp: Any) -> str:
    """Why a branch with this interpretation is read by uproot, in words."""
    name = type(interp).__name__
    reasons = {"AsStrings": "strings", "AsGrouped": "a branch holding other branches",
               "AsObjects": "objects that need their streamer",
               "AsStridedObjects": "objects that need their streamer"}
    return reasons.get(name, f"values uproot interprets as {name}")


def layout_of(branch: Any, tree: Any = None, counter: str = "", payload: bytes = b"",
              ) -> tuple[BranchLayout | None, str]:
    """(layout, "") of one uproot TBranch, or (None, why it needs uproot's general reader).

    `tree` (the branch's TTree) and `payload` (its key's uncompressed bytes)
    are needed for a basket embedded in the TTree key, `counter` is the key
    of the branch holding each entry's size.
    """
    interp = branch.interpretation
    jagged = uproot.interpretation.jagged.AsJagged
    if isinstance(interp, jagged):
        spec = _value_spec(interp.content)
        kind = {0: "jagged", VECTOR_HEADER: "vector"}.get(int(interp.header_bytes), "")
        if spec is None or not kind:
            return None, f"lists of {_describe(interp.content)}" if spec is None else \
                f"lists with {interp.header_bytes}-byte entry headers"
    else:
        spec = _value_spec(interp)
        kind = "flat"
        if spec is None:
            return None, _describe(interp)
    free = int(branch.member("fWriteBasket"))
    entries = [int(x) for x in branch.member("fBasketEntry")[:free]]
    seeks = [int(x) for x in branch.member("fBasketSeek")[:free]]
    nbytes = [int(x) for x in branch.member("fBasketBytes")[:free]]
    if any(s <= 0 for s in seeks):
        return None, "baskets without a position in the file"
    held = list(branch.embedded_baskets or ())
    if len(held) > 1:
        return None, "more than one basket embedded in the TTree"
    kept = b""
    for basket in held:
        if tree is None or not payload:
            return None, "baskets embedded in the TTree"
        entries.append(int(branch.member("fBasketEntry")[len(seeks)]))
        at = uproot_private.model_position(basket, tree)
        keylen = int(basket.member("fKeylen"))
        offsets = 0 if basket.byte_offsets is None else 4 * (basket.num_entries + 1)
        size = 2 * keylen + offsets + int(basket.border)
        seeks.append(-1)
        nbytes.append(size)
        kept = bytes(payload[at:at + size])
    entries.append(int(branch.num_entries))
    return BranchLayout(kind, spec, tuple(seeks), tuple(nbytes), tuple(entries),
                        counter if kind == "jagged" else "", kept), ""


def layouts_of(ttree: Any) -> LayoutTable:
    """Layouts of every branch this module can read; the others listed with the reason."""
    by_leaf: dict[int, str] = {}
    items = list(ttree.iteritems(recursive=True))
    for name, branch in items:
        leaves = branch.member("fLeaves")
        if len(leaves) == 1:
            by_leaf[id(leaves[0])] = name
    out: dict[str, BranchLayout] = {}
    skipped: dict[str, str] = {}
    payload = b""
    if any(branch.embedded_baskets for _, branch in items):
        payload, _ = uproot_private.key_payload(ttree.file, ttree.object_path.lstrip("/"))
    for name, branch in items:
        leaves = branch.member("fLeaves")
        count = leaves[0].member("fLeafCount") if len(leaves) == 1 else None
        layout, why = layout_of(branch, ttree, by_leaf.get(id(count), "") if count else "",
                                payload)
        if layout is None:
            skipped[name] = why
        else:
            out[name] = layout
    for name, layout in list(out.items()):  # a counter must itself be readable as integers
        if layout.counter and not _is_counter(out.get(layout.counter)):
            out[name] = BranchLayout(layout.kind, layout.dtype, layout.seeks, layout.nbytes,
                                     layout.entries, "", layout.embedded)
    return LayoutTable.of(out, skipped, "uproot")


def _is_counter(layout: BranchLayout | None) -> bool:
    if layout is None or layout.kind != "flat":
        return False
    found = decoder(layout.dtype)
    return not found.dims and np.dtype(found.to).kind in "iu"


@dataclass
class BasketTiming:
    decompress_seconds: float = 0.0
    interpret_seconds: float = 0.0
    bytes_read: int = 0


class BasketError(Damaged):
    """A damaged basket, with the branch, basket and entries it holds."""

    def __init__(self, branch: str, basket: int, first: int, last: int, what: str) -> None:
        self.branch, self.basket, self.first, self.last, self.what = \
            branch, basket, first, last, what
        super().__init__(f"branch {branch!r}, basket {basket} (entries {first}-{last}): "
                         f"{what}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (BasketError, (self.branch, self.basket, self.first, self.last, self.what))


def read_branches(file: Any, layouts: Mapping[str, BranchLayout], start: int, stop: int,
                  timing: BasketTiming, names: Sequence[str] | None = None,
                  ) -> dict[str, Any]:
    """Entries [start, stop) of branches `names` (default: all of `layouts`).

    Flat branches come back as numpy arrays, the others as awkward arrays.
    The counter branch of each counter-sized branch is read too (when
    `layouts` has it) and every entry's size checked against it. A damaged
    basket raises `BasketError`. An embedded basket comes from its layout.
    """
    wanted = list(layouts) if names is None else list(names)
    counters = [layouts[n].counter for n in wanted
                if layouts[n].counter and layouts[n].counter in layouts]
    reading = list(dict.fromkeys([*counters, *wanted]))  # counters first: lists check them
    keys: list[tuple[str, int]] = []
    ranges: list[tuple[int, int]] = []
    embedded: list[tuple[str, int]] = []
    for name in reading:
        layout = layouts[name]
        for i in layout.baskets_for(start, stop):
            if layout.seeks[i] < 0:
                embedded.append((name, i))
            else:
                keys.append((name, i))
                ranges.append((layout.seeks[i], layout.seeks[i] + layout.nbytes[i]))
    raw: dict[tuple[str, int], np.ndarray] = dict(
        zip(keys, uproot_private.read_ranges(file, ranges), strict=True))
    timing.bytes_read += sum(hi - lo for lo, hi in ranges)
    for name, i in embedded:
        layout = layouts[name]
        if not layout.embedded:
            raise BasketError(name, i, layout.entries[i], layout.entries[i + 1],
                              "the basket embedded in the TTree is missing from its layout")
        if len(layout.embedded) != layout.nbytes[i]:
            raise BasketError(name, i, layout.entries[i], layout.entries[i + 1],
                              f"its copy kept from preprocessing is {len(layout.embedded)} "
                              f"bytes, not {layout.nbytes[i]}")
        raw[(name, i)] = np.frombuffer(layout.embedded, dtype=np.uint8)
    values: dict[str, Any] = {}
    shared_offsets: dict[str, np.ndarray] = {}
    for name in reading:
        layout = layouts[name]
        baskets = layout.baskets_for(start, stop)
        contents = []
        begin = time.perf_counter()
        for i in baskets:
            try:
                contents.append(basket_contents(raw[(name, i)], layout.nbytes[i],
                                                layout.entries[i + 1] - layout.entries[i],
                                                layout.seeks[i] < 0))
            except Damaged as exc:
                raise BasketError(name, i, layout.entries[i], layout.entries[i + 1],
                                  str(exc)) from exc
        timing.decompress_seconds += time.perf_counter() - begin
        begin = time.perf_counter()
        counts = None
        if layout.counter in values:
            counts = values[layout.counter]
        values[name] = _assemble(name, layout, baskets, contents, start, stop, counts,
                                 shared_offsets)
        timing.interpret_seconds += time.perf_counter() - begin
    return {name: values[name] for name in wanted}


def _assemble(name: str, layout: BranchLayout, baskets: range,
              contents: list[tuple[np.ndarray, np.ndarray | None]], start: int, stop: int,
              counter: np.ndarray | None, shared_offsets: dict[str, np.ndarray]) -> Any:
    """The values of entries [start, stop) from the checked contents of `baskets`.

    Lists checked against the same counter branch share one offsets array, so
    later steps (narrowing by a filter, flattening equally sized collections)
    can see by identity that they line up.
    """
    values = decoder(layout.dtype)
    first_entry = layout.entries[baskets.start] if len(baskets) else start
    lo, hi = start - first_entry, stop - first_entry
    if layout.kind == "flat":
        pieces = []
        for i, (data, _) in zip(baskets, contents, strict=True):
            _expect(len(data) == values.itemsize * (layout.entries[i + 1] - layout.entries[i]),
                    name, layout, i, f"its data is {len(data)} bytes where "
                    f"{layout.entries[i + 1] - layout.entries[i]} entries of "
                    f"{values.itemsize} bytes need "
                    f"{values.itemsize * (layout.entries[i + 1] - layout.entries[i])}")
            pieces.append(data)
        out = values.decode(_join(pieces))[lo:hi]
        return out if not values.dims else ak.from_numpy(out, regulararray=True)
    all_counts, content = _lists(name, layout, baskets, contents, values)
    if counter is not None:
        mismatch = np.flatnonzero(all_counts[lo:hi] != counter)
        if mismatch.size:
            entry = start + int(mismatch[0])
            held = int(all_counts[lo + mismatch[0]])
            _expect(False, name, layout, layout.baskets_for(entry, entry + 1).start,
                    f"entry {entry} holds {held} value{'' if held == 1 else 's'} where its "
                    f"counter branch {layout.counter!r} says {int(counter[mismatch[0]])}")
    found = shared_offsets.get(layout.counter) if counter is not None else None
    if found is None:
        found = np.empty(hi - lo + 1, dtype=np.int64)
        found[0] = 0
        np.cumsum(all_counts[lo:hi], out=found[1:])
        if counter is not None:
            shared_offsets[layout.counter] = found
    offsets = found
    first = int(all_counts[:lo].sum())
    piece = values.decode(content[first * values.itemsize:
                                  (first + int(offsets[-1])) * values.itemsize])
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets),
                                                ak.contents.NumpyArray(piece)))


def _lists(name: str, layout: BranchLayout, baskets: range,
           contents: list[tuple[np.ndarray, np.ndarray | None]],
           values: Decoder) -> tuple[np.ndarray, np.ndarray]:
    """(values per entry, the values' bytes without entry headers) of variable-size entries."""
    counts = []
    datas = []
    size = values.itemsize
    header = VECTOR_HEADER if layout.kind == "vector" else 0
    for i, (data, offsets) in zip(baskets, contents, strict=True):
        if offsets is None:
            _expect(len(data) == 0 and header == 0, name, layout, i,
                    f"it has {len(data)} bytes of data but no entry offsets")
            counts.append(np.zeros(layout.entries[i + 1] - layout.entries[i], np.int64))
            continue
        lengths = np.diff(offsets)
        if header:
            lengths -= header
        counts.append(_whole_values(name, layout, i, lengths, size, header))
        if header:
            data = _strip_vector_headers(name, layout, i, data, offsets, counts[-1])
        datas.append(data)
    return (np.concatenate(counts) if counts else np.zeros(0, np.int64)), _join(datas)


def _whole_values(name: str, layout: BranchLayout, basket: int, lengths: np.ndarray,
                  size: int, header: int) -> np.ndarray:
    """Values per entry from entry byte lengths, each checked to be a whole number of values.

    One OR-reduction checks every length at once: it is negative if any length
    is, and has a low bit set if any length is not a multiple of a power-of-two
    `size` (every numeric type's); other sizes take the general check.
    """
    if size & (size - 1) == 0:
        every = int(np.bitwise_or.reduce(lengths)) if len(lengths) else 0
        ok = every >= 0 and not every & (size - 1)
        counts = lengths >> (size.bit_length() - 1) if ok else lengths
    else:
        ok = bool((lengths >= 0).all()) and not (lengths % size).any()
        counts = lengths // size
    _expect(ok, name, layout, basket,
            f"an entry's size is not a whole number of {size}-byte values"
            + (" after its std::vector header" if header else ""))
    return counts


def _strip_vector_headers(name: str, layout: BranchLayout, basket: int, data: np.ndarray,
                          offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The data of std::vector entries without their headers, each header checked."""
    starts = offsets[:-1]
    if not len(starts):
        return data[:0]
    heads = data[starts[:, None] + np.arange(VECTOR_HEADER)]
    bytecount = heads[:, :4].copy().view(">u4")[:, 0].astype(np.int64)
    length = heads[:, 6:].copy().view(">u4")[:, 0].astype(np.int64)
    expected = (np.diff(offsets) - 4) | _BYTECOUNT
    _expect(bool((bytecount == expected).all() and (length == counts).all()), name, layout,
            basket, "a std::vector entry header disagrees with the entry offsets")
    keep = np.ones(len(data), dtype=bool)
    keep[(starts[:, None] + np.arange(VECTOR_HEADER)).ravel()] = False
    return data[keep]


def _expect(ok: bool, name: str, layout: BranchLayout, basket: int, what: str) -> None:
    if not ok:
        raise BasketError(name, basket, layout.entries[basket], layout.entries[basket + 1], what)


def _join(pieces: list[np.ndarray]) -> np.ndarray:
    if not pieces:
        return np.zeros(0, dtype=np.uint8)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


__all__ = ["LAYOUT_FORMAT", "BasketError", "BasketTiming", "BranchLayout", "LayoutTable",
           "layout_of", "layouts_of", "read_branches"]
