"""`preprocess(dataset)`: files described (on the cluster, cached) and cut into chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hepflow.dataset.chunks import Chunk, FileInfo, cut_chunks
from hepflow.dataset.scan import preprocess_files
from hepflow.dataset.spec import Dataset
from hepflow.errors import PlanError
from hepflow.plan.types import ColumnType


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset with every file described and cut into cluster-aligned chunks."""

    dataset: Dataset
    files: tuple[FileInfo, ...]
    chunks: tuple[Chunk, ...]

    @property
    def branches(self) -> dict[str, ColumnType]:
        """Branch types, which must agree across files of a dataset."""
        return dict(self.files[0].branches) if self.files else {}

    @property
    def entries(self) -> int:
        return sum(c.num_entries for c in self.chunks)

    def entries_per_sample(self) -> dict[str, int]:
        out = {s.name: 0 for s in self.dataset}
        for chunk in self.chunks:
            out[chunk.sample] += chunk.num_entries
        return out


def preprocess(dataset: Dataset, client: Any = None, *, chunk_entries: int = 100_000,
               chunk_bytes: int = 0, use_cache: bool = True) -> PreparedDataset:
    """Learn entries, clusters, branch types and UUIDs of every file; cut chunks.

    With a `client` this is one Dask task per file (so 1,000 files take time
    proportional to files / workers); results are cached on disk by file
    identity, and a fully cached dataset opens no file at all.
    """
    pairs = dataset.files
    requests = [(f.url, f.tree, f.replicas, s.name) for s, f in pairs]
    infos = preprocess_files(requests, client=client, use_cache=use_cache)
    _check_schemas(infos)
    ranges = [(f.entry_start, f.entry_stop) for _, f in pairs]
    chunks = cut_chunks(infos, chunk_entries, ranges, chunk_bytes)
    return PreparedDataset(dataset, tuple(infos), tuple(chunks))


def _check_schemas(infos: list[FileInfo]) -> None:
    if not infos:
        return
    first = infos[0]
    for info in infos[1:]:
        if info.tree != first.tree:
            continue
        missing = set(first.branches) - set(info.branches)
        if missing:
            raise PlanError(f"{info.url} lacks branches {sorted(missing)[:5]} that "
                            f"{first.url} has; all files of a dataset need the same branches")


__all__ = ["PreparedDataset", "preprocess"]
