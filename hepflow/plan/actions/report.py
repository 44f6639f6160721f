"""Report(): the cutflow of named filters, counted in the same pass as everything else."""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import Filter, PlanNode
from hepflow.results.cutflow import Cut, CutflowReport

Counts = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, eq=False)
class Report(Action[Counts, CutflowReport]):
    """The cutflow of `filters` (all named filters of the graph when booked on the source)."""

    node: PlanNode
    filters: tuple[PlanNode, ...]  # Filters, or their Shared views in a varied plan

    def counted_filters(self) -> tuple[PlanNode, ...]:
        return self.filters

    def empty(self) -> Counts:
        return tuple((0, 0) for _ in self.filters)

    def fill(self, ctx: FillContext) -> Counts:
        return tuple(ctx.cut(f) for f in self.filters)

    def merge(self, a: Counts, b: Counts) -> Counts:
        return tuple((x[0] + y[0], x[1] + y[1]) for x, y in zip(a, b, strict=True))

    def finish(self, partial: Counts) -> CutflowReport:
        return CutflowReport(tuple(Cut(_name(f), reached, passed)
                                   for f, (reached, passed) in zip(self.filters, partial,
                                                                   strict=True)))


def _name(node: PlanNode) -> str:
    origin = node.canonical
    return origin.name if isinstance(origin, Filter) else ""


__all__ = ["Report"]
