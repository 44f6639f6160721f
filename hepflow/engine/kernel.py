"""The fused per-chunk kernel: read once, evaluate every Define/Filter once, fill everything.

One call handles one chunk for every action booked on a dataframe graph. A
Filter makes a narrower *view* of the chunk's events; columns are evaluated
where they are defined and narrowed down to the view that needs them, each at
most once per chunk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from hepflow.dataset.chunks import Chunk
from hepflow.engine import fill as filling
from hepflow.engine.evaluate import evaluate
from hepflow.engine.vecops import EvaluationFailure
from hepflow.errors import EvaluationError, HepflowError, ReadError
from hepflow.io.policy import ReadOptions
from hepflow.io.reader import FileLayout, ReadStats, read_chunk
from hepflow.observe.events import emit_chunk
from hepflow.plan import actions as act
from hepflow.plan.expr.typed import Expression
from hepflow.plan.nodes import (
    Alias,
    Computation,
    Define,
    Filter,
    PerSampleValue,
    PlanNode,
    PyFunction,
    Range,
    Source,
)
from hepflow.results.partials import ChunkResult, Failure, Metrics
from hepflow.results.records import ChunkRecord, PhaseSeconds


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """What `rdfsampleinfo_` exposes inside expressions: the sample's name, index, metadata."""

    name: str
    index: int
    metadata: Mapping[str, Any]


