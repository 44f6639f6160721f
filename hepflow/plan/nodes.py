"""Immutable plan nodes: the dataframe transformations a user has written.

A node knows its parent, what it adds, and nothing about data. The user-facing
`RDataFrame` only creates these; the engine lowers them. Column lookups walk
up the chain, so a Define's expression is checked against exactly the columns
visible at that point, as in RDataFrame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hepflow.plan.expr.typed import Expression
from hepflow.plan.types import ColumnType

SPECIAL_COLUMNS: dict[str, ColumnType] = {
    "rdfentry_": ColumnType("scalar", "int"),
    "rdfslot_": ColumnType("scalar", "int"),
}


@dataclass(frozen=True, slots=True, eq=False)
class PyFunction:
    """A Python callable on awkward arrays: the escape hatch for what strings cannot say."""

    func: Callable[..., Any]
    columns: tuple[str, ...]
    type: ColumnType

    @property
    def text(self) -> str:
        name = getattr(self.func, "__qualname__", repr(self.func))
        return f"{name}({', '.join(self.columns)})"


@dataclass(frozen=True, slots=True, eq=False)
class PerSampleValue:
    """A value fixed per sample (DefinePerSample), computed on the client from metadata."""

    values: Mapping[str, Any]
    type: ColumnType
    text: str


Computation = Expression | PyFunction | PerSampleValue


def reads(comp: Computation) -> frozenset[str]:
    """The columns a computation reads."""
    if isinstance(comp, Expression):
        return comp.columns
    if isinstance(comp, PerSampleValue):
        return frozenset()
    return frozenset(comp.columns)


def comp_type(comp: Computation) -> ColumnType:
    return comp.type


class PlanNode:
    """Base of transformations; `parent` is None only for `Source`."""

    __slots__ = ()
    parent: PlanNode | None

    def lineage(self) -> list[PlanNode]:
        """This node and its ancestors, source first."""
        chain: list[PlanNode] = []
        node: PlanNode | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    @property
    def source(self) -> Source:
        node: PlanNode = self
        while node.parent is not None:
            node = node.parent
        assert isinstance(node, Source)
        return node

    def defines(self) -> Mapping[str, ColumnType]:
        """Columns this node adds (or replaces)."""
        return {}

    def lookup(self, name: str) -> tuple[ColumnType, PlanNode] | None:
        """The type of `name` here and the node that defines it."""
        node: PlanNode | None = self
        while node is not None:
            added = node.defines()
            if name in added:
                return added[name], node
            node = node.parent
        return None

    def schema(self) -> Schema:
        return Schema(self)


class Schema(Mapping[str, ColumnType]):
    """The columns visible at a node, as a read-only mapping (for the type checker)."""

    def __init__(self, node: PlanNode) -> None:
        self._node = node

    def __getitem__(self, name: str) -> ColumnType:
        found = self._node.lookup(name)
        if found is None:
            raise KeyError(name)
        return found[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._node.lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for node in reversed(self._node.lineage()):
            for name in node.defines():
                if name not in seen:
                    seen.add(name)
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True, slots=True, eq=False)
class Source(PlanNode):
    """The events of one dataset: its tree, branches (with types) and chunks."""

    tree: str
    data: Any  # hepflow.dataset.PreparedData: files, chunks, schema
    branches: Mapping[str, ColumnType]
    parent: None = None

    def defines(self) -> Mapping[str, ColumnType]:
        return _SourceColumns(self.branches)

    def __reduce__(self) -> tuple[Any, ...]:
        """Ship without `data`: workers get their chunks and basket layouts in the tasks.

        The per-file metadata of a wide dataset (basket layouts of ~1,500 branches
        per file) would otherwise travel with every run's kernel.
        """
        return (Source, (self.tree, (), self.branches))


class _SourceColumns(Mapping[str, ColumnType]):
    def __init__(self, branches: Mapping[str, ColumnType]) -> None:
        self._branches = branches

    def __getitem__(self, name: str) -> ColumnType:
        if name in self._branches:
            return self._branches[name]
        return SPECIAL_COLUMNS[name]

    def __contains__(self, name: object) -> bool:
        return name in self._branches or name in SPECIAL_COLUMNS

    def __iter__(self) -> Iterator[str]:
        yield from self._branches
        yield from SPECIAL_COLUMNS

    def __len__(self) -> int:
        return len(self._branches) + len(SPECIAL_COLUMNS)


@dataclass(frozen=True, slots=True, eq=False)
class Define(PlanNode):
    parent: PlanNode
    name: str
    computation: Computation
    redefine: bool = False

    def defines(self) -> Mapping[str, ColumnType]:
        return {self.name: self.computation.type}


@dataclass(frozen=True, slots=True, eq=False)
class Alias(PlanNode):
    parent: PlanNode
    alias: str
    target: str

    def defines(self) -> Mapping[str, ColumnType]:
        found = self.parent.lookup(self.target)
        assert found is not None
        return {self.alias: found[0]}


@dataclass(frozen=True, slots=True, eq=False)
class Filter(PlanNode):
    parent: PlanNode
    computation: Computation
    name: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Range(PlanNode):
    """Entries [begin, end) with a stride, counted among the entries reaching this node."""

    parent: PlanNode
    begin: int
    end: int  # 0 means "to the end", as in RDataFrame
    stride: int = 1

    @property
    def needs_offsets(self) -> bool:
        """True when upstream filters make entry numbers known only after a counting pass."""
        node: PlanNode | None = self.parent
        while node is not None:
            if isinstance(node, (Filter, Range)):
                return True
            node = node.parent
        return False


SELECTING = (Filter, Range)

__all__ = ["Alias", "Computation", "Define", "Filter", "PerSampleValue", "PlanNode",
           "PyFunction", "Range",
           "SPECIAL_COLUMNS", "Schema", "Source", "reads"]
