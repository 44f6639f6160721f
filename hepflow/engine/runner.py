"""The engine side of a dataframe graph: lower its bookings, run them, deliver the results.

A `Runner` belongs to one `AnalysisGraph` (the plan side). It owns what the
plan does not: the chunks, the options, the Dask client and the preprocessing
result. Result handles reach it through the `ResultSource` protocol; several
runners run together in one computation through `run_graphs` (`RunGraphs`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask

from hepflow.core.chunk import Chunk
from hepflow.dataset.prepare import PreparedDataset
from hepflow.engine import client as clients
from hepflow.engine.columns import needed_branches
from hepflow.engine.dispatch import Dispatcher, DispatchStats, Job, Speculation
from hepflow.engine.graph import Node, build_graph, compute_node, graph_token, root_level
from hepflow.engine.kernel import Kernel
from hepflow.engine.sizing import (
    Choice,
    Scheduling,
    auto_chunk_entries,
    batch_level,
    cost_key,
    recut,
    remember_cost,
    remembered_cost,
    workers_of,
)
from hepflow.errors import AccountingError
from hepflow.options import Options
from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.graph import AnalysisGraph, Booking
from hepflow.plan.nodes import PlanNode, Range
from hepflow.results.partials import ChunkResult
from hepflow.results.pieces import Pieces
from hepflow.results.runinfo import RunInfo

#: Called as ``listener(run_id, chunks)`` for each instrumented run just before its graph
#: goes to the scheduler. Its chunks then report under that run id on the `hepflow-chunk`
#: event topic, so a watcher (a job's progress) can count chunks done of `chunks`.
RUN_LISTENERS: list[Callable[[str, int], None]] = []


@dataclass(frozen=True, slots=True, eq=False)
class _CountPerChunk(Action[Pieces, list[int]]):
    """How many events reach `node` in each chunk: the counting pass of a filtered Range."""

    node: PlanNode

    def empty(self) -> Pieces:
        return Pieces()

    def fill(self, ctx: FillContext) -> Pieces:
        return Pieces(((ctx.chunk_index, ctx.events(self.node)),))

    def merge(self, a: Pieces, b: Pieces) -> Pieces:
        return a.merge(b)

    def finish(self, partial: Pieces) -> list[int]:
        return [int(n) for n in partial.values()]


def _ranges(nodes: Sequence[PlanNode]) -> list[Range]:
    found: dict[int, Range] = {}
    for start in nodes:
        for node in start.lineage():
            if isinstance(node, Range):
                found[id(node)] = node
    return sorted(found.values(), key=lambda r: len(r.lineage()))


def _action_nodes(actions: Sequence[Action[Any, Any]]) -> list[PlanNode]:
    return [a.node for a in actions] + [f for a in actions for f in a.counted_filters()]


class Runner:
    """Runs the bookings of one analysis graph over its chunks on a Dask client."""

    def __init__(self, graph: AnalysisGraph, chunks: Sequence[Chunk], options: Options,
                 client: Any = None, prepared: PreparedDataset | None = None,
                 recut_chunks: bool = True) -> None:
        self.graph = graph
        self.chunks = list(chunks)
        self.options = options
        self.client = client
        self.prepared = prepared
        #: False for a dataset the user preprocessed into chunks of their choosing: those
        #: chunks are kept, and only "auto" asked for in this dataframe's own options
        #: re-cuts them.
        self.recut_chunks = recut_chunks
        self.runs = 0
        self.last_run: RunInfo | None = None
        self._cut_for = 0 if options.auto_chunks else options.cut_entries
        self._analysis = ""
        graph.attach(self)

    def run(self) -> None:
        """Compute every pending booking of this graph (ResultSource)."""
        run_graphs([self])

    def lower(self, actions: Sequence[Action[Any, Any]],
              offsets: Mapping[int, list[int]] | None = None,
              instrument: bool = True) -> tuple[Kernel, dict[Any, Any], Any]:
        """The fused kernel and the static task graph (one task per chunk) of `actions`."""
        kernel, job = self.plan(actions, offsets, instrument)
        dsk, key = build_graph(kernel, job.chunks, job.offsets, job.split_every, job.token)
        return kernel, dsk, key

    def plan(self, actions: Sequence[Action[Any, Any]],
             offsets: Mapping[int, list[int]] | None = None, instrument: bool = True,
             level: int = 0, tail_chunks: int = 0) -> tuple[Kernel, Job]:
        """The fused kernel and the job computing `actions` over every chunk in batches."""
        offsets = offsets or {}
        ranges = tuple(_ranges(_action_nodes(actions)))
        branches = tuple(needed_branches(actions))
        run_id = f"{uuid.uuid4().hex[:12]}" if instrument else ""
        kernel = Kernel(branches, tuple(actions), ranges, self.options.read,
                        self.graph.files, run_id=run_id, instrument=instrument,
                        layouts=self.layouts(branches),
                        backend=self.options.resolved().backend)
        per_chunk = [tuple(offsets.get(id(r), [0] * len(self.chunks))[c.index] for r in ranges)
                     for c in self.chunks]
        split_every = self.options.resolved().split_every
        token = graph_token(kernel, self.chunks, per_chunk, split_every)
        return kernel, Job(kernel, self.chunks, per_chunk, split_every, token, level,
                           tail_chunks)

    def size(self, actions: Sequence[Action[Any, Any]], client: Any) -> Choice:
        """Chunks (when "auto") and batches for this run, from the cluster and the cost."""
        conf = Scheduling.from_config()
        workers = workers_of(client)
        analysis = cost_key(self.graph.source.tree, actions)
        remembered = remembered_cost(analysis)
        per_entry = remembered or conf.seconds_per_entry
        why = []
        if self.options.auto_chunks and self.recut_chunks and self.prepared is not None \
                and self.chunks:
            entries = sum(c.num_entries for c in self.chunks)
            target, reason = auto_chunk_entries(entries, workers, per_entry, conf)
            if target != self._cut_for:
                self.chunks = recut(self.prepared, target)
                self._cut_for = target
            why.append(f"chunks of ~{target:,} entries: {reason}")
        elif not self.recut_chunks:
            target = max((c.num_entries for c in self.chunks), default=0)
            why.append(f"chunks of up to {target:,} entries, as the dataset was preprocessed")
        else:
            target = self.options.cut_entries
            why.append(f"chunks of ~{target:,} entries as given")
        mean_entries = (sum(c.num_entries for c in self.chunks) / len(self.chunks)
                        if self.chunks else 0.0)
        chunk_seconds = per_entry * mean_entries
        split_every = self.options.resolved().split_every
        level, tail, reason = batch_level(len(self.chunks), workers, chunk_seconds,
                                          split_every, conf)
        why.append(f"batches of {split_every ** level} chunks: {reason}")
        self._analysis = analysis
        return Choice(target, split_every ** level, level, tail, workers, chunk_seconds,
                      per_entry, remembered is not None, "; ".join(why))

    def remember(self, merged: ChunkResult) -> None:
        """Keep this run's cost per entry for sizing the next run of the same analysis."""
        if self._analysis and merged.processed:
            seconds = merged.metrics.read_seconds + merged.metrics.compute_seconds
            remember_cost(self._analysis, seconds / merged.processed)

    def layouts(self, branches: Sequence[str]) -> dict[int, Any]:
        """Per file, where the needed branches' baskets lie (files lacking any: via uproot)."""
        out: dict[int, Any] = {}
        for index, info in enumerate(self.graph.source.data):
            layouts = getattr(info, "layouts", None) or {}
            if info.file_end and all(b in layouts for b in branches):
                out[index] = (info.file_end, {b: layouts[b] for b in branches})
        return out

    def check_complete(self, merged: ChunkResult) -> None:
        """Every entry of every chunk is either processed or reported as failed."""
        expected = sum(c.num_entries for c in self.chunks)
        failed = sum(f.chunk.num_entries for f in merged.failures)
        if merged.chunks != len(self.chunks) or merged.expected != expected or \
                merged.processed + failed != expected:
            raise AccountingError(
                f"the run over {self.graph.source.tree} accounted for {merged.processed} "
                f"processed and {failed} failed of {expected} entries in {merged.chunks} of "
                f"{len(self.chunks)} chunks")
        if failed and self.options.read_policy != "skip":
            raise AccountingError(f"{len(merged.failures)} chunks failed without an error")

    def empty_result(self, kernel: Kernel) -> ChunkResult:
        return ChunkResult(tuple({} for _ in kernel.actions), {}, chunks=0)

    def deliver(self, bookings: Sequence[Booking], merged: ChunkResult, info: RunInfo) -> None:
        """Each booking's per-sample partials, summed in dataset order, to its handle."""
        order = self.graph.sample_order()
        for booking, per_sample in zip(bookings, merged.partials, strict=True):
            action = booking.action
            total = action.empty()
            for sample in order:
                if sample in per_sample:
                    total = action.merge(total, per_sample[sample])

            def split(action: Action[Any, Any] = action,
                      per_sample: Mapping[str, Any] = per_sample) -> dict[str, Any]:
                return {s: action.finish(per_sample.get(s, action.empty())) for s in order}

            booking.handle._deliver(action.finish(total), info, split)


