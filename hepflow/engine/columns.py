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
    """A worklist walk (never recursive: a chain of hundreds of Defines, each reading the
    one before, would overflow Python's stack)."""

    def __init__(self) -> None:
        self.branches: set[str] = set()
        self.seen_columns: set[tuple[int, str]] = set()
        self.seen_nodes: set[int] = set()
        self._columns: list[tuple[PlanNode, str]] = []
        self._nodes: list[PlanNode] = []

    def column(self, node: PlanNode, name: str) -> None:
        self._columns.append((node, name))
        self._drain()

    def lineage(self, node: PlanNode | None) -> None:
        if node is not None:
            self._nodes.append(node)
            self._drain()

    def _drain(self) -> None:
        while self._columns or self._nodes:
            if self._nodes:
                self._walk(self._nodes.pop())
            else:
                self._resolve(*self._columns.pop())

    def _resolve(self, node: PlanNode, name: str) -> None:
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
        self._nodes.append(defining)
        if defining.parent is not None:
            self._columns.extend((defining.parent, col) for col in defining.column_reads(name))

    def _walk(self, node: PlanNode | None) -> None:
        while node is not None and id(node) not in self.seen_nodes:
            self.seen_nodes.add(id(node))
            if node.parent is not None:
                self._columns.extend((node.parent, col) for col in node.selection_reads())
            self._nodes.extend(node.shares())
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
