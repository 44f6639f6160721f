"""Snapshot: write selected columns to a ROOT file, never leaving a partial file that looks done.

This module takes plain values only (a `SnapshotTarget`, a chunk index, a dict
of arrays), so the io layer does not depend on the plan. The life of a
snapshot is three calls:

1. `check_target`, on the client, before the run starts: a target that cannot
   be written (a folder, a read-only folder, `/proc`, a missing parent folder)
   fails at once with a `SnapshotError` naming it, instead of after the whole
   run with a raw `OSError` naming a hidden part file.
2. `write_part`, in each chunk task: the chunk's entries go to a hidden part
   file next to the target.
3. `finalize`, on the client: the parts are appended, in chunk order, to one
   new tree written under a temporary name and renamed into place only when
   complete; the parts are removed whatever happens.

A TTree keeps the NanoAOD layout: `Muon_pt` and `Muon_eta` with equal sizes
are written together with one `nMuon` counter, as ROOT writes a NanoAOD
file's arrays back. Any other collection gets its own hidden counter
(`SIZEOF_PREFIX`), and a fixed-size array per entry a fixed-size leaf. An
RNTuple (``format="rntuple"``) keeps the columns as they are named, each
collection with its own offsets, and every page followed by its checksum as
ROOT writes it (`hepflow.io.rntuple_write`).
"""

from __future__ import annotations

import os
import stat
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

import awkward as ak
import numpy as np
import uproot

from hepflow.errors import PlanError, SnapshotError
from hepflow.io import rntuple_write
from hepflow.io.rntuple import SIZEOF

SnapshotFormat = Literal["root", "rntuple"]
FORMATS: tuple[str, ...] = get_args(SnapshotFormat)

_COMPRESSION = {"ZSTD": uproot.ZSTD(5), "LZ4": uproot.LZ4(4), "ZLIB": uproot.ZLIB(1)}


def _compression(name: str) -> Any:
    try:
        return _COMPRESSION[name.upper()]
    except KeyError:
        raise PlanError(f"unknown compression {name!r}; choose one of "
                        f"{', '.join(sorted(_COMPRESSION))}") from None


@dataclass(frozen=True, slots=True)
class SnapshotTarget:
    """Where and how a snapshot is written: plain values, checked when made.

    `filename` is made absolute, because the chunk tasks that write the parts
    may run in another working directory than the client that booked them.
    """

    treename: str
    filename: str
    columns: tuple[str, ...]
    compression: str = "ZSTD"
    format: SnapshotFormat = "root"
    #: The input's counter branches (`nMuon`, ...): `Muon_*` collections are written back
    #: as a NanoAOD record with that counter only where the input has it, as ROOT does.
    counters: tuple[str, ...] = ()
    #: The numpy dtype of each input counter (`nMuon` -> `uint32`): ROOT writes a record's
    #: counter back with the input's leaf type (`UInt_t`), uproot would write `Int_t`.
    counter_dtypes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.treename, str) or not self.treename.strip() \
                or "/" in self.treename:
            raise PlanError(f"Snapshot: the tree name {self.treename!r} must be a non-empty "
                            "name without `/`")
        if not isinstance(self.filename, (str, os.PathLike)) or not os.fspath(self.filename):
            raise PlanError(f"Snapshot: the file name {self.filename!r} must be a non-empty path")
        object.__setattr__(self, "filename", os.path.abspath(os.fspath(self.filename)))
        columns = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        if not columns:
            raise PlanError("Snapshot: no columns selected")
        bad = [c for c in columns if not isinstance(c, str) or not c]
        if bad:
            raise PlanError(f"Snapshot: column names must be non-empty strings, not {bad[0]!r}")
        object.__setattr__(self, "columns", columns)
        if not isinstance(self.compression, str):
            raise PlanError(f"Snapshot: compression must be a name such as 'ZSTD', "
                            f"not {self.compression!r}")
        _compression(self.compression)
        if self.format not in FORMATS:
            raise PlanError(f"Snapshot: unknown format {self.format!r}; choose one of "
                            f"{', '.join(repr(f) for f in FORMATS)}")


class SnapshotPart(NamedTuple):
    """One chunk's hidden part file and how many entries it holds."""

    path: str
    entries: int


def _refuse(target: SnapshotTarget, why: str, cause: BaseException | None = None) -> SnapshotError:
    detail = f" ({type(cause).__name__}: {cause.strerror or cause})" \
        if isinstance(cause, OSError) else ""
    return SnapshotError(f"Snapshot cannot write {target.filename}: {why}{detail}")


