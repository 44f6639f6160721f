"""RNTuple, ROOT's columnar format from 6.34 on, read through uproot's public RNTuple API.

An RNTuple reaches the engine exactly like a TTree: one array per column name,
the column names being the ones ROOT's RDataFrame gives it (`RNTupleDS`):
every field and subfield by its dotted path (`Muon_pt`, `three_LV.pt`,
`_collection0.Muon_pt`), plus `R_rdf_sizeof_<name>` for every collection: the
sizes of its innermost level (one number per event for `std::vector<float>`,
an RVec of sizes for `std::vector<std::vector<int>>`), as ROOT gives. A field
of one numeric value per event is a numpy array, a collection of numbers
(`std::vector<float>`, `RVec<float>`, `std::array<float, 3>`) a jagged awkward
array, anything else (strings, records, nested collections) an awkward array
whose type the planner calls "other".

Before uproot parses or decodes them, the envelopes (header, footer, page
lists) and every page a chunk reads are checked against the xxh3-64 checksums
ROOT wrote (`hepflow.io.rntuple_checksums`): uproot checks none of the pages,
so a flipped byte would otherwise change values silently.

uproot decodes whole clusters and slices them, so chunks are cut on cluster
boundaries (`cluster_starts`); the entry range a chunk asks for is then read
exactly. Note that uproot 5.7 also reads the cluster *starting* at
`entry_stop` (its search for the last cluster uses `side="right"`), so a chunk
of one cluster reads two (1.9x the bytes measured); results are unaffected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepflow.core.measure import Measurement
from hepflow.core.types import ColumnType, column_type, dtype_kind
from hepflow.errors import ReadError
from hepflow.io.failover import Refused, read_with_failover
from hepflow.io.handles import ReadStats, open_file, open_tree
from hepflow.io.rntuple_checksums import Corrupt, verify_envelopes, verify_pages

CLASS_NAME = "ROOT::RNTuple"
SIZEOF = "R_rdf_sizeof_"
OTHER = column_type("scalar", "other")


@dataclass(frozen=True, slots=True)
class NTupleMeta:
    """What preprocessing keeps about one RNTuple."""

    num_entries: int
    cluster_starts: tuple[int, ...]
    columns: dict[str, ColumnType]
    compressed_bytes: int


def _form_type(form: Any) -> ColumnType:
    """The planner's type of one column from its awkward form (as `branch_types` does)."""
    if isinstance(form, ak.forms.NumpyForm):
        kind = dtype_kind(np.dtype(form.primitive))
        return column_type("jagged" if form.inner_shape else "scalar", kind)
    if isinstance(form, _LISTS) and form.parameter("__array__") not in ("string", "bytestring"):
        content = form.content
        if isinstance(content, ak.forms.NumpyForm) and not content.inner_shape:
            return column_type("jagged", dtype_kind(np.dtype(content.primitive)))
    return OTHER


_LISTS = (ak.forms.ListOffsetForm, ak.forms.ListForm, ak.forms.RegularForm)


def _collection_depth(form: Any) -> int:
    """How many collections (vectors, RVecs, arrays; a string is one value) nest in a form."""
    depth = 0
    while isinstance(form, _LISTS) and form.parameter("__array__") not in ("string",
                                                                             "bytestring"):
        depth += 1
        form = form.content
    if isinstance(form, ak.forms.NumpyForm):
        depth += len(form.inner_shape)
    return depth


def _sizeof_type(depth: int) -> ColumnType:
    """`R_rdf_sizeof_x`: the innermost collection's sizes, one level less nested than x."""
    return column_type("scalar", "int") if depth == 1 else \
        column_type("jagged", "int") if depth == 2 else OTHER


def _project(array: Any, path: Sequence[str]) -> Any:
    """Subfield `path` of a top-level field's array (through lists, as ROOT projects)."""
    return array[tuple(path)] if len(path) > 1 else array[path[0]] if path else array


def _field_names(form: Any, prefix: str = "") -> list[str]:
    """Every field and subfield by dotted path, depth first, as `RNTuple.keys()` lists them.

    Subfields of records are reached through collections (`four_v_LVs.pt` of a
    `std::vector<LV>`), not through variants. Walking the form once is linear;
    uproot 5.7's `keys()` takes seconds on a 1,500-field NanoAOD RNTuple.
    """
    while isinstance(form, _LISTS) and form.parameter("__array__") not in ("string",
                                                                             "bytestring"):
        form = form.content
    if not isinstance(form, ak.forms.RecordForm):
        return []
    out: list[str] = []
    for field_name in form.fields:
        name = f"{prefix}.{field_name}" if prefix else field_name
        out.append(name)
        out.extend(_field_names(form.content(field_name), name))
    return out


