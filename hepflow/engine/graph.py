"""Lowering to a Dask task graph: one task per chunk, then an ordered tree reduction.

The graph has exactly `chunks + ceil(chunks / split_every) + ...` tasks plus
one holding the kernel, whatever the number of Defines, Filters and actions:
they are all fused into the kernel. Keys are `hepflow-<kind>-<token>` with the
token derived from the plan's content (the kernel's branches, nodes and
actions, the chunks and their offsets), so the same plan run twice gives the
same keys and Dask can share the work, and the dashboard can map a task back
to the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.base

from hepflow.core.chunk import Chunk
from hepflow.engine.kernel import Kernel
from hepflow.results.partials import ChunkResult, merge_all


def run_chunk(kernel: Kernel, chunk: Chunk, offsets: Sequence[int]) -> ChunkResult:
    return kernel(chunk, offsets)


def merge_results(kernel: Kernel, parts: list[ChunkResult]) -> ChunkResult:
    return merge_all(parts, kernel.actions)


def graph_token(kernel: Kernel, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                split_every: int) -> str:
    """The content token of a run: equal for equal plans over equal chunks."""
    return str(dask.base.tokenize(kernel, tuple(chunks),
                                  tuple(tuple(o) for o in offsets), split_every))


def build_graph(kernel: Kernel, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                split_every: int, token: str) -> tuple[dict[Any, Any], Any]:
    """The task dict and the key of the final merged `ChunkResult`."""
    dsk: dict[Any, Any] = {}
    kernel_key = f"hepflow-kernel-{token}"
    dsk[kernel_key] = kernel
    name = f"hepflow-chunk-{token}"
    layer: list[Any] = []
    for chunk, chunk_offsets in zip(chunks, offsets, strict=True):
        key = (name, chunk.index)
        dsk[key] = (run_chunk, kernel_key, chunk, tuple(chunk_offsets))
        layer.append(key)
    level = 0
    while len(layer) > 1:
        merged = []
        name = f"hepflow-merge-{token}-{level}"
        for start in range(0, len(layer), split_every):
            key = (name, start // split_every)
            dsk[key] = (merge_results, kernel_key, list(layer[start:start + split_every]))
            merged.append(key)
        layer = merged
        level += 1
    return dsk, (layer[0] if layer else None)  # no chunks: nothing to compute


__all__ = ["build_graph", "graph_token"]