def check_target(target: SnapshotTarget, *, create_dirs: bool = False) -> None:
    """Refuse, before any data is read, a target the snapshot could not be written to.

    The folder is proven writable by creating (and removing) a hidden probe
    file in it, because permission bits lie: root ignores them, and a
    read-only mount or `/proc` refuses writes whatever the bits say. A missing
    parent folder is an error unless `create_dirs` asks for it to be created.
    """
    path = Path(target.filename)
    if path.is_dir():
        raise _refuse(target, "it is an existing folder; give a file name inside it")
    if path.exists() or path.is_symlink():
        try:
            mode = path.stat().st_mode
        except OSError as err:
            raise _refuse(target, "the existing file cannot be inspected", err) from err
        if not stat.S_ISREG(mode):
            raise _refuse(target, "it exists and is not a regular file")
        if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP
                                                       | stat.S_IWOTH):
            raise _refuse(target, "the existing file is read-only; remove it or choose "
                                  "another name")
    parent = path.parent
    if not parent.exists():
        if not create_dirs:
            raise _refuse(target, f"the folder {parent} does not exist; create it or pass "
                                  "create_dirs=True")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _refuse(target, f"the folder {parent} cannot be created", err) from err
    if not parent.is_dir():
        raise _refuse(target, f"{parent} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.check-", dir=parent)
    except OSError as err:
        raise _refuse(target, f"the folder {parent} is not writable", err) from err
    os.close(fd)
    os.unlink(probe)


#: The counter of a collection written on its own. ROOT writes such a column as an RVec
#: branch with no counter, which uproot cannot write; a counter named with ROOT's own
#: size-column prefix (that of an RNTuple's `R_rdf_sizeof_x`) is one that ROOT's
#: RDataFrame and hepflow both hide from the column list.
SIZEOF_PREFIX = SIZEOF


@dataclass(frozen=True, slots=True)
class TreeLayout:
    """The branches of a TTree snapshot: NanoAOD records with one `n<Prefix>` counter,
    and the collections written on their own with an `R_rdf_sizeof_<name>` counter."""

    columns: dict[str, Any]
    records: frozenset[str]

    def counter(self, counted: str) -> str:
        return ("n" if counted in self.records else SIZEOF_PREFIX) + counted


