"""Histo1D(column) without a model: ROOT's automatic binning, computed from all values.

ROOT books a `TH1D("", "", 128, 0., 0.)` and, when run multi-threaded (as its
distributed mode is), buffers every value (`BufferedFillHelper`), sets the axis
to 128 bins on [global min, global max] and fills. That axis is extendable, so
filling the maximum itself doubles the range once: the histogram ROOT returns
has 128 bins on [min, 2·max - min), the data in the lower half. This action
does the same, in one pass: partials are the values themselves (ordered
pieces, so the float sums are reproducible), and `finish` bins them.

Like ROOT it holds every value until the end; give a model for large inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepflow.plan.actions.base import Action, flat_values, flat_weights
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.histograms import AxisModel, HistModel, Histogram, empty_hist
from hepflow.results.pieces import Pieces

#: ROOT's default number of bins of a histogram booked without a model.
AUTO_BINS = 128


def auto_axis(values: np.ndarray) -> AxisModel:
    """The axis ROOT's multi-threaded fill ends with for these values.

    Without values (or only NaN) ROOT keeps its empty [0, 0] axis, which hist
    cannot represent: [0, 1) is used. If every value is the same `v`, ROOT's
    axis degenerates (every entry lands in the overflow); [v, v + 1) is used.
    """
    finite = values[~np.isnan(values)]
    if not finite.size:
        return AxisModel(AUTO_BINS, 0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        return AxisModel(AUTO_BINS, lo, lo + 1.0)
    return AxisModel(AUTO_BINS, lo, 2.0 * hi - lo)


@dataclass(frozen=True, slots=True, eq=False)
class AutoHisto(Action[Pieces, Histogram]):
    """A 1D histogram of `column` (every collection element) whose axis comes from the data."""

    node: PlanNode
    column: str
    weight: str | None = None

    def columns(self) -> tuple[str, ...]:
        return (self.column,) + ((self.weight,) if self.weight else ())

    @property
    def label(self) -> str:
        return f"Histo1D({self.column!r})"

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        values = ctx.column(self.node, self.column)
        data = flat_values(values).astype(np.float64, copy=False)
        if self.weight is None:
            return Pieces(((ctx.chunk_index, (data, None)),))
        weights = flat_weights(values, ctx.column(self.node, self.weight), self.label, ctx)
        return Pieces(((ctx.chunk_index, (data, weights)),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> Histogram:
        parts = partial.values()
        values = (np.concatenate([v for v, _ in parts]) if parts
                  else np.zeros(0, dtype=np.float64))
        model = HistModel("", "", (auto_axis(values),))
        h = empty_hist(model, (self.column,), self.weight is not None)
        if self.weight is None:
            h.fill(values)
        else:
            h.fill(values, weight=np.concatenate([w for _, w in parts]) if parts else values)
        return h


__all__ = ["AUTO_BINS", "AutoHisto", "auto_axis"]
