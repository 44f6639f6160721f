"""Immutable plan nodes: the dataframe transformations a user has written.

Each node is a frozen record that carries its own rules: the columns it
provides (`defines`) and reads (`selection_reads`, `column_reads`), how it
lowers into the fused per-chunk kernel (`select` narrows the events, `evaluate`
produces a column it defines), and how it reads in `explain()` (`describe`).
The engine drives these methods through `plan.context.ChunkContext` and knows
no node type by name. Column lookups walk up the chain, so a Define's
expression is checked against exactly the columns visible at that point, as
in RDataFrame.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import awkward as ak
import dask.base
import numpy as np

from hepflow.core.types import ColumnType, scalar
from hepflow.errors import PlanError
from hepflow.plan.context import ChunkContext, View
from hepflow.plan.expr.typed import Expression

SPECIAL_COLUMNS: dict[str, ColumnType] = {
    "rdfentry_": scalar("uint64"),  # ULong64_t, as in ROOT
    "rdfslot_": scalar("uint32"),
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

    @property
    def reads(self) -> frozenset[str]:
        return frozenset(self.columns)

    def __dask_tokenize__(self) -> object:
        return dask.base.tokenize("PyFunction", self.func, self.columns, str(self.type))


@dataclass(frozen=True, slots=True, eq=False)
class PerSampleValue:
    """A value fixed per file of a sample (DefinePerSample), computed on the client."""

    values: Mapping[tuple[str, str], Any]  # by (sample, file), as ROOT calls it per file
    type: ColumnType
    text: str

    @property
    def reads(self) -> frozenset[str]:
        return frozenset()

    def __dask_tokenize__(self) -> object:
        return dask.base.tokenize("PerSampleValue", self.text,
                                  sorted((k, repr(v)) for k, v in self.values.items()))


def _expression_token(expr: Expression) -> object:
    return ("Expression", expr.text, str(expr.type), sorted(expr.columns))


Computation = Expression | PyFunction | PerSampleValue


def reads(comp: Computation) -> frozenset[str]:
    """The columns a computation reads."""
    if isinstance(comp, Expression):
        return comp.columns
    return comp.reads


def _field_token(value: object) -> object:
    if isinstance(value, Expression):
        return _expression_token(value)
    return value


#: Token of each live node (see `PlanNode.__dask_tokenize__`).
_TOKENS: weakref.WeakKeyDictionary[PlanNode, str] = weakref.WeakKeyDictionary()


class PlanNode:
    """Base of transformations; `parent` is None only for `Source`.

    The defaults describe a node that neither selects events nor defines
    columns; a node type that needs a lowering rule and lacks one says so
    loudly instead of failing deep inside Dask.
    """

    __slots__ = ("__weakref__",)
    parent: PlanNode | None
    #: True for nodes that drop events (Filter, Range): downstream work sees fewer.
    selects: ClassVar[bool] = False

    # -- structure --------------------------------------------------------------------

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
        root = self.lineage()[0]
        if not isinstance(root, Source):  # pragma: no cover - only the facade builds plans
            raise PlanError("a plan must start from a Source")
        return root

    def defines(self) -> Mapping[str, ColumnType]:
        """Columns this node adds (or replaces)."""
        return {}

    def lookup(self, name: str) -> tuple[ColumnType, PlanNode] | None:
        """The type of `name` here and the node that defines it."""
        node: PlanNode | None = self
        while node is not None:
            added = node.defines()
            if name in added:
                return added[name], node.canonical
            node = node.parent
        return None

    @property
    def canonical(self) -> PlanNode:
        """The node whose evaluation this one shares (itself, but for `Shared`)."""
        return self

    def shares(self) -> tuple[PlanNode, ...]:
        """Nodes evaluated in this node's place (their reads must be read too)."""
        return ()

    def schema(self) -> Schema:
        return Schema(self)

    # -- what it reads -----------------------------------------------------------------

    def selection_reads(self) -> frozenset[str]:
        """Columns (seen at the parent) read whenever events pass through this node."""
        return frozenset()

    def column_reads(self, name: str) -> frozenset[str]:
        """Columns (seen at the parent) read to produce column `name` of this node."""
        return frozenset()

    def branch_of(self, name: str) -> str | None:
        """The file branch behind column `name`, if this node reads it from the file."""
        return None

    # -- lowering into the fused kernel -------------------------------------------------

    def select(self, ctx: ChunkContext) -> View:
        """The events reaching this node: by default, those reaching its parent."""
        if self.parent is None:  # pragma: no cover - Source overrides this
            raise PlanError(f"no lowering rule for {type(self).__name__}")
        return ctx.view(self.parent)

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        """Column `name` of this node, for the events reaching this node."""
        raise PlanError(f"no lowering rule for column {name!r} of {type(self).__name__}")

    # -- presentation -------------------------------------------------------------------

    def describe(self) -> str:
        """One line of `explain()`."""
        return type(self).__name__

    def __dask_tokenize__(self) -> object:
        """Content, not identity: the same plan built twice gives the same task keys.

        Returns a token string: dask does not normalise what `__dask_tokenize__`
        returns, so nested objects must be tokenized here. Nodes are immutable,
        so a node's token is computed once: the actions of a run share most of
        their lineage, and each run of a dataframe tokenizes it again."""
        token = _TOKENS.get(self)
        if token is None:
            # the ancestors first, source down: each then finds its parent's token
            # made, so a chain of hundreds of Defines never recurses deeper than one
            # node (tokenizing the parent inside the child overflowed Python's stack)
            for node in self.lineage():
                if node not in _TOKENS:
                    _TOKENS[node] = node._content_token()
            token = _TOKENS[self]
        return token

    def _content_token(self) -> str:
        return str(dask.base.tokenize(
            type(self).__name__,
            *(_field_token(getattr(self, f.name)) for f in fields(self))))  # type: ignore[arg-type]


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
    data: Any  # the prepared files (hepflow.dataset.FileInfo): layouts, entries, UUIDs
    branches: Mapping[str, ColumnType]
    parent: None = None

    def defines(self) -> Mapping[str, ColumnType]:
        return _SourceColumns(self.branches)

    def branch_of(self, name: str) -> str | None:
        return None if name in SPECIAL_COLUMNS else name

    def select(self, ctx: ChunkContext) -> View:
        return ctx.all_events()

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        if name == "rdfentry_":
            return ctx.global_start + np.arange(ctx.num_entries, dtype=np.uint64)
        if name == "rdfslot_":
            return np.zeros(ctx.num_entries, dtype=np.uint32)
        return ctx.branch(name)

    def describe(self) -> str:
        """Tree name, files, their formats and how their bytes will be read.

        The read path is shown so that a slow fallback to uproot's full model
        (an unusual branch layout) is visible before the run."""
        formats: dict[str, int] = {}
        paths: dict[str, int] = {}
        for info in self.data:
            fmt = {"rntuple": "RNTuple"}.get(getattr(info, "format", ""), "TTree")
            formats[fmt] = formats.get(fmt, 0) + 1
            layouts = getattr(info, "layouts", None)
            path = "RNTuple pages" if fmt == "RNTuple" else getattr(layouts, "read_path",
                                                                    "uproot")
            paths[path] = paths.get(path, 0) + 1
        kinds = ", ".join(f"{n} {k}" for k, n in formats.items()) or "no files"
        reads = ", ".join(f"{n} via {p}" for p, n in paths.items())
        return (f"Source: {self.tree!r}, {len(self.data)} file(s) ({kinds}"
                + (f"; read: {reads}" if reads else "") + ")")

    def __reduce__(self) -> tuple[Any, ...]:
        """Ship without `data`: workers get their chunks and basket layouts in the tasks.

        The per-file metadata of a wide dataset (basket layouts of ~1,500 branches
        per file) would otherwise travel with every run's kernel.
        """
        return (Source, (self.tree, (), self.branches))

    def _content_token(self) -> str:
        files = tuple((getattr(f, "url", str(f)), getattr(f, "uuid", ""),
                       getattr(f, "num_entries", 0)) for f in self.data)
        return str(dask.base.tokenize("Source", self.tree, files,
                                      sorted((k, str(v)) for k, v in self.branches.items())))


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
    """A new column (or, with `redefine`, a replacement) computed per event."""

    parent: PlanNode
    name: str
    computation: Computation
    redefine: bool = False

    def defines(self) -> Mapping[str, ColumnType]:
        return {self.name: self.computation.type}

    def column_reads(self, name: str) -> frozenset[str]:
        return reads(self.computation)

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        return ctx.compute(self.computation, self.parent, f"Define {self.name}")

    def describe(self) -> str:
        verb = "Redefine" if self.redefine else "Define"
        return f"{verb} {self.name} = {self.computation.text}   [{self.computation.type}]"


