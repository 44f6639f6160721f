"""Sum, Mean, StdDev, Min and Max of a column, from one mergeable set of moments."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from hepflow.plan.actions.base import Action, flat_values
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.moments import Moments

StatKind = Literal["Sum", "Mean", "StdDev", "Min", "Max"]

_EMPTY_EXTREMES: dict[str, float] = {"Min": sys.float_info.max, "Max": -sys.float_info.max}


@dataclass(frozen=True, slots=True, eq=False)
class Stat(Action[Moments, float]):
    """One of ROOT's statistics actions over all values of a column (collections flattened)."""

    node: PlanNode
    what: StatKind
    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def label(self) -> str:
        return f"{self.what}({self.column})"

    def empty(self) -> Moments:
        return Moments()

    def fill(self, ctx: FillContext) -> Moments:
        return Moments.of(flat_values(ctx.column(self.node, self.column)))

    def merge(self, a: Moments, b: Moments) -> Moments:
        return a.merge(b)

    def finish(self, partial: Moments) -> float:
        """A double, as ROOT's jitted statistics of a column of any type return.

        Without entries ROOT's Min and Max keep the limits they start from,
        `numeric_limits<double>::max()` and `lowest()`, not infinities.
        """
        if self.what in _EMPTY_EXTREMES and not int(partial.n):
            return _EMPTY_EXTREMES[self.what]
        return float(partial.value(self.what))


__all__ = ["Stat", "StatKind"]
