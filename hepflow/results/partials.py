"""What one chunk task returns, and the associative merge of two of them.

Partial results are kept per sample, so one pass gives both the total and the
per-sample split. Merging is associative and ordered pieces carry chunk
indices, so the reduction's shape, task order and retries never change a
result. Accounting (entries expected and processed per sample) and the chunks
that could not be read travel with the results, so a result always knows what
it covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hepflow.core.measure import Measurement


@dataclass(frozen=True, slots=True)
class Failure:
    """A chunk that was not processed, and why."""

    chunk: Any  # hepflow.dataset.Chunk
    reason: str


class Merger(Protocol):
    """Anything that merges two partials of its own kind (an action, see plan.actions)."""

    def merge(self, a: Any, b: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """Per-sample partial results of all actions, accounting and failures of some chunks."""

    partials: tuple[Mapping[str, Any], ...]
    accounting: Mapping[str, tuple[int, int]]
    failures: tuple[Failure, ...] = ()
    chunks: int = 1
    #: what the chunks cost and how they were read (see hepflow.core.measure)
    metrics: Measurement = field(default_factory=Measurement)

    @property
    def expected(self) -> int:
        return sum(e for e, _ in self.accounting.values())

    @property
    def processed(self) -> int:
        return sum(p for _, p in self.accounting.values())


def _merge_samples(merger: Merger, a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = merger.merge(out[key], value) if key in out else value
    return out


def merge(a: ChunkResult, b: ChunkResult, mergers: Sequence[Merger]) -> ChunkResult:
    """Two results combined, each action's partials by that action's own merge."""
    accounting = dict(a.accounting)
    for key, (exp, proc) in b.accounting.items():
        old = accounting.get(key, (0, 0))
        accounting[key] = (old[0] + exp, old[1] + proc)
    return ChunkResult(
        tuple(_merge_samples(m, x, y)
              for m, x, y in zip(mergers, a.partials, b.partials, strict=True)),
        accounting,
        tuple(sorted(a.failures + b.failures, key=lambda f: int(f.chunk.index))),
        a.chunks + b.chunks,
        a.metrics.merge(b.metrics),
    )


def merge_all(results: Sequence[ChunkResult], mergers: Sequence[Merger]) -> ChunkResult:
    """Merge in order (one level of the tree reduction)."""
    out = results[0]
    for item in results[1:]:
        out = merge(out, item, mergers)
    return out


__all__ = ["ChunkResult", "Failure", "Merger", "merge", "merge_all"]