class _View:
    """A set of events of the chunk: `index` picks them out of the parent view."""

    __slots__ = ("cache", "index", "n", "parent")

    def __init__(self, parent: _View | None, index: np.ndarray | None, n: int) -> None:
        self.parent = parent
        self.index = index
        self.n = n
        self.cache: dict[tuple[int, str], Any] = {}


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
        return self.run.kernel.samples.get(self.run.chunk.sample) or SampleInfo(
            self.run.chunk.sample, 0, {})


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
    def __init__(self, kernel: Kernel, chunk: Chunk, arrays: dict[str, Any],
                 offsets: Sequence[int]) -> None:
        self.kernel = kernel
        self.chunk = chunk
        self.arrays = arrays
        self.offsets = offsets
        self.views: dict[int, _View] = {}
        self.counts: dict[int, tuple[int, int]] = {}
        self.filter_nodes: list[Filter] = []
        self.evaluate_seconds = 0.0
        self.depth = 0
        self.root = _View(None, None, chunk.num_entries)

    def view(self, node: PlanNode) -> _View:
        key = id(node)
        found = self.views.get(key)
        if found is not None:
            return found
        if isinstance(node, Source):
            view = self.root
        elif isinstance(node, (Define, Alias)):
            assert node.parent is not None
            view = self.view(node.parent)
        elif isinstance(node, Filter):
            view = self._filter(node)
        elif isinstance(node, Range):
            view = self._range(node)
        else:  # pragma: no cover - the planner only makes the nodes above
            raise HepflowError(f"no lowering rule for {type(node).__name__}")
        self.views[key] = view
        return view

    def _filter(self, node: Filter) -> _View:
        parent = self.view(node.parent)
        mask = self.compute(node.computation, node.parent, f"Filter {node.name or ''}".strip())
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            mask = mask != 0
        passed = int(np.count_nonzero(mask))
        self.counts[id(node)] = (parent.n, passed)
        self.filter_nodes.append(node)
        if passed == parent.n:
            return _View(parent, None, parent.n)
        return _View(parent, np.flatnonzero(mask), passed)

    def _range(self, node: Range) -> _View:
        parent = self.view(node.parent)
        if node.needs_offsets:
            offset = self.offsets[self.kernel.ranges.index(node)]
        else:
            offset = self.chunk.global_start
        rank = offset + np.arange(parent.n, dtype=np.int64)
        keep = rank >= node.begin
        if node.end:
            keep &= rank < node.end
        if node.stride > 1:
            keep &= (rank - node.begin) % node.stride == 0
        index = np.flatnonzero(keep)
        return _View(parent, index, int(index.size))

    def column(self, node: PlanNode, name: str) -> Any:
        found = node.lookup(name)
        if found is None:  # pragma: no cover - the checker guarantees it
            raise HepflowError(f"unknown column {name}")
        defining = found[1]
        return self._narrow_from(self.view(defining), self.view(node), defining, name)

    def _narrow_from(self, home: _View, view: _View, defining: PlanNode, name: str) -> Any:
        key = (id(defining), name)
        if key in view.cache:
            return view.cache[key]
        if view is home:
            value = self._define(defining, name)
        else:
            assert view.parent is not None
            above = self._narrow_from(home, view.parent, defining, name)
            value = above if view.index is None else above[view.index]
        view.cache[key] = value
        return value

    def _define(self, node: PlanNode, name: str) -> Any:
        home = self.view(node)
        key = (id(node), name)
        if key in home.cache:
            return home.cache[key]
        if isinstance(node, Source):
            if name == "rdfentry_":
                value: Any = self.chunk.global_start + np.arange(self.chunk.num_entries,
                                                                 dtype=np.int64)
            elif name == "rdfslot_":
                value = np.zeros(self.chunk.num_entries, dtype=np.int64)
            else:
                value = self.arrays[name]
        elif isinstance(node, Define):
            value = self.compute(node.computation, node.parent, f"Define {node.name}")
        elif isinstance(node, Alias):
            value = self.column(node.parent, node.target)
        else:  # pragma: no cover
            raise HepflowError(f"{type(node).__name__} defines no columns")
        home.cache[key] = value
        return value

    def compute(self, comp: Computation, at: PlanNode, what: str) -> Any:
        frame = _NodeFrame(self, at)
        start = time.perf_counter()
        self.depth += 1
        try:
            return self._compute(comp, frame, what)
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.evaluate_seconds += time.perf_counter() - start

    def _compute(self, comp: Computation, frame: _NodeFrame, what: str) -> Any:
        try:
            if isinstance(comp, Expression):
                return evaluate(comp.tree, frame)
            if isinstance(comp, PerSampleValue):
                return np.full(frame.n, comp.values[self.chunk.sample])
            return _call(comp, frame)
        except HepflowError:
            raise
        except (EvaluationFailure, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
            raise EvaluationError(
                f"{what} = `{comp.text}` failed on {self.chunk.describe()}: {exc}") from None


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
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Kernel:
    """Everything a chunk task needs: branches to read, nodes, actions and filters to count."""

    branches: tuple[str, ...]
    actions: tuple[act.Action, ...]
    filters: tuple[Filter, ...]
    ranges: tuple[Range, ...]
    read: ReadOptions = field(default_factory=ReadOptions)
    samples: Mapping[str, SampleInfo] = field(default_factory=dict)
    run_id: str = ""
    instrument: bool = True
    layouts: Mapping[int, FileLayout] = field(default_factory=dict)

    def __call__(self, chunk: Chunk, offsets: Sequence[int] = ()) -> ChunkResult:
        began = time.time()
        start = time.perf_counter()
        try:
            arrays, stats = read_chunk(chunk, self.branches, self.read,
                                       self.layouts.get(chunk.file_index))
        except ReadError as exc:
            if self.read.policy != "skip":
                self._emit(chunk, began, start, None, None, 0.0, error=str(exc))
                raise
            self._emit(chunk, began, start, None, None, 0.0, error=str(exc))
            return ChunkResult(tuple({} for _ in self.actions),
                               tuple((0, 0) for _ in self.filters),
                               {chunk.sample: (chunk.num_entries, 0)},
                               (Failure(chunk, str(exc)),),
                               metrics=Metrics(0, time.perf_counter() - start, 0.0))
        computing = time.perf_counter()
        run = _ChunkRun(self, chunk, arrays, offsets)
        partials = tuple({chunk.sample: filling.fill(action, run, chunk)}
                         for action in self.actions)
        for node in self.filters:
            run.view(node)
        cutflow = tuple(run.counts[id(f)] for f in self.filters)
        processed = len(next(iter(arrays.values()))) if arrays else chunk.num_entries
        metrics = Metrics(stats.bytes_read, stats.seconds, time.perf_counter() - computing)
        self._emit(chunk, began, start, stats, run, computing)
        return ChunkResult(partials, cutflow, {chunk.sample: (chunk.num_entries, processed)},
                           metrics=metrics)

    def _emit(self, chunk: Chunk, began: float, start: float, stats: ReadStats | None,
              run: _ChunkRun | None, computing: float, error: str = "") -> None:
        """Report this chunk's measurements to the scheduler (see hepflow.observe)."""
        if not self.instrument:
            return
        end = time.perf_counter()
        filters: dict[str, tuple[int, int]] = {}
        if run is not None:
            for node in run.filter_nodes:
                if node.name:
                    counts = run.counts[id(node)]
                    filters[node.name] = (counts[0], counts[1])
        evaluate_s = run.evaluate_seconds if run is not None else 0.0
        compute_s = (end - computing) if run is not None else 0.0
        emit_chunk(ChunkRecord(
            run=self.run_id, chunk=chunk.index, file=chunk.url, sample=chunk.sample,
            entry_start=chunk.entry_start, entry_stop=chunk.entry_stop,
            replica=stats.replica if stats else "",
            entries=chunk.num_entries if stats else 0, filters=filters,
            bytes_compressed=stats.bytes_read if stats else 0,
            bytes_uncompressed=stats.bytes_uncompressed if stats else 0,
            seconds=PhaseSeconds(
                open=stats.open_seconds if stats else 0.0,
                network=stats.network_seconds if stats else 0.0,
                decompress=stats.decompress_seconds if stats else 0.0,
                interpret=stats.interpret_seconds if stats else 0.0,
                kernel=evaluate_s, fill=max(0.0, compute_s - evaluate_s),
                total=end - start),
            start=began, stop=began + (end - start), error=error))


__all__ = ["Kernel", "SampleInfo"]
