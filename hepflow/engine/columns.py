"""Static column pruning: the exact branches a set of actions needs, from the plan alone.

Each node says what it reads (`selection_reads` whenever events pass through
it, `column_reads` for a column it defines, `branch_of` for a file branch),
so pruning is a walk over the plan that needs no knowledge of node types.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hepflow.plan.actions.base import Action
from hepflow.plan.nodes import PlanNode


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
        branch = defining.branch_of(name)
        if branch is not None:
            self.branches.add(branch)
        self.lineage(defining)
        if defining.parent is not None:
            for col in defining.column_reads(name):
                self.column(defining.parent, col)

    def lineage(self, node: PlanNode | None) -> None:
        while node is not None and id(node) not in self.seen_nodes:
            self.seen_nodes.add(id(node))
            if node.parent is not None:
                for col in node.selection_reads():
                    self.column(node.parent, col)
            for shared in node.shares():
                self.lineage(shared)
            node = node.parent


def needed_branches(actions: Iterable[Action[Any, Any]]) -> list[str]:
    """Branches read by the actions and by every selection on the way to them, sorted."""
    pruner = _Pruner()
    for action in actions:
        pruner.lineage(action.node)
        for node in action.counted_filters():
            pruner.lineage(node)
        for name in action.columns():
            pruner.column(action.node, name)
    return sorted(pruner.branches)


__all__ = ["needed_branches"]
