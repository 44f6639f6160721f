"""The fused per-chunk kernel: read once, evaluate every Define/Filter once, fill everything.

One call handles one chunk for every action booked on a dataframe graph. The
kernel knows no node or action type: nodes narrow the chunk's events into
*views* and produce their columns through `plan.context.ChunkContext`, and
actions fill their partials through `FillContext`, both implemented here by
`_ChunkRun`. Columns are evaluated where they are defined and narrowed to the
view that needs them, each at most once per chunk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import dask.base
import numpy as np

from hepflow.core.chunk import Chunk
from hepflow.core.measure import Measurement
from hepflow.core.sampleinfo import SampleInfo
from hepflow.engine import exprkernel, kernelcache
from hepflow.engine.evaluate import evaluate
from hepflow.engine.narrowing import Selections, take_events
from hepflow.engine.values import EvaluationFailure, as_type
from hepflow.errors import EvaluationError, HepflowError, ReadError
from hepflow.io.policy import ReadOptions
from hepflow.io.reader import FileLayout, ReadStats
from hepflow.io.sources import read_chunk
from hepflow.observe.events import emit_chunk
from hepflow.plan.actions.base import Action
from hepflow.plan.expr.typed import Expression
from hepflow.plan.nodes import (
    Computation,
    PerSampleValue,
    PlanNode,
    PyFunction,
    Range,
    empty_column,
)
from hepflow.results.partials import ChunkResult, Failure
from hepflow.results.records import ChunkRecord

#: The events of a view within an earlier view (None: all of them) and the element
#: selections of list columns taken along that route.
Route = tuple[np.ndarray | None, Selections]


class _View:
    """A set of events of the chunk: `index` picks them out of the parent view.

    `routes` holds, per earlier view (by identity), the events of this one
    within it: a column is narrowed from the view that defines it in one step,
    not filter by filter, and columns narrowed along one route share their
    new offsets.
    """

    __slots__ = ("cache", "index", "n", "parent", "routes")

    def __init__(self, parent: _View | None, index: np.ndarray | None, n: int) -> None:
        self.parent = parent
        self.index = index
        self.n = n
        self.cache: dict[tuple[int, str], Any] = {}
        self.routes: dict[int, Route] = {}

    def route(self, home: _View) -> Route:
        """The events of this view within `home`, an earlier view on its parent chain."""
        found = self.routes.get(id(home))
        if found is None:
            if self is home:
                found = (None, {})
            else:
                assert self.parent is not None
                above = self.parent.route(home)
                if self.index is None:
                    found = above
                else:
                    index = self.index if above[0] is None else above[0][self.index]
                    found = (index, {})
            self.routes[id(home)] = found
        return found


#: Nesting of column evaluations past which a chain's remaining inputs are computed
#: bottom-up first (`_ChunkRun._prefetch`); far below Python's recursion limit.
PREFETCH_DEPTH = 16


class _NodeFrame:
    """The columns visible at one plan node, for the expression evaluator."""

    def __init__(self, run: _ChunkRun, node: PlanNode) -> None:
        self.run = run
        self.node = node
        self.n = run.view(node).n

    def column(self, name: str) -> Any:
        return self.run.column(self.node, name)

    def subset(self, index: np.ndarray) -> _SubFrame:
        return _SubFrame(self, index)

    def sample_info(self) -> SampleInfo:
        return self.run.sample_info()


class _SubFrame:
    def __init__(self, base: _NodeFrame | _SubFrame, index: np.ndarray) -> None:
        self.base = base
        self.index = index
        self.n = int(index.size)
        self._cache: dict[str, Any] = {}

    def column(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self.base.column(name)[self.index]
        return self._cache[name]

    def subset(self, index: np.ndarray) -> _SubFrame:
        return _SubFrame(self, index)

    def sample_info(self) -> SampleInfo:
        return self.base.sample_info()


class _ChunkRun:
    """One chunk being processed: implements `ChunkContext` for nodes and `FillContext`
    for actions."""

    def __init__(self, kernel: Kernel, chunk: Chunk, arrays: Mapping[str, Any],
                 offsets: Sequence[int]) -> None:
        self.kernel = kernel
        self.chunk = chunk
        self.arrays = arrays
        self.offsets = offsets
        self.views: dict[int, _View] = {}
        self.counts: dict[int, tuple[int, int]] = {}
        self.filter_nodes: list[PlanNode] = []
        self.evaluate_seconds = 0.0
        self.depth = 0
        self.prefetching = False
        self.root = _View(None, None, chunk.num_entries)

    # -- ChunkContext -----------------------------------------------------------------

    @property
    def global_start(self) -> int:
        return self.chunk.global_start

    @property
    def num_entries(self) -> int:
        return self.chunk.num_entries

    def branch(self, name: str) -> Any:
        try:
            return self.arrays[name]
        except KeyError:
            raise MissingBranchError(
                f"branch `{name}` is missing in {self.chunk.describe()}; guard its use with "
                f"FilterAvailable(\"{name}\") or give it a DefaultValueFor") from None

    def all_events(self) -> _View:
        return self.root

    def view(self, node: PlanNode) -> _View:
        found = self.views.get(id(node))
        if found is None:
            # ancestors first, source down: each node's `select` then finds its
            # parent's view made (asking the parent from the child recursed once per node)
            for step in node.lineage():
                if id(step) not in self.views:
                    made = step.select(self)
                    assert isinstance(made, _View)
                    self.views[id(step)] = made
            found = self.views[id(node)]
        return found

    def narrow(self, parent: Any, keep: np.ndarray | None) -> _View:
        if keep is None:
            return _View(parent, None, parent.n)
        return _View(parent, keep, int(keep.size))

    def count_filter(self, node: PlanNode, reached: int, passed: int) -> None:
        self.counts[id(node)] = (reached, passed)
        self.filter_nodes.append(node)

    def range_offset(self, node: Range) -> int:
        return self.offsets[self.kernel.ranges.index(node)]

    def column(self, node: PlanNode, name: str) -> Any:
        found = node.lookup(name)
        if found is None:  # pragma: no cover - the checker guarantees it
            raise HepflowError(f"unknown column {name}")
        defining = found[1]
        if self.depth >= PREFETCH_DEPTH and not self.prefetching:
            self._prefetch(defining, name)
        return self._narrow_from(self.view(defining), self.view(node), defining, name)

    def _prefetch(self, defining: PlanNode, name: str) -> None:
        """Compute what a deep chain of Defines reads from the bottom up, without recursion.

        Evaluation asks for a column's inputs as it needs them, which recurses
        once per Define of a chain: a few hundred chained Defines would
        overflow Python's stack. Past `PREFETCH_DEPTH` the remaining chain is
        walked with a worklist and computed deepest first, so each evaluation
        finds its inputs made. A column that fails here is left to the lazy
        path: it may be needed only under a guard (`?:`, `&&`) that keeps the
        failing events out, and if not, it fails there with the same error.
        """
        order: list[tuple[PlanNode, str]] = []
        seen: set[tuple[int, str]] = set()
        stack: list[tuple[PlanNode, str, bool]] = [(defining, name, False)]
        while stack:
            node, column, expanded = stack.pop()
            if expanded:
                order.append((node, column))
                continue
            if (id(node), column) in seen or node.parent is None:
                continue
            seen.add((id(node), column))
            stack.append((node, column, True))
            for read in node.column_reads(column):
                found = node.parent.lookup(read)
                if found is not None:
                    stack.append((found[1], read, False))
        self.prefetching = True
        try:
            for node, column in order[:-1]:  # the last is the column asked for
                home = self.view(node)
                try:
                    self._narrow_from(home, home, node, column)
                except HepflowError:
                    continue
        finally:
            self.prefetching = False

    def compute(self, computation: Computation, at: PlanNode, what: str) -> Any:
        frame = _NodeFrame(self, at)
        start = time.perf_counter()
        self.depth += 1
        try:
            return self._compute(computation, frame, what)
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.evaluate_seconds += time.perf_counter() - start

    # -- FillContext ------------------------------------------------------------------

    @property
    def chunk_index(self) -> int:
        return self.chunk.index

    def describe(self) -> str:
        return self.chunk.describe()

    def events(self, node: PlanNode) -> int:
        return self.view(node).n

    def cut(self, node: PlanNode) -> tuple[int, int]:
        self.view(node)
        return self.counts[id(node.canonical)]

    # -- internals --------------------------------------------------------------------

    def sample_info(self) -> SampleInfo:
        key = (self.chunk.sample, self.chunk.url)
        return self.kernel.samples.get(key) or SampleInfo(self.chunk.sample, 0, named=False)

    def _narrow_from(self, home: _View, view: _View, defining: PlanNode, name: str) -> Any:
        key = (id(defining), name)
        if key in view.cache:
            return view.cache[key]
        if view is home:
            value = defining.evaluate(self, name)
        else:
            try:
                source = self._narrow_from(home, home, defining, name)
            except MissingBranchError:
                # A branch missing in this file is an error only for entries that reach
                # its use: here the Filters (FilterMissing, ...) above kept none, as ROOT
                # never reads it for entries already dropped.
                if view.n:
                    raise
                value = empty_column(defining.lookup(name)[0])  # type: ignore[index]
                view.cache[key] = value
                return value
            index, selections = view.route(home)
            value = source if index is None else take_events(source, index, selections)
        view.cache[key] = value
        return value

    def _compute(self, comp: Computation, frame: _NodeFrame, what: str) -> Any:
        try:
            if isinstance(comp, Expression):
                if exprkernel.chosen(self.kernel.backend, comp.tree):
                    return exprkernel.evaluate(comp.tree, frame)
                return evaluate(comp.tree, frame)
            if isinstance(comp, PerSampleValue):
                return np.full(frame.n, comp.values[(self.chunk.sample, self.chunk.url)])
            return _call(comp, frame)
        except HepflowError:
            raise
        except Exception as exc:
            cause = str(exc) if isinstance(exc, EvaluationFailure) else \
                f"{type(exc).__name__}: {exc}"
            raise EvaluationError(
                f"{what} = `{comp.text}` failed on {self.chunk.describe()}: {cause}") from exc


class MissingBranchError(EvaluationError):
    """A branch the chunk's file lacks was needed for entries that reach its use."""


