"""Stats(column[, weight]): ROOT's `TStatistic` of a column (mean, RMS, entries, weights)."""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.plan.actions.base import Action, flat_values, flat_weights
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.statistic import Statistic


@dataclass(frozen=True, slots=True, eq=False)
class Stats(Action[Statistic, Statistic]):
    """Every value of `column` (collections flattened), weighted by `weight` if given.

    A per-event weight applies to each element of a collection, as ROOT's
    `Stats` does for `RVec` columns.
    """

    node: PlanNode
    column: str
    weight: str | None = None

    def columns(self) -> tuple[str, ...]:
        return (self.column,) + ((self.weight,) if self.weight else ())

    @property
    def label(self) -> str:
        return f"Stats({self.column})"

    def empty(self) -> Statistic:
        return Statistic()

    def fill(self, ctx: FillContext) -> Statistic:
        values = ctx.column(self.node, self.column)
        if self.weight is None:
            return Statistic.of(flat_values(values))
        weights = flat_weights(values, ctx.column(self.node, self.weight), self.label, ctx)
        return Statistic.of(flat_values(values), weights)

    def merge(self, a: Statistic, b: Statistic) -> Statistic:
        return a.merge(b)

    def finish(self, partial: Statistic) -> Statistic:
        return partial


__all__ = ["Stats"]