class Phases:
    """Wall-clock seconds of a run's client-side phases, in the order they happen.

    `range_counts` (the counting pass of filtered Ranges), `lower` (kernel,
    content keys, task graph), `submit` (handing the graph to the scheduler),
    `wait` (until the merged result is back: the workers' reading and
    computing, the tree reduction and the result transfer) and `deliver`
    (accounting checks and turning partials into results).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._mark
        self._mark = now


def _compute(jobs: Sequence[Job], client: Any, show_progress: bool,
             phases: Phases | None = None,
             stats: list[DispatchStats] | None = None) -> list[ChunkResult]:
    """Each job's merged result: in this process (no client) or dispatched on the cluster."""
    phases = phases or Phases()
    if client is None:
        phases.done("submit")
        out = [compute_node(job.kernel, job.chunks, job.offsets, job.split_every,
                            Node(root_level(len(job.chunks), job.split_every), 0), 0)
               for job in jobs]
        phases.done("wait")
        return out
    factor = Scheduling.from_config().speculation_factor
    dispatcher = Dispatcher(client, jobs, Speculation(factor=factor, enabled=factor > 0),
                            progress=show_progress)
    out = dispatcher.run(phases.done)
    phases.done("wait")
    if stats is not None:
        stats.append(dispatcher.stats)
    return out


