"""Snapshot: each chunk writes a hidden part file; finishing joins them in entry order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.base

from hepflow.io.snapshot import SnapshotTarget, finalize, write_part
from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.pieces import Pieces


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot(Action[Pieces, Any]):
    """Write columns to a ROOT file; the result is whatever `reopen(path)` returns.

    `reopen` is given by the facade (an RDataFrame over the new file, as ROOT
    returns), so the action needs no knowledge of the user-facing builder.
    """

    node: PlanNode
    target: SnapshotTarget
    reopen: Callable[[str], Any]

    def columns(self) -> tuple[str, ...]:
        return self.target.columns

    @property
    def label(self) -> str:
        return f"Snapshot({self.target.filename!r})"

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        values = {c: ctx.column(self.node, c) for c in self.target.columns}
        return Pieces(((ctx.chunk_index, write_part(self.target, ctx.chunk_index, values)),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> Any:
        return self.reopen(finalize(self.target, partial.values()))

    def __dask_tokenize__(self) -> object:
        return dask.base.tokenize("Snapshot", self.node, self.target)

    def __reduce__(self) -> tuple[Any, ...]:
        """Ship without `reopen`: workers only fill, and it holds the client."""
        return (Snapshot, (self.node, self.target, _path))


def _path(path: str) -> str:
    return path


__all__ = ["Snapshot"]
