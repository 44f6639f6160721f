"""`preprocess(dataset)`: files described (on the cluster, cached) and cut into chunks.

Entry ranges (per file, coffea steps, the dataset's global range) are applied
here, exactly: chunks are cut inside them, and a range beyond a file's end is
an error rather than a silent clamp. Friend chains are described like the
main files and each chunk learns the friend entries that go with its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hepflow.core.chunk import Chunk, FriendPiece
from hepflow.core.types import ColumnType, column_type, dtype_kind
from hepflow.dataset.chunks import FileInfo, cut_chunks
from hepflow.dataset.fileset import to_fileset
from hepflow.dataset.scan import preprocess_files
from hepflow.dataset.spec import Dataset, EntryRange, FileSpec
from hepflow.errors import PlanError


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset with every file described and cut into cluster-aligned chunks.

    `friends` holds, per friend alias, the described files of its chain.
    """

    dataset: Dataset
    files: tuple[FileInfo, ...]
    chunks: tuple[Chunk, ...]
    friends: tuple[tuple[str, tuple[FileInfo, ...]], ...] = ()

    @property
    def branches(self) -> dict[str, ColumnType]:
        """The dataset's columns: the main files' branches, then `alias.branch` of friends."""
        out = common_columns(self.files)
        for alias, infos in self.friends:
            out.update({f"{alias}.{name}": kind
                        for name, kind in common_columns(infos).items()})
        return out

    @property
    def entries(self) -> int:
        return sum(c.num_entries for c in self.chunks)

    def to_fileset(self) -> dict[str, dict[str, Any]]:
        """This dataset as a coffea fileset, its chunks as the steps (TTrees, no friends)."""
        return to_fileset(self)

    def entries_per_sample(self) -> dict[str, int]:
        out = {s.name: 0 for s in self.dataset}
        for chunk in self.chunks:
            out[chunk.sample] += chunk.num_entries
        return out


def preprocess(dataset: Dataset, client: Any = None, *, chunk_entries: int = 100_000,
               chunk_bytes: int = 0, use_cache: bool = True) -> PreparedDataset:
    """Learn entries, clusters, column types and UUIDs of every file; cut chunks.

    With a `client` this is one Dask task per file (so 1,000 files take time
    proportional to files / workers); results are cached on disk by file
    identity, and a fully cached dataset opens no file at all. TTrees and
    RNTuples may be mixed; friend files are described in the same job.
    """
    pairs = dataset.files
    requests = [(f.url, f.tree, f.replicas, s.name) for s, f in pairs]
    for friend in dataset.friends:
        requests.extend((f.url, f.tree, f.replicas, "") for f in friend.files)
    described = preprocess_files(requests, client=client, use_cache=use_cache)
    infos, rest = described[:len(pairs)], described[len(pairs):]
    _check_schemas(infos)
    for (_, spec), info in zip(pairs, infos, strict=True):
        if spec.uuid and spec.uuid != info.uuid:
            raise PlanError(f"file {spec.url}: the dataset says UUID {spec.uuid}, the file "
                            f"has {info.uuid}; it is a different file")
    ranges = file_ranges([f for _, f in pairs], infos, dataset.range)
    chunks = cut_chunks(infos, chunk_entries, ranges, chunk_bytes)
    friends: list[tuple[str, tuple[FileInfo, ...]]] = []
    for friend in dataset.friends:
        chain, rest = tuple(rest[:len(friend.files)]), rest[len(friend.files):]
        _check_schemas(list(chain))
        _check_friend(friend.alias, chain, infos, common_columns(infos))
        friends.append((friend.alias, chain))
    if friends:
        chunks = [replace(c, friends=friend_pieces(c, friends)) for c in chunks]
    return PreparedDataset(dataset, tuple(infos), tuple(chunks), tuple(friends))


