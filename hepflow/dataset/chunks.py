"""Files and the cluster-aligned chunks cut from them.

A chunk never splits a ROOT cluster, so every basket is decompressed by
exactly one task. Chunks carry their position in the dataset, which is what
makes `Range`, `rdfentry_` and ordered `Take` exact in distributed mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hepflow.core.chunk import TTREE, Chunk
from hepflow.core.types import ColumnType
from hepflow.io.baskets import LayoutTable
from hepflow.io.handles import Stamp


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What preprocessing learned about one file.

    `stamp` is the local file's identity as the worker saw it when it read the
    file (not kept in the cache): the preprocessing cache stores the result
    under that, so a file replaced meanwhile is never filed under the new
    file's identity with the old file's contents.
    """

    url: str
    tree: str
    num_entries: int
    cluster_starts: tuple[int, ...]
    uuid: str
    replicas: tuple[str, ...] = ()
    sample: str = ""
    branches: Mapping[str, ColumnType] = field(default_factory=dict, compare=False)
    compressed_bytes: int = 0
    layouts: LayoutTable = field(default_factory=LayoutTable, compare=False)
    file_end: int = 0
    format: str = TTREE
    stamp: Stamp | None = field(default=None, compare=False)

    @property
    def urls(self) -> tuple[str, ...]:
        return self.replicas or (self.url,)


def cut_chunks(files: Sequence[FileInfo], target_entries: int,
               ranges: Sequence[Sequence[tuple[int, int]] | None] | None = None,
               target_bytes: int = 0) -> list[Chunk]:
    """Merge whole clusters into chunks of about `target_entries` entries.

    With `target_bytes`, each file's chunk size in entries comes from its
    compressed bytes per entry instead. `ranges` restricts each file to a list
    of sorted, disjoint entry ranges (a dataset's entry ranges, coffea steps,
    or the chunks a run could not read); chunks are cut inside each range, at
    its ends and at the cluster boundaries within it, never across two ranges.
    """
    if target_entries < 1 and target_bytes < 1:
        raise ValueError("the chunk size must be at least one entry")
    chunks: list[Chunk] = []
    global_start = 0
    for file_index, info in enumerate(files):
        wanted = ranges[file_index] if ranges else None
        spans = [(0, info.num_entries)] if wanted is None else list(wanted)
        target = target_entries
        if target_bytes and info.compressed_bytes and info.num_entries:
            target = max(1, int(target_bytes * info.num_entries / info.compressed_bytes))
        for first, last in spans:
            bounds = sorted({b for b in info.cluster_starts if first < b < last} | {first, last})
            start = first
            for stop in bounds[1:]:
                if stop - start >= target or stop == last:
                    if stop > start:
                        chunks.append(Chunk(len(chunks), file_index, info.url, info.tree, start,
                                            stop, global_start + start, info.uuid,
                                            info.replicas, info.sample, info.format))
                    start = stop
        global_start += info.num_entries
    return chunks


__all__ = ["FileInfo", "cut_chunks"]