def _call(comp: PyFunction, frame: _NodeFrame) -> Any:
    args = [frame.column(c) for c in comp.columns]
    wrapped = [ak.Array(a) if isinstance(a, np.ndarray) else a for a in args]
    out = comp.func(*wrapped)
    if isinstance(out, ak.Array) and out.ndim == 1:
        out = np.asarray(ak.to_numpy(out))
    elif not isinstance(out, (np.ndarray, ak.Array)):
        out = np.asarray(out)
    if len(out) != frame.n:
        raise EvaluationFailure(f"the function returned {len(out)} values for {frame.n} events")
    return as_type(out, comp.type)  # a Vary's callable gives values of the column's type


def plan_nodes(actions: Sequence[Action[Any, Any]],
               ranges: Sequence[PlanNode] = ()) -> tuple[PlanNode, ...]:
    """The nodes the actions (and their counted filters) and ranges reach, parents first."""
    found: dict[int, PlanNode] = {}
    todo: list[PlanNode] = [*ranges]
    for action in actions:
        todo.append(action.node)
        todo.extend(action.counted_filters())
    while todo:
        for node in todo.pop().lineage():
            if id(node) not in found:
                found[id(node)] = node
                todo.extend(node.shares())
    return tuple(sorted(found.values(), key=lambda n: len(n.lineage())))


