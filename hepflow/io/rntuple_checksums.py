"""RNTuple's xxh3-64 checksums, verified before uproot parses or decodes the bytes they cover.

ROOT ends every envelope (header, footer, page list) with the xxh3-64 of the
envelope's uncompressed bytes before it, and writes the xxh3-64 of a page's
stored (compressed) bytes in the 8 bytes just after the page when the page's
descriptor has its checksum bit set (a negative element count); the page's
locator does not count those 8 bytes (RNTuple binary format specification
1.0, "Envelopes" and "Page Locations"). uproot checks the header and footer
with `assert` and never the page lists or the pages, so one flipped byte in a
page silently changes values. Here each is checked from the file's own bytes,
read in one vector read, and a mismatch is a `Corrupt` naming what is damaged:
the envelope, or the field, the kind of column (values or offsets) and the
cluster's entries of the page.

Envelopes are checked once per opened RNTuple (the reader caches it per
process); pages on every read of a chunk, only those of the clusters and
columns the chunk reads. The cost is one more vector read of bytes the OS has
just cached, and xxh3 runs at tens of GB/s.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xxhash

from hepflow.io.compression import Damaged, decompress
from hepflow.io.uproot_private import read_ranges, rntuple_footer

CHECKSUM_BYTES = 8
HEADER, FOOTER, PAGE_LIST = 1, 2, 3
_ENVELOPE_NAMES = {HEADER: "header", FOOTER: "footer", PAGE_LIST: "page list"}
#: Column types holding a collection's offsets (Index32/64 and their split forms).
_INDEX_TYPES = frozenset({0x0E, 0x0F, 0x1A, 0x1B})
_SWITCH = 0x10
_ITEM_PREFIX = "_"

_verified: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


class Corrupt(ValueError):
    """Bytes of an RNTuple that do not match the checksum ROOT wrote for them.

    `entries` is the (start, stop) range the damage makes unreadable (stop None:
    every entry, when the damaged envelope is the one that counts them), and
    `fields` names the fields it hits, for a `ReadError` that says both.
    """

    def __init__(self, message: str, entries: tuple[int, int | None] = (0, None),
                 fields: str = "") -> None:
        super().__init__(message)
        self.entries = entries
        self.fields = fields


def _stored(data: np.ndarray) -> int:
    """The little-endian checksum in the last 8 bytes of `data`."""
    return int.from_bytes(data[-CHECKSUM_BYTES:].tobytes(), "little")


def check_envelope(raw: np.ndarray, nbytes: int, length: int, kind: int) -> np.ndarray:
    """The uncompressed envelope of `kind` stored in `raw`, once its checksum and framing match.

    `nbytes` and `length` are its stored and uncompressed sizes as the anchor
    or the footer's envelope link gives them; ROOT stores an envelope
    uncompressed exactly when the two are equal.
    """
    name = _ENVELOPE_NAMES[kind]
    if len(raw) != nbytes:
        raise Corrupt(f"the {name} envelope is cut short ({len(raw)} of {nbytes} bytes)")
    try:
        data = raw if nbytes == length else decompress(raw.tobytes(), length)
    except Damaged as exc:
        raise Corrupt(f"the {name} envelope does not decompress: {exc}") from exc
    if length < 2 * CHECKSUM_BYTES:
        raise Corrupt(f"the {name} envelope is {length} bytes, too short to be one")
    preamble = int.from_bytes(data[:8].tobytes(), "little")
    if xxhash.xxh3_64_intdigest(data[:-CHECKSUM_BYTES].data) != _stored(data):
        raise Corrupt(f"the {name} envelope does not match its xxh3-64 checksum")
    if preamble & 0xFFFF != kind or preamble >> 16 != length:
        raise Corrupt(f"the {name} envelope says it is envelope type {preamble & 0xFFFF} of "
                      f"{preamble >> 16} bytes, not type {kind} of {length} bytes")
    return data


def verify_envelopes(ntuple: Any) -> None:
    """Check the header, footer and every page list envelope of an opened uproot RNTuple.

    The footer is parsed (by uproot) only after its checksum matched, and it is
    what locates the page lists. Every page list must also name the header it
    belongs to by the header's checksum, as the footer does.
    """
    if _verified.get(id(ntuple)) is ntuple:
        return
    file = ntuple.file
    m = ntuple.members
    header_raw, footer_raw = read_ranges(file, [
        (int(m["fSeekHeader"]), int(m["fSeekHeader"]) + int(m["fNBytesHeader"])),
        (int(m["fSeekFooter"]), int(m["fSeekFooter"]) + int(m["fNBytesFooter"]))])
    try:
        footer = check_envelope(footer_raw, int(m["fNBytesFooter"]), int(m["fLenFooter"]),
                                FOOTER)
    except Corrupt as exc:
        try:
            check_envelope(header_raw, int(m["fNBytesHeader"]), int(m["fLenHeader"]), HEADER)
        except Corrupt as also:
            raise Corrupt(f"{exc}, and {also}", (0, None), "every field") from None
        raise Corrupt(str(exc), (0, None), _top_level_names(ntuple)) from None
    try:
        header = check_envelope(header_raw, int(m["fNBytesHeader"]), int(m["fLenHeader"]),
                                HEADER)
    except Corrupt as exc:
        groups = rntuple_footer(ntuple, footer).cluster_group_records
        raise Corrupt(str(exc), (0, _entry_count(groups)),
                      "every field (the header describes them all)") from None
    header_sum = _stored(header)
    if int.from_bytes(footer[16:24].tobytes(), "little") != header_sum:
        raise Corrupt("the footer names another header (its header checksum differs)",
                      (0, _entry_count(ntuple.footer.cluster_group_records)), "every field")
    groups = list(ntuple.footer.cluster_group_records)
    locators = [group.page_list_link.locator for group in groups]
    ranges = [(int(loc.offset), int(loc.offset) + int(loc.num_bytes)) for loc in locators]
    for group, raw in zip(groups, read_ranges(file, ranges), strict=True):
        first = int(group.min_entry_num)
        entries = f"entries {first}-{first + int(group.entry_span)}"
        link = group.page_list_link
        span = (first, first + int(group.entry_span))
        every = "every field (the page list locates the pages of all of them)"
        try:
            data = check_envelope(raw, int(link.locator.num_bytes), int(link.env_uncomp_size),
                                  PAGE_LIST)
        except Corrupt as exc:
            raise Corrupt(f"{exc} (the page list of {entries})", span, every) from None
        if int.from_bytes(data[8:16].tobytes(), "little") != header_sum:
            raise Corrupt(f"the page list envelope of {entries} names another header (its "
                          f"header checksum differs)", span, every)
    _verified[id(ntuple)] = ntuple


def _entry_count(groups: Iterable[Any]) -> int:
    """The entries the footer's cluster groups count (the footer's checksum matched)."""
    return sum(int(g.entry_span) for g in groups)


def _top_level_names(ntuple: Any) -> str:
    """The top-level fields the header names (its checksum matched), for a message."""
    records = list(ntuple.header.field_records)
    names = [_label(records, i) for i, r in enumerate(records)
             if int(r.parent_field_id) == i]
    return "every field (" + ", ".join(names) + ")" if names else "every field"


def _top_level(records: Sequence[Any], field_id: int) -> int:
    """The top-level field above `field_id` (a top-level field is its own parent)."""
    seen = 0
    while int(records[field_id].parent_field_id) != field_id and seen <= len(records):
        field_id = int(records[field_id].parent_field_id)
        seen += 1
    return field_id


def _label(records: Sequence[Any], field_id: int) -> str:
    """A field's dotted path as RDataFrame names it (collection item fields `_0` left out)."""
    parts: list[str] = []
    for _ in range(len(records) + 1):
        name = str(records[field_id].field_name)
        if not (name.startswith(_ITEM_PREFIX) and name[1:].isdigit()):
            parts.append(name)
        parent = int(records[field_id].parent_field_id)
        if parent == field_id:
            break
        field_id = parent
    return ".".join(reversed(parts))


