"""Take, AsNumpy and Display: column values in entry order, as ordered pieces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.errors import ResultMemoryError
from hepflow.plan.actions.base import Action, as_piece
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.columns import nbytes_needed, numpy_column
from hepflow.results.display import DisplayResult, to_lists
from hepflow.results.pieces import Pieces, concatenate, head


@dataclass(frozen=True, slots=True, eq=False)
class Take(Action[Pieces, Any]):
    """All values of one column in entry order (numpy, or awkward for collections)."""

    node: PlanNode
    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        return Pieces(((ctx.chunk_index, as_piece(ctx.column(self.node, self.column))),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> Any:
        return concatenate(partial.values())


def _table(node: PlanNode, names: Sequence[str], ctx: FillContext,
           rows: int | None = None) -> dict[str, Any]:
    return {c: as_piece(ctx.column(node, c)[:rows]) for c in names}


@dataclass(frozen=True, slots=True, eq=False)
class AsNumpy(Action[Pieces, dict[str, np.ndarray]]):
    """Columns as numpy arrays, in entry order.

    A collection column is an object array with one numpy array per event (as ROOT's
    holds one `RVec` per event), in the column's own type, each a view into one
    buffer per column.
    """

    node: PlanNode
    names: tuple[str, ...]

    def columns(self) -> tuple[str, ...]:
        return self.names

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        return Pieces(((ctx.chunk_index, _table(self.node, self.names, ctx)),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> dict[str, np.ndarray]:
        """Each column joined in place (`hepflow.results.columns`); running out of memory
        is a `ResultMemoryError` naming the columns and the size they need."""
        parts = partial.values()
        out: dict[str, np.ndarray] = {}
        try:
            for name in self.names:
                out[name] = numpy_column([p[name] for p in parts])
            return out
        except MemoryError:
            pass  # reported below, once the half-built arrays (held by the traceback) are gone
        out.clear()
        rows = sum(len(next(iter(p.values()))) for p in parts if p)
        size = sum(nbytes_needed([p[n] for p in parts]) for n in self.names)
        raise ResultMemoryError(
            f"AsNumpy({list(self.names)}): not enough memory for {rows:,} entries of "
            f"{len(self.names)} columns (about {size / 2**20:,.1f} MiB); select fewer "
            "columns or entries (Filter, Range), or write them with Snapshot")


_ENTRY = "rdfentry_"


@dataclass(frozen=True, slots=True, eq=False)
class Display(Action[Pieces, DisplayResult]):
    """The first `nrows` rows of some columns (each chunk sends at most that many).

    The rows' entry numbers travel with them: ROOT's table shows each row's entry.
    """

    node: PlanNode
    names: tuple[str, ...]
    nrows: int = 5
    max_elements: int = 10

    def columns(self) -> tuple[str, ...]:
        return self.names

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        table = _table(self.node, self.names, ctx, self.nrows)
        table[_ENTRY] = as_piece(ctx.column(self.node, _ENTRY)[:self.nrows])
        return Pieces(((ctx.chunk_index, table),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return head(a.merge(b), self.nrows)

    def finish(self, partial: Pieces) -> DisplayResult:
        parts = head(partial, self.nrows).values()
        if not parts:
            return DisplayResult({n: [] for n in self.names}, [], self.max_elements)
        joined = {n: concatenate([p[n] for p in parts]) for n in self.names}
        entries = concatenate([p[_ENTRY] for p in parts])[:self.nrows]
        return DisplayResult(to_lists(joined, self.nrows), [int(e) for e in entries],
                             self.max_elements)


__all__ = ["AsNumpy", "Display", "Take"]