@dataclass(frozen=True, slots=True, eq=False)
class Kernel:
    """Everything a chunk task needs: branches to read, the actions, Ranges to offset."""

    #: Every plan node the kernel reaches, source first. Pickled before the actions
    #: (it is the first field), so a chain of hundreds of nodes pickles one level deep,
    #: each node's parent already in the pickle's memo, instead of nesting once per
    #: node past Python's recursion limit.
    plan: tuple[PlanNode, ...] = field(init=False, repr=False)
    branches: tuple[str, ...]
    actions: tuple[Action[Any, Any], ...]
    ranges: tuple[Range, ...] = ()
    read: ReadOptions = field(default_factory=ReadOptions)
    samples: Mapping[tuple[str, str], SampleInfo] = field(default_factory=dict)
    run_id: str = ""
    instrument: bool = True
    layouts: Mapping[int, FileLayout] = field(default_factory=dict)
    #: how expressions are evaluated (`Options.backend`, resolved)
    backend: str = "columnar"

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", plan_nodes(self.actions, self.ranges))

    def __call__(self, chunk: Chunk, offsets: Sequence[int] = ()) -> ChunkResult:
        began = time.time()
        start = time.perf_counter()
        try:
            if chunk.url:
                arrays, stats = read_chunk(chunk, self.branches, self.read,
                                           self.layouts.get(chunk.file_index))
            else:  # RDataFrame(N): entries without a file, nothing to read
                arrays, stats = {}, ReadStats(Measurement())
        except ReadError as exc:
            failed = Measurement(chunks=1, errors=1,
                                 seconds={"total": time.perf_counter() - start})
            self._emit(chunk, began, failed, None, "", error=str(exc))
            if self.read.policy != "skip":
                raise
            return ChunkResult(tuple({} for _ in self.actions),
                               {chunk.sample: (chunk.num_entries, 0)},
                               (Failure(chunk, str(exc)),), metrics=failed)
        computing = time.perf_counter()
        compiled_before = kernelcache.compile_seconds()
        run = _ChunkRun(self, chunk, arrays, offsets)
        try:
            partials = tuple({chunk.sample: action.fill(run)} for action in self.actions)
        except HepflowError:
            raise
        except Exception as exc:
            raise EvaluationError(f"filling the results failed on {chunk.describe()}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        processed = len(next(iter(arrays.values()))) if arrays else chunk.num_entries
        end = time.perf_counter()
        # the kernel completes the reader's measurement: the chunk, its entries, the rest
        # of the task's time
        measured = stats.measured.merge(Measurement(
            chunks=1, entries=chunk.num_entries,
            seconds={"kernel": run.evaluate_seconds,
                     "fill": max(0.0, end - computing - run.evaluate_seconds),
                     "compile": kernelcache.compile_seconds() - compiled_before,
                     "total": end - start}))
        self._emit(chunk, began, measured, run, stats.replica)
        return ChunkResult(partials, {chunk.sample: (chunk.num_entries, processed)},
                           metrics=measured)

    def __dask_tokenize__(self) -> object:
        """The plan's content (not the run id): identical work gets identical keys."""
        return dask.base.tokenize("Kernel", self.branches, self.actions, self.ranges,
                                  self.read, sorted(self.samples), self.backend)

    def _emit(self, chunk: Chunk, began: float, measured: Measurement, run: _ChunkRun | None,
              replica: str, error: str = "") -> None:
        """Report this chunk's measurement to the scheduler (see hepflow.observe)."""
        if not self.instrument:
            return
        filters: dict[str, tuple[int, int]] = {}
        if run is not None:
            for node in run.filter_nodes:
                name = getattr(node, "name", "")
                if name:
                    counts = run.counts[id(node)]
                    filters[name] = (counts[0], counts[1])
        emit_chunk(ChunkRecord(
            run=self.run_id, chunk=chunk.index, file=chunk.url, sample=chunk.sample,
            entry_start=chunk.entry_start, entry_stop=chunk.entry_stop, replica=replica,
            measured=measured, filters=filters, start=began,
            stop=began + measured.phase("total"), error=error))


__all__ = ["Kernel"]