def _range_offsets(runners: Sequence[Runner], booked: Sequence[Sequence[Action[Any, Any]]],
                   client: Any, choices: Sequence[Choice]) -> list[dict[int, list[int]]]:
    """Count, per chunk, the entries reaching each filtered Range, and prefix-sum them."""
    results: list[dict[int, list[int]]] = [{} for _ in runners]
    while True:
        jobs = []
        todo = []
        for i, (runner, actions) in enumerate(zip(runners, booked, strict=True)):
            ready = [r for r in _ranges(_action_nodes(actions))
                     if r.needs_offsets and id(r) not in results[i]]
            ready = [r for r in ready if all(id(u) in results[i] or not u.needs_offsets
                                             for u in _ranges([r.parent]))]
            if ready and runner.chunks:
                counters = [_CountPerChunk(r.parent) for r in ready]
                choice = choices[i]
                _, job = runner.plan(counters, results[i], False, choice.batch_level,
                                     choice.tail_chunks)
                jobs.append(job)
                todo.append((i, ready))
        if not jobs:
            return results
        for (i, ready), merged in zip(todo, _compute(jobs, client, False),
                                                strict=True):
            runners[i].check_complete(merged)
            for r, per_sample in zip(ready, merged.partials, strict=True):
                counts = [0] * len(runners[i].chunks)
                for pieces in per_sample.values():
                    for index, count in pieces.items:
                        counts[index] = count
                running, offsets = 0, []
                for count in counts:
                    offsets.append(running)
                    running += count
                results[i][id(r)] = offsets


def run_graphs(runners: Sequence[Runner]) -> None:
    """Run every pending booking of the given runners, in one computation.

    If the run fails, its bookings are dropped and each handle re-raises the
    error, so one bad action does not poison later runs of the same graph.
    """
    runners = [r for r in runners if r.graph.pending]
    if not runners:
        return
    taken = [r.graph.take_pending() for r in runners]
    try:
        _run(runners, taken)
    except BaseException as exc:
        for bookings in taken:
            for booking in bookings:
                booking.handle._fail(exc)
        raise


def _run(runners: Sequence[Runner], taken: Sequence[list[Booking]]) -> None:
    client = clients.resolve(runners[0].client)
    start = time.perf_counter()
    phases = Phases()
    choices = [runner.size([b.action for b in bookings], client)
               for runner, bookings in zip(runners, taken, strict=True)]
    offsets = _range_offsets(runners, [[b.action for b in bookings] for bookings in taken],
                             client, choices)
    phases.done("range_counts")
    jobs = []
    kernels = []
    for runner, bookings, run_offsets, choice in zip(runners, taken, offsets, choices,
                                                     strict=True):
        kernel, job = runner.plan([b.action for b in bookings], run_offsets, True,
                                  choice.batch_level, choice.tail_chunks)
        kernels.append(kernel)
        if runner.chunks:
            jobs.append(job)
    total_chunks = sum(len(r.chunks) for r in runners)
    for runner, kernel in zip(runners, kernels, strict=True):
        for listener in RUN_LISTENERS:
            listener(kernel.run_id, len(runner.chunks))
    show = _show_progress(runners[0].options, total_chunks, client)
    phases.done("lower")
    stats: list[DispatchStats] = []
    merged_iter = iter(_compute(jobs, client, show, phases, stats) if jobs else [])
    dispatch_stats = stats[0].to_dict() if stats else {}
    for runner, bookings, kernel, choice in zip(runners, taken, kernels, choices, strict=True):
        merged = next(merged_iter) if runner.chunks else runner.empty_result(kernel)
        runner.check_complete(merged)
        runner.remember(merged)
        # `phases.seconds` is shared by every RunInfo of this run; "deliver" lands in
        # it once every handle has its value, before the run returns.
        info = RunInfo(len(runner.chunks), merged.expected, merged.processed,
                       time.perf_counter() - start, kernel.branches,
                       dict(merged.accounting), merged.failures, merged.metrics,
                       runner.prepared.dataset if runner.prepared else None,
                       phases.seconds, {**choice.to_dict(), "dispatch": dispatch_stats})
        runner.last_run = info
        runner.runs += 1
        runner.deliver(bookings, merged, info)
    phases.done("deliver")


def _show_progress(options: Options, chunks: int, client: Any) -> bool:
    if client is None:
        return False
    if options.progress is not None:
        return options.progress
    import sys

    return chunks >= int(dask.config.get("hepflow.progress-min-chunks")) and sys.stdout.isatty()


__all__ = ["RUN_LISTENERS", "Runner", "run_graphs"]