def _kind(column: Any) -> str:
    """What a physical column holds: a collection's offsets, a variant's switch, or values."""
    code = int(column.type)
    return "offsets" if code in _INDEX_TYPES else "switch" if code == _SWITCH else "values"


def _columns(ntuple: Any, top_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """{physical column id: (field label, column kind)} of every column under these fields.

    A column reached through a projected field (an alias column, such as
    `Muon_pt` projecting `_collection0.Muon_pt`) is labelled by the projected
    field, the name the analysis used.
    """
    records = ntuple.field_records
    physical = ntuple.column_records
    wanted = set(top_ids)
    under = {fid for fid in range(len(records)) if _top_level(records, fid) in wanted}
    out: dict[int, tuple[str, str]] = {}
    for alias in ntuple.alias_column_records:
        if int(alias.field_id) in under:
            column = physical[int(alias.physical_id)]
            out.setdefault(int(column.idx), (_label(records, int(alias.field_id)),
                                             _kind(column)))
    for column in physical:
        if int(column.field_id) in under:
            out.setdefault(int(column.idx), (_label(records, int(column.field_id)),
                                             _kind(column)))
    return out


def verify_pages(ntuple: Any, fields: Iterable[str], entry_start: int, entry_stop: int) -> None:
    """Check every checksummed page that reading `fields` for these entries decodes.

    A field's pages are those of its whole top-level field (a subfield is read
    with its parent collections' offsets), in every cluster overlapping
    [entry_start, entry_stop] — including the cluster starting at
    `entry_stop`, which uproot also reads.
    """
    records = ntuple.field_records
    tops = {_top_level(records, int(ntuple[name].field_id)) for name in fields}
    columns = _columns(ntuple, tops)
    targets: list[tuple[int, int, str, str, Any]] = []
    links = ntuple.page_link_list
    for index, summary in enumerate(ntuple.cluster_summaries):
        first, n = int(summary.num_first_entry), int(summary.num_entries)
        if first > entry_stop or first + n <= entry_start:
            continue
        for column, (label, kind) in columns.items():
            if column >= len(links[index]):
                continue
            for page in links[index][column].pages:
                if page.has_checksum:
                    targets.append((first, first + n, label, kind, page.locator))
    ranges = [(int(loc.offset), int(loc.offset) + int(loc.num_bytes) + CHECKSUM_BYTES)
              for *_, loc in targets]
    for (first, stop, label, kind, loc), raw in zip(targets, read_ranges(ntuple.file, ranges),
                                                    strict=True):
        size = int(loc.num_bytes)
        if len(raw) != size + CHECKSUM_BYTES or \
                xxhash.xxh3_64_intdigest(raw[:size].data) != _stored(raw):
            raise Corrupt(f"field {label}: a page of its {kind} in the cluster of entries "
                          f"{first}-{stop} (bytes {int(loc.offset)}-{int(loc.offset) + size}) "
                          f"does not match its xxh3-64 checksum")


__all__ = ["CHECKSUM_BYTES", "Corrupt", "check_envelope", "verify_envelopes", "verify_pages"]