@dataclass(frozen=True, slots=True, eq=False)
class Alias(PlanNode):
    """A second name for a column; reading it reads the target."""

    parent: PlanNode
    alias: str
    target: str

    def defines(self) -> Mapping[str, ColumnType]:
        found = self.parent.lookup(self.target)
        if found is None:  # pragma: no cover - the facade checks the target
            raise PlanError(f"Alias: unknown column `{self.target}`")
        return {self.alias: found[0]}

    def column_reads(self, name: str) -> frozenset[str]:
        return frozenset((self.target,))

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        return ctx.column(self.parent, self.target)

    def describe(self) -> str:
        return f"Alias {self.alias} -> {self.target}"


@dataclass(frozen=True, slots=True, eq=False)
class Filter(PlanNode):
    """Keep the events where the computation is true; a named filter is in the cutflow."""

    parent: PlanNode
    computation: Computation
    name: str = ""
    selects: ClassVar[bool] = True

    def selection_reads(self) -> frozenset[str]:
        return reads(self.computation)

    def select(self, ctx: ChunkContext) -> View:
        parent = ctx.view(self.parent)
        label = f"Filter {self.name}".strip()
        mask = np.asarray(ctx.compute(self.computation, self.parent, label))
        if mask.dtype != np.bool_:
            mask = mask != 0
        passed = int(np.count_nonzero(mask))
        ctx.count_filter(self, parent.n, passed)
        return ctx.narrow(parent, None if passed == parent.n else np.flatnonzero(mask))

    def describe(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"Filter{label}: {self.computation.text}"


@dataclass(frozen=True, slots=True, eq=False)
class Range(PlanNode):
    """Entries [begin, end) with a stride, counted among the entries reaching this node."""

    parent: PlanNode
    begin: int
    end: int  # 0 means "to the end", as in RDataFrame
    stride: int = 1
    selects: ClassVar[bool] = True

    @property
    def needs_offsets(self) -> bool:
        """True when upstream selections make entry numbers known only after a counting pass."""
        return any(node.selects for node in self.parent.lineage())

    def select(self, ctx: ChunkContext) -> View:
        parent = ctx.view(self.parent)
        offset = ctx.range_offset(self) if self.needs_offsets else ctx.global_start
        rank = offset + np.arange(parent.n, dtype=np.int64)
        keep = rank >= self.begin
        if self.end:
            keep &= rank < self.end
        if self.stride > 1:
            keep &= (rank - self.begin) % self.stride == 0
        return ctx.narrow(parent, np.flatnonzero(keep))

    def describe(self) -> str:
        return f"Range({self.begin}, {self.end}, {self.stride})"


@dataclass(frozen=True, slots=True, eq=False)
class Vary(PlanNode):
    """Systematic variations of columns, as ROOT's `Vary`: nominal values pass unchanged.

    `values[c][t]` computes column `columns[c]` under tag `tags[t]`. The node is
    transparent in the nominal plan; `VariationsFor` builds, per tag, a plan in
    which it is replaced by the varied definitions (see `plan.variations`).
    """

    parent: PlanNode
    columns: tuple[str, ...]
    values: tuple[tuple[Computation, ...], ...]
    tags: tuple[str, ...]
    name: str

    def keys(self) -> tuple[str, ...]:
        """The result-map keys of this variation, `name:tag`, as ROOT spells them."""
        return tuple(f"{self.name}:{tag}" for tag in self.tags)

    def describe(self) -> str:
        texts = "; ".join(f"{col} -> {{{', '.join(c.text for c in comps)}}}"
                          for col, comps in zip(self.columns, self.values, strict=True))
        return f"Vary {self.name!r} [{', '.join(self.tags)}]: {texts}"


@dataclass(frozen=True, slots=True, eq=False)
class Shared(PlanNode):
    """`origin` seen from a varied plan: same events, same columns, evaluated once.

    A variation re-parents everything downstream of the varied columns; the nodes
    a variation does not change become `Shared`, so their views and columns come
    from the nominal evaluation instead of being computed again, while lookups
    of other names still walk the varied parent chain.
    """

    parent: PlanNode
    origin: PlanNode

    def defines(self) -> Mapping[str, ColumnType]:
        return self.origin.defines()

    @property
    def canonical(self) -> PlanNode:
        return self.origin.canonical

    def shares(self) -> tuple[PlanNode, ...]:
        return (self.origin,)

    def select(self, ctx: ChunkContext) -> View:
        return ctx.view(self.origin)

    def describe(self) -> str:
        return f"(as nominal) {self.origin.describe()}"


@dataclass(frozen=True, slots=True, eq=False)
class EmptySource(Source):
    """`RDataFrame(N)`: N entries and no file, only `rdfentry_` and `rdfslot_` to start from."""

    entries: int = 0

    def describe(self) -> str:
        return "Empty source (RDataFrame(N), no file)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (EmptySource, (self.tree, (), self.branches, None, self.entries))

    def _content_token(self) -> str:
        return str(dask.base.tokenize("EmptySource", self.entries))


def _in_ranges(start: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= start < hi for lo, hi in ranges)


def _constant(ctype: ColumnType, value: Any, n: int) -> Any:
    """`n` events of `value` (a number, or one list for a collection), in the column's kind."""
    dtype = ctype.numpy if ctype.dtype != "other" else None
    if ctype.is_collection:
        one = np.asarray(value, dtype=dtype).reshape(-1)
        return ak.unflatten(np.tile(one, n), np.full(n, one.size, dtype=np.int64))
    return np.full(n, value, dtype=dtype)


def empty_column(ctype: ColumnType) -> Any:
    """A column of no events in the column's kind and type."""
    return _constant(ctype, [] if ctype.is_collection else 0, 0)


@dataclass(frozen=True, slots=True, eq=False)
class FilterAvailable(PlanNode):
    """Keep the entries whose file has branch `column` (`keep_missing`: those lacking it).

    `missing` holds the `rdfentry_` ranges of the files that lack the branch,
    learned at build time from each file's branch list. A chunk never spans
    two files, so the whole chunk passes or fails. The selection itself does
    not read the branch; below FilterAvailable the column is provided by this
    node, so that a chunk of a file lacking it (where no event passes) never
    asks the file for it.
    """

    parent: PlanNode
    column: str
    type: ColumnType
    missing: tuple[tuple[int, int], ...]
    keep_missing: bool = False
    selects: ClassVar[bool] = True

    def defines(self) -> Mapping[str, ColumnType]:
        return {} if self.keep_missing else {self.column: self.type}

    def column_reads(self, name: str) -> frozenset[str]:
        return frozenset((self.column,))

    def select(self, ctx: ChunkContext) -> View:
        parent = ctx.view(self.parent)
        lacking = _in_ranges(ctx.global_start, self.missing)
        if lacking == self.keep_missing:
            return ctx.narrow(parent, None)
        return ctx.narrow(parent, np.zeros(0, dtype=np.int64))

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        if _in_ranges(ctx.global_start, self.missing):
            return _constant(self.type, [] if self.type.is_collection else 0, 0)
        return ctx.column(self.parent, self.column)

    def describe(self) -> str:
        verb = "FilterMissing" if self.keep_missing else "FilterAvailable"
        return f"{verb}({self.column})   [{len(self.missing)} file range(s) lack it]"

    def _content_token(self) -> str:
        return str(dask.base.tokenize("FilterAvailable", self.parent, self.column,
                                      str(self.type), self.missing, self.keep_missing))


@dataclass(frozen=True, slots=True, eq=False)
class DefaultValueFor(PlanNode):
    """Column `column` as read, or `default` in the files that lack the branch.

    The branch is read only in the chunks of files that have it; elsewhere each
    event gets `default` (one number, or one list for a collection column).
    """

    parent: PlanNode
    column: str
    default: Any
    type: ColumnType
    missing: tuple[tuple[int, int], ...]

    def defines(self) -> Mapping[str, ColumnType]:
        return {self.column: self.type}

    def column_reads(self, name: str) -> frozenset[str]:
        return frozenset((self.column,))

    def evaluate(self, ctx: ChunkContext, name: str) -> Any:
        if not _in_ranges(ctx.global_start, self.missing):
            return ctx.column(self.parent, self.column)
        return _constant(self.type, self.default, ctx.view(self).n)

    def describe(self) -> str:
        return f"DefaultValueFor {self.column} = {self.default!r}   [{self.type}]"

    def _content_token(self) -> str:
        return str(dask.base.tokenize("DefaultValueFor", self.parent, self.column,
                                      repr(self.default), str(self.type), self.missing))


__all__ = ["Alias", "Computation", "DefaultValueFor", "Define", "EmptySource", "Filter",
           "FilterAvailable", "PerSampleValue", "PlanNode", "PyFunction", "Range",
           "SPECIAL_COLUMNS", "Schema", "Shared", "Source", "Vary", "empty_column", "reads"]
