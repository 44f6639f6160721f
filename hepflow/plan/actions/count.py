"""Count(): the number of events reaching a node."""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode


@dataclass(frozen=True, slots=True, eq=False)
class Count(Action[int, int]):
    """ROOT's `Count()`: an exact integer, merged by addition."""

    node: PlanNode

    def empty(self) -> int:
        return 0

    def fill(self, ctx: FillContext) -> int:
        return ctx.events(self.node)

    def merge(self, a: int, b: int) -> int:
        return a + b

    def finish(self, partial: int) -> int:
        return int(partial)


__all__ = ["Count"]
