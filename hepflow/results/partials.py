"""What one chunk task returns, and the associative merge of two of them.

Merging is associative and tags ordered pieces with chunk indices, so the
tree reduction's shape, task order and retries never change the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hist

from hepflow.results.moments import Moments
from hepflow.results.pieces import Pieces


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """Partial results of all actions plus the cutflow counts and the entry accounting."""

    partials: tuple[Any, ...]
    cutflow: tuple[tuple[int, int], ...]
    chunks: int
    expected: int
    processed: int


def merge_partial(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (Moments, Pieces)):
        return a.merge(b)
    if isinstance(a, hist.Hist):
        return a + b
    if isinstance(a, int):
        return a + b
    raise TypeError(f"cannot merge partial results of type {type(a).__name__}")


def merge(a: ChunkResult, b: ChunkResult) -> ChunkResult:
    return ChunkResult(
        tuple(merge_partial(x, y) for x, y in zip(a.partials, b.partials, strict=True)),
        tuple((x[0] + y[0], x[1] + y[1]) for x, y in zip(a.cutflow, b.cutflow, strict=True)),
        a.chunks + b.chunks,
        a.expected + b.expected,
        a.processed + b.processed,
    )


def merge_all(results: list[ChunkResult]) -> ChunkResult:
    """Merge in order (one level of the tree reduction)."""
    out = results[0]
    for item in results[1:]:
        out = merge(out, item)
    return out


__all__ = ["ChunkResult", "merge", "merge_all", "merge_partial"]