def _group_collections(values: Mapping[str, Any], counters: Sequence[str] = ()) -> TreeLayout:
    """Group equally sized `Prefix_field` collections into NanoAOD-style records.

    A prefix becomes a record (written as `Prefix_field[nPrefix]`, as ROOT keeps
    a NanoAOD file's arrays) only when `nPrefix` is a counter of the input or a
    selected column, no selected column is itself named `Prefix` or `nPrefix`
    with other values, and every field has the same sizes; otherwise each
    collection is written on its own (as ROOT writes an `RVec` Define).
    """
    known = set(counters) | set(values)
    groups: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    alone: dict[str, Any] = {}
    for name, value in values.items():
        jagged = isinstance(value, ak.Array) and value.ndim == 2
        if jagged and "_" in name and name.split("_", 1)[0] not in values and \
                "n" + name.split("_", 1)[0] in known:
            prefix, field = name.split("_", 1)
            groups.setdefault(prefix, {})[field] = value
        elif jagged:
            alone[name] = value
        else:
            flat[name] = np.asarray(value)
    out: dict[str, Any] = {}
    records: set[str] = set()
    for prefix, fields in groups.items():
        counts = [np.asarray(ak.num(v, axis=1)) for v in fields.values()]
        same = all(np.array_equal(counts[0], c) for c in counts[1:])
        counter = "n" + prefix
        if same:
            if counter in flat and np.array_equal(flat[counter], counts[0]):
                del flat[counter]
            if counter not in flat and counter not in alone:
                records.add(prefix)
                continue
        for field, value in fields.items():
            alone[f"{prefix}_{field}"] = value
    for name in values:  # in the order the columns were asked for
        prefix = name.split("_", 1)[0]
        if name in alone or name in flat:
            out[name] = alone[name] if name in alone else flat[name]
        elif prefix in records and prefix not in out:
            out[prefix] = ak.zip(groups[prefix])
    return TreeLayout(out, frozenset(records))


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat columns as numpy (awkward's 1-d arrays included), jagged ones as awkward."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, ak.Array):
            out[name] = np.asarray(ak.to_numpy(value)) if value.ndim == 1 else value
        else:
            out[name] = np.asarray(value)
    return out


def _write(out: Any, target: SnapshotTarget, values: Mapping[str, Any], create: bool) -> None:
    """Create (or extend) the tree or RNTuple `target.treename` in the open file `out`."""
    data = _plain(values)
    if target.format == "rntuple":
        write = rntuple_write.create if create else rntuple_write.extend
        write(out, target.treename, ak.Array(data))
        return
    layout = _group_collections(data, target.counters)
    if create:
        # `mktree`, because plain assignment may write an RNTuple; a fixed-size array
        # per entry (a std::array) is a fixed-size leaf, `a[3]/F`.
        types = {k: (v.type if isinstance(v, ak.Array) else np.dtype((v.dtype, v.shape[1:])))
                 for k, v in layout.columns.items()}
        tree = out.mktree(target.treename, types, counter_name=layout.counter)
        _retype_counters(tree, out, {layout.counter(p): np.dtype(d) for p in layout.records
                                     for n, d in target.counter_dtypes if n == "n" + p})
    out[target.treename].extend(layout.columns)


def _retype_counters(tree: Any, out: Any, dtypes: Mapping[str, np.dtype]) -> None:
    """Give the counters uproot generated (always `Int_t`) the input counters' leaf types.

    uproot has no option for a counter's type; before any entry is written the
    counter's leaf is retyped and the tree metadata rewritten, moved in the
    file's cache of trees as uproot's own `add_branches` does.
    """
    cascading = tree._cascading
    changed = False
    for name, dtype in dtypes.items():
        index = cascading._branch_lookup.get(name)
        datum = None if index is None else cascading._branch_data[index]
        if datum is None or datum["kind"] != "counter" or dtype.kind not in "iu":
            continue
        big = dtype.newbyteorder(">")
        if datum["dtype"] != big:
            datum["dtype"] = big
            datum["fTitle"] = f"{name}/{_LEAF_LETTERS[big.kind, big.itemsize]}"
            changed = True
    if changed:
        old = cascading.key.seek_location
        cascading.write_anew(out.file.sink)
        out.file._move_tree(old, cascading.key.seek_location)


#: ROOT's leaf-type letters of the integer types a counter can have.
_LEAF_LETTERS: dict[tuple[str, int], str] = {
    ("i", 1): "B", ("u", 1): "b", ("i", 2): "S", ("u", 2): "s", ("i", 4): "I", ("u", 4): "i",
    ("i", 8): "L", ("u", 8): "l"}


def _part_path(target: SnapshotTarget, chunk_index: int) -> Path:
    path = Path(target.filename)
    return path.parent / f".{path.name}.part{chunk_index:06d}.{uuid.uuid4().hex[:8]}.root"


def write_part(target: SnapshotTarget, chunk_index: int,
               values: Mapping[str, Any]) -> SnapshotPart:
    """Write one chunk's selected entries (column name -> array) to a hidden part file."""
    missing = [c for c in target.columns if c not in values]
    if missing:
        raise PlanError(f"Snapshot of {target.filename}: no values given for column(s) "
                        f"{', '.join(missing)}")
    ordered = {c: values[c] for c in target.columns}
    n = len(next(iter(ordered.values())))
    path = _part_path(target, chunk_index)
    try:
        with uproot.recreate(path, compression=_compression(target.compression)) as out:
            _write(out, target, ordered, create=True)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise _refuse(target, f"the part file of chunk {chunk_index} cannot be written",
                      err) from err
    return SnapshotPart(str(path), n)


def finalize(target: SnapshotTarget, parts: Sequence[tuple[str, int]]) -> str:
    """Append the parts in order into the target file, atomically; remove the parts.

    The tree is written to a hidden temporary file next to the target and
    renamed over it only once complete, so a crash never leaves a file that
    looks finished. With no entries at all the first (empty) part still gives
    the tree its column types.
    """
    path = Path(target.filename)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with uproot.recreate(tmp, compression=_compression(target.compression)) as out:
            written = False
            nonempty = [p for p in parts if p[1] > 0] or list(parts[:1])
            for part_path, _ in nonempty:
                with uproot.open(part_path) as part:
                    data = part[target.treename].arrays(list(target.columns), library="ak",
                                                        how=dict)
                _write(out, target, data, create=not written)
                written = True
        os.replace(tmp, path)
    except OSError as err:
        raise _refuse(target, "the finished file cannot be written", err) from err
    finally:
        tmp.unlink(missing_ok=True)
        for part_path, _ in parts:
            Path(part_path).unlink(missing_ok=True)
    return str(path)


__all__ = ["FORMATS", "SIZEOF_PREFIX", "SnapshotFormat", "SnapshotPart", "SnapshotTarget",
           "check_target", "finalize", "write_part"]