def describe(ntuple: Any) -> NTupleMeta:
    """Entries, cluster boundaries, column types and page bytes of an opened RNTuple.

    Its envelopes are checked against their checksums first, so that a damaged
    header, footer or page list fails preprocessing instead of describing
    another RNTuple.
    """
    verify_envelopes(ntuple)
    form, _ = ntuple.to_akform()
    empty = ak.Array(form.length_zero_array())
    columns: dict[str, ColumnType] = {}
    for name in _field_names(form):
        parts = name.split(".")
        try:
            form_of = _project(empty[parts[0]], parts[1:]).layout.form
        except (KeyError, ValueError, TypeError, IndexError):  # not projectable: no column
            continue
        columns[name] = _form_type(form_of)
        depth = _collection_depth(form_of)
        if depth:
            columns[SIZEOF + name] = _sizeof_type(depth)
    starts = tuple(int(c.num_first_entry) for c in ntuple.cluster_summaries)
    nbytes = sum(int(page.locator.num_bytes)
                 for cluster in ntuple.page_link_list for column in cluster
                 for page in column.pages)
    return NTupleMeta(int(ntuple.num_entries), starts or (0,), columns, nbytes)


def _base(name: str) -> str:
    """The field a column name reads: `x` for `R_rdf_sizeof_x`, else the name itself."""
    return name[len(SIZEOF):] if name.startswith(SIZEOF) else name


def read_columns(ntuple: Any, names: Sequence[str], entry_start: int,
                 entry_stop: int) -> dict[str, Any]:
    """Exactly `names` for entries [entry_start, entry_stop), one uproot field read each.

    Each field is read through its own `RField.array`, which walks only that
    field's subtree: `RNTuple.arrays` walks every field of the RNTuple to
    filter names, which on a 1,500-field file costs 2.3 s on the first read in
    a process and 4x more per read afterwards than reading 20 fields one by one.
    """
    bases = {name: _base(name) for name in names}
    got: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for name, base in bases.items():
        if base not in got:
            got[base] = ntuple[base].array(entry_start=entry_start, entry_stop=entry_stop)
        array = got[base]
        if name != base:
            array = ak.num(array, axis=_collection_depth(array.layout.form))
        if array.ndim == 1 and isinstance(array.layout, ak.contents.NumpyArray):
            array = np.asarray(ak.to_numpy(array))
        out[name] = array
    return out


def read_chunk(chunk: Any, branches: Sequence[str], options: Any = None
               ) -> tuple[dict[str, Any], Any]:
    """One RNTuple chunk (`hepflow.io.sources.read_chunk` sends them here): the same
    retries, failover and stats as a TTree's."""
    def attempt(url: str, timeout: float) -> tuple[dict[str, Any], ReadStats]:
        arrays, nbytes, open_seconds = _read(url, chunk, branches, timeout)
        return arrays, ReadStats(Measurement(
            bytes_compressed=nbytes, seconds={"open": open_seconds},
            read_paths={"rntuple": 1}, file_paths={chunk.url: "rntuple"}), url)

    return read_with_failover(chunk, options, attempt)


def _read(url: str, chunk: Any, branches: Sequence[str],
          timeout: float) -> tuple[dict[str, Any], int, float]:
    """One attempt on one replica: (arrays, bytes read, seconds spent opening)."""
    def fail(cause: str, kind: type[ReadError] = ReadError) -> ReadError:
        return kind(chunk.url, chunk.entry_start, chunk.entry_stop, cause, replica=url)

    opening = time.perf_counter()
    try:
        handle = open_file(url, timeout, uuid=chunk.uuid)
        if chunk.uuid and str(handle.uuid) != chunk.uuid:
            raise fail(f"this is a different file (UUID {handle.uuid}, expected "
                       f"{chunk.uuid}); refusing it", Refused)
        handle, ntuple = open_tree(url, chunk.tree, timeout)
    except ReadError:
        raise
    except FileNotFoundError as exc:
        raise fail(f"file not found ({exc})") from exc
    except Exception as exc:
        raise fail(f"cannot open the file or RNTuple {chunk.tree!r}: {type(exc).__name__}: "
                   f"{exc}") from exc
    open_seconds = time.perf_counter() - opening
    if getattr(ntuple, "classname", "") != CLASS_NAME:
        raise fail(f"{chunk.tree!r} is a {getattr(ntuple, 'classname', type(ntuple).__name__)}"
                   f" now, not the RNTuple preprocessing saw", Refused)
    try:
        verify_envelopes(ntuple)
    except Corrupt as exc:
        raise fail(str(exc), Refused) from exc
    if int(ntuple.num_entries) < chunk.entry_stop:
        raise fail(f"the RNTuple has only {ntuple.num_entries} entries", Refused)
    source = handle.source
    before = int(getattr(source, "num_requested_bytes", 0) or 0)
    try:
        verify_pages(ntuple, {_base(name) for name in branches}, chunk.entry_start,
                     chunk.entry_stop)
    except Corrupt as exc:
        raise fail(str(exc), Refused) from exc
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    try:
        arrays = read_columns(ntuple, branches, chunk.entry_start, chunk.entry_stop)
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    for name, array in arrays.items():
        if len(array) != chunk.num_entries:
            raise fail(f"field {name} gave {len(array)} entries")
    nbytes = int(getattr(source, "num_requested_bytes", 0) or 0) - before
    return arrays, max(nbytes, 0), open_seconds


__all__ = ["CLASS_NAME", "SIZEOF", "NTupleMeta", "describe", "read_chunk", "read_columns"]
