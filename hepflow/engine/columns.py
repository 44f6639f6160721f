"""Static column pruning: the exact branches a set of actions needs, from the plan alone."""

from __future__ import annotations

from collections.abc import Iterable

from hepflow.plan.actions import Action
from hepflow.plan.nodes import SPECIAL_COLUMNS, Alias, Define, Filter, PlanNode, Source, reads


class _Pruner:
    def __init__(self) -> None:
        self.branches: set[str] = set()
        self.seen_columns: set[tuple[int, str]] = set()
        self.seen_nodes: set[int] = set()

    def column(self, node: PlanNode, name: str) -> None:
        key = (id(node), name)
        if key in self.seen_columns:
            return
        self.seen_columns.add(key)
        found = node.lookup(name)
        if found is None:
            return
        defining = found[1]
        if isinstance(defining, Source):
            if name not in SPECIAL_COLUMNS:
                self.branches.add(name)
        elif isinstance(defining, Define):
            assert defining.parent is not None
            self.lineage(defining.parent)
            for col in reads(defining.computation):
                self.column(defining.parent, col)
        elif isinstance(defining, Alias):
            self.column(defining.parent, defining.target)

    def lineage(self, node: PlanNode | None) -> None:
        while node is not None and id(node) not in self.seen_nodes:
            self.seen_nodes.add(id(node))
            if isinstance(node, Filter):
                for col in reads(node.computation):
                    self.column(node.parent, col)
            node = node.parent


def needed_branches(actions: Iterable[Action], extra_nodes: Iterable[PlanNode] = ()) -> list[str]:
    """Branches read by the actions and by every filter on the way to them, sorted."""
    pruner = _Pruner()
    for action in actions:
        pruner.lineage(action.node)
        for name in action.columns():
            pruner.column(action.node, name)
    for node in extra_nodes:
        pruner.lineage(node)
    return sorted(pruner.branches)


__all__ = ["needed_branches"]
