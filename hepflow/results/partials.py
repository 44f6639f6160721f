"""What one chunk task returns, and the associative merge of two of them.

Partial results are kept per sample, so one pass gives both the total and the
per-sample split. Merging is associative and ordered pieces carry chunk
indices, so the reduction's shape, task order and retries never change a
result. Accounting (entries expected and processed per sample) and the chunks
that could not be read travel with the results, so a result always knows what
it covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hist

from hepflow.results.moments import Moments
from hepflow.results.pieces import Pieces


@dataclass(frozen=True, slots=True)
class Failure:
    """A chunk that was not processed, and why."""

    chunk: Any  # hepflow.dataset.Chunk
    reason: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """Per-run sums of per-chunk costs."""

    bytes_read: int = 0
    read_seconds: float = 0.0
    compute_seconds: float = 0.0

    def merge(self, other: Metrics) -> Metrics:
        return Metrics(self.bytes_read + other.bytes_read,
                       self.read_seconds + other.read_seconds,
                       self.compute_seconds + other.compute_seconds)


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """Per-sample partial results of all actions, cutflow counts, accounting, failures."""

    partials: tuple[Mapping[str, Any], ...]
    cutflow: tuple[tuple[int, int], ...]
    accounting: Mapping[str, tuple[int, int]]
    failures: tuple[Failure, ...] = ()
    chunks: int = 1
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def expected(self) -> int:
        return sum(e for e, _ in self.accounting.values())

    @property
    def processed(self) -> int:
        return sum(p for _, p in self.accounting.values())


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


def _merge_samples(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = merge_partial(out[key], value) if key in out else value
    return out


def merge(a: ChunkResult, b: ChunkResult) -> ChunkResult:
    accounting = dict(a.accounting)
    for key, (exp, proc) in b.accounting.items():
        old = accounting.get(key, (0, 0))
        accounting[key] = (old[0] + exp, old[1] + proc)
    return ChunkResult(
        tuple(_merge_samples(x, y) for x, y in zip(a.partials, b.partials, strict=True)),
        tuple((x[0] + y[0], x[1] + y[1]) for x, y in zip(a.cutflow, b.cutflow, strict=True)),
        accounting,
        tuple(sorted(a.failures + b.failures, key=lambda f: f.chunk.index)),
        a.chunks + b.chunks,
        a.metrics.merge(b.metrics),
    )


def merge_all(results: list[ChunkResult]) -> ChunkResult:
    """Merge in order (one level of the tree reduction)."""
    out = results[0]
    for item in results[1:]:
        out = merge(out, item)
    return out


def combine_samples(partials: Mapping[str, Any], order: list[str]) -> Any:
    """The total over samples, merged in dataset order (deterministic float sums)."""
    total = None
    for name in order:
        if name in partials:
            total = merge_partial(total, partials[name])
    return total


__all__ = ["ChunkResult", "Failure", "Metrics", "combine_samples", "merge", "merge_all",
           "merge_partial"]
