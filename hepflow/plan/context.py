"""What plan nodes and actions see of a chunk while it runs.

These protocols are the whole contract between the plan and the engine: a
node's `select`/`evaluate` and an action's `fill` are written against them,
and the engine's per-chunk run implements them. The plan therefore carries
its own lowering rules without importing the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from hepflow.plan.nodes import Computation, PlanNode, Range


class View(Protocol):
    """A set of events of the chunk (all of them, or those passing some selections)."""

    @property
    def n(self) -> int: ...


class ChunkContext(Protocol):
    """The chunk as a plan node sees it when it is lowered into the fused kernel."""

    @property
    def global_start(self) -> int:
        """`rdfentry_` of the chunk's first entry."""
        ...

    @property
    def num_entries(self) -> int: ...

    def branch(self, name: str) -> Any:
        """A branch as read from the file, for all entries of the chunk."""
        ...

    def all_events(self) -> View:
        """Every entry of the chunk."""
        ...

    def view(self, node: PlanNode) -> View:
        """The events reaching `node` (evaluated once per chunk)."""
        ...

    def column(self, node: PlanNode, name: str) -> Any:
        """Column `name` as visible at `node`, for the events reaching `node`."""
        ...

    def compute(self, computation: Computation, at: PlanNode, what: str) -> Any:
        """Evaluate an expression or callable on the events reaching `at`."""
        ...

    def narrow(self, parent: View, keep: np.ndarray | None) -> View:
        """The events of `parent` at the positions `keep` (None: all of them)."""
        ...

    def count_filter(self, node: PlanNode, reached: int, passed: int) -> None:
        """Record a filter's counts for the cutflow and the dashboard."""
        ...

    def range_offset(self, node: Range) -> int:
        """How many events reached `node`'s parent in the chunks before this one."""
        ...


class FillContext(Protocol):
    """The chunk as an action sees it when it fills its partial result."""

    @property
    def chunk_index(self) -> int: ...

    def describe(self) -> str:
        """File and entry range of the chunk, for error messages."""
        ...

    def events(self, node: PlanNode) -> int:
        """How many events reach `node` in this chunk."""
        ...

    def column(self, node: PlanNode, name: str) -> Any:
        """Column `name` at `node`, one value (or collection) per event reaching it."""
        ...

    def cut(self, node: PlanNode) -> tuple[int, int]:
        """Events that reached filter `node` and that passed it."""
        ...


__all__ = ["ChunkContext", "FillContext", "View"]