def file_ranges(specs: Sequence[FileSpec], infos: Sequence[FileInfo],
                span: EntryRange | None) -> list[list[EntryRange]]:
    """Each file's entry ranges: its own (or its steps), cut to the chain's global range."""
    total = sum(i.num_entries for i in infos)
    if span is not None and span[1] > total:
        raise PlanError(f"the dataset range [{span[0]}, {span[1]}) ends after the "
                        f"{total} entries of its files")
    out: list[list[EntryRange]] = []
    position = 0
    for spec, info in zip(specs, infos, strict=True):
        own = spec.ranges(info.num_entries)
        if span is not None:
            lo, hi = span[0] - position, span[1] - position
            own = [(max(a, lo), min(b, hi)) for a, b in own if max(a, lo) < min(b, hi)]
        out.append(own)
        position += info.num_entries
    return out


def friend_pieces(chunk: Chunk, friends: Sequence[tuple[str, Sequence[FileInfo]]]
                  ) -> tuple[FriendPiece, ...]:
    """The friend entries at the chunk's positions in the whole chain, file by file."""
    lo, hi = chunk.global_start, chunk.global_start + chunk.num_entries
    pieces: list[FriendPiece] = []
    for alias, chain in friends:
        position = 0
        for info in chain:
            start, stop = max(lo, position), min(hi, position + info.num_entries)
            if start < stop:
                pieces.append(FriendPiece(alias, info.url, info.tree, start - position,
                                          stop - position, info.uuid, info.replicas,
                                          info.format))
            position += info.num_entries
    return tuple(pieces)


def common_columns(infos: Sequence[FileInfo]) -> dict[str, ColumnType]:
    """A dataset's schema: every branch some file of each format has (first file's order).

    Files of one format may differ in their branches, as ROOT's RDataFrame allows:
    a branch missing in some files is there for `FilterAvailable`,
    `FilterMissing` and `DefaultValueFor`, and reading it elsewhere is an error
    naming the file. When TTrees and RNTuples are mixed, a column only one
    format has (an RNTuple's `R_rdf_sizeof_Muon_pt`) is not in the schema.
    """
    if not infos:
        return {}
    per_format: dict[str, dict[str, ColumnType]] = {}
    for info in infos:
        union = per_format.setdefault(info.format, {})
        for name, kind in info.branches.items():
            union[name] = _wider(union[name], kind) if name in union else kind
    formats = list(per_format.values())
    out = dict(formats[0])
    for other in formats[1:]:
        out = {name: _wider(kind, other[name]) for name, kind in out.items() if name in other}
    return out


def _same_family(a: ColumnType, b: ColumnType) -> bool:
    """Equal shape, and both integers or both floating point (widths may differ)."""
    return a.kind == b.kind and (a.dtype == b.dtype or (
        a.category == b.category and a.category in ("int", "float")))


def _wider(a: ColumnType, b: ColumnType) -> ColumnType:
    """The type holding both: a TTree's `Int_t nMuon` and an RNTuple's `std::int64_t`.

    Files converted between formats often change integer widths; the schema
    then takes the wider type, so expressions never assume a narrower one."""
    if a.dtype == b.dtype or not _same_family(a, b):
        return a
    wide = np.promote_types(a.numpy, b.numpy)
    return column_type(a.kind, dtype_kind(wide))


def _check_friend(alias: str, chain: Sequence[FileInfo], infos: Sequence[FileInfo],
                  columns: dict[str, ColumnType]) -> None:
    have = sum(i.num_entries for i in chain)
    want = sum(i.num_entries for i in infos)
    if have != want:
        raise PlanError(f"friend {alias!r} has {have} entries but the dataset's files have "
                        f"{want}; a friend needs one entry per entry of the main chain")
    if any(name == alias or name.startswith(alias + ".") for name in columns):
        raise PlanError(f"friend alias {alias!r} is also a column of the main files; "
                        "choose another alias")


def _check_schemas(infos: list[FileInfo]) -> None:
    """The files of a dataset must agree on each shared column's type (widths may differ)."""
    if not infos:
        return
    first = infos[0]
    for info in infos[1:]:
        for name, kind in first.branches.items():
            other = info.branches.get(name)
            if other is not None and not _same_family(kind, other):
                raise PlanError(f"column {name} is {kind} in {first.url} but {other} in "
                                f"{info.url}; all files of a dataset need the same types")


__all__ = ["PreparedDataset", "common_columns", "file_ranges", "friend_pieces", "preprocess"]
