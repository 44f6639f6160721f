"""Graph and GraphAsymmErrors: points in entry order, as ordered pieces of float64 arrays."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepflow.errors import EvaluationError
from hepflow.plan.actions.base import Action, flat_values
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.graphs import GraphAsymmErrorsResult, GraphResult
from hepflow.results.pieces import Pieces


@dataclass(frozen=True, slots=True, eq=False)
class Graph(Action[Pieces, GraphResult]):
    """One point per event (or per collection element) from `values`: x, y[, exl, exh, eyl, eyh].

    As ROOT's GraphHelper, the columns are either all per-event values or all
    collections of equal sizes per event, whose elements become points. Two
    columns give a TGraph, six a TGraphAsymmErrors.
    """

    node: PlanNode
    values: tuple[str, ...]

    def columns(self) -> tuple[str, ...]:
        return self.values

    @property
    def label(self) -> str:
        what = "Graph" if len(self.values) == 2 else "GraphAsymmErrors"
        return f"{what}({', '.join(self.values)})"

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        columns = [ctx.column(self.node, c) for c in self.values]
        jagged = [isinstance(c, ak.Array) and c.ndim > 1 for c in columns]
        if any(jagged) and not all(jagged):
            raise EvaluationError(f"{self.label}: cannot mix per-event values and collections "
                                  f"on {ctx.describe()}")
        if any(jagged):
            counts = [np.asarray(ak.to_numpy(ak.num(c, axis=1))) for c in columns]
            if any(not np.array_equal(counts[0], n) for n in counts[1:]):
                raise EvaluationError(f"{self.label}: the collections have different sizes "
                                      f"in some events on {ctx.describe()}")
        points = np.stack([flat_values(c).astype(np.float64, copy=False) for c in columns])
        return Pieces(((ctx.chunk_index, points),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> GraphResult:
        parts = partial.values()
        points = (np.concatenate(parts, axis=1) if parts
                  else np.zeros((len(self.values), 0), dtype=np.float64))
        if len(self.values) == 2:
            return GraphResult(points[0], points[1], self.label)
        x, y, exl, exh, eyl, eyh = points
        return GraphAsymmErrorsResult(x, y, exl, exh, eyl, eyh, self.label)


__all__ = ["Graph"]
