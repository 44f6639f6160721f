"""Running booked actions: one graph per dataframe, all computed together.

As in RDataFrame, asking for any result runs every action booked on the same
graph in one pass; `run_graphs` does the same across several dataframes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.base

from hepflow.dataset.chunks import Chunk
from hepflow.dataset.prepare import PreparedDataset
from hepflow.engine import client as clients
from hepflow.engine.columns import needed_branches
from hepflow.engine.fill import CountPerChunk
from hepflow.engine.graph import build_graph
from hepflow.engine.kernel import Kernel, SampleInfo
from hepflow.errors import AccountingError
from hepflow.options import Options
from hepflow.plan import actions as act
from hepflow.plan.nodes import Filter, PlanNode, Range, Source
from hepflow.results.partials import ChunkResult
from hepflow.results.runinfo import RunInfo


@dataclass
class Booking:
    """A booked action and the callback that receives its final value."""

    action: act.Action
    deliver: Callable[[Mapping[str, Any], ChunkResult, Sequence[Filter], RunInfo], None]
    fail: Callable[[BaseException], None]


@dataclass(eq=False)
class LoopManager:
    """The state shared by every node of one dataframe graph: source, chunks, bookings."""

    source: Source
    chunks: list[Chunk]
    options: Options
    client: Any = None
    prepared: PreparedDataset | None = None
    samples: dict[str, SampleInfo] = field(default_factory=dict)
    pending: list[Booking] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    runs: int = 0
    last_run: RunInfo | None = None

    def book(self, booking: Booking) -> None:
        self.pending.append(booking)

    def run(self) -> None:
        run_graphs([self])


def _ranges(nodes: Sequence[PlanNode]) -> list[Range]:
    found: dict[int, Range] = {}
    for start in nodes:
        for node in start.lineage():
            if isinstance(node, Range):
                found[id(node)] = node
    return sorted(found.values(), key=lambda r: len(r.lineage()))


def _token(lm: LoopManager, actions: Sequence[act.Action], salt: str) -> str:
    return str(dask.base.tokenize(id(lm), lm.runs, [id(a) for a in actions], salt,
                                  time.time_ns()))


def _compute(jobs: Sequence[tuple[dict[Any, Any], Any]], client: Any,
             show_progress: bool) -> list[Any]:
    if client is None:
        from dask.local import get_sync

        return [get_sync(dsk, key) for dsk, key in jobs]
    dsk: dict[Any, Any] = {}
    for part, _ in jobs:
        dsk.update(part)
    futures = client.get(dsk, [key for _, key in jobs], sync=False)
    if show_progress:
        from distributed.diagnostics.progressbar import progress

        progress(futures)
    return list(client.gather(futures))


def _lower(lm: LoopManager, actions: Sequence[act.Action], filters: Sequence[Filter],
           offsets: dict[int, list[int]], salt: str) -> tuple[Kernel, dict[Any, Any], Any]:
    nodes = [a.node for a in actions] + list(filters)
    ranges = tuple(_ranges(nodes))
    token = _token(lm, actions, salt)
    branches = tuple(needed_branches(actions, filters))
    kernel = Kernel(branches, tuple(actions), tuple(filters), ranges, lm.options.read,
                    lm.samples, run_id=token, instrument=salt == "run",
                    layouts=_layouts(lm, branches))
    per_chunk = [[offsets.get(id(r), [0] * len(lm.chunks))[c.index] for r in ranges]
                 for c in lm.chunks]
    options = lm.options.resolved()
    dsk, key = build_graph(kernel, lm.chunks, per_chunk, options.split_every, token)
    return kernel, dsk, key


def _layouts(lm: LoopManager, branches: Sequence[str]) -> dict[int, Any]:
    """Per file, where the needed branches' baskets lie (files lacking any: read via uproot)."""
    out: dict[int, Any] = {}
    for index, info in enumerate(lm.source.data):
        layouts = getattr(info, "layouts", None) or {}
        if info.file_end and all(b in layouts for b in branches):
            out[index] = (info.file_end, {b: layouts[b] for b in branches})
    return out


def _range_offsets(lms: Sequence[LoopManager], client: Any) -> list[dict[int, list[int]]]:
    """Count, per chunk, the entries reaching each filtered Range, and prefix-sum them."""
    results: list[dict[int, list[int]]] = [{} for _ in lms]
    while True:
        jobs = []
        todo = []
        for i, lm in enumerate(lms):
            nodes = [b.action.node for b in lm.pending] + lm.filters
            ready = [r for r in _ranges(nodes) if r.needs_offsets and id(r) not in results[i]]
            ready = [r for r in ready if all(id(u) in results[i] or not u.needs_offsets
                                             for u in _ranges([r.parent]))]
            if ready and lm.chunks:
                counters = [CountPerChunk(r.parent) for r in ready]
                _, dsk, key = _lower(lm, counters, (), results[i], "range")
                jobs.append((dsk, key))
                todo.append((i, ready))
        if not jobs:
            return results
        for (i, ready), merged in zip(todo, _compute(jobs, client, False), strict=True):
            _check_complete(lms[i], merged)
            for r, per_sample in zip(ready, merged.partials, strict=True):
                counts = [0] * len(lms[i].chunks)
                for pieces in per_sample.values():
                    for index, count in pieces.items:
                        counts[index] = count
                running, offsets = 0, []
                for count in counts:
                    offsets.append(running)
                    running += count
                results[i][id(r)] = offsets


def run_graphs(lms: Sequence[LoopManager]) -> None:
    """Run every pending booking of the given loop managers, in one computation.

    If the run fails, its bookings are dropped and each handle re-raises the
    error, so one bad action does not poison later runs of the same graph.
    """
    lms = [lm for lm in lms if lm.pending]
    if not lms:
        return
    try:
        _run_graphs(lms)
    except BaseException as exc:
        for lm in lms:
            bookings, lm.pending = lm.pending, []
            for booking in bookings:
                booking.fail(exc)
        raise


def _run_graphs(lms: Sequence[LoopManager]) -> None:
    resolved = {id(lm): clients.resolve(lm.client) for lm in lms}
    client = next(iter(resolved.values()))
    start = time.perf_counter()
    offsets = _range_offsets(lms, client)
    jobs = []
    kernels = []
    for lm, lm_offsets in zip(lms, offsets, strict=True):
        actions = [b.action for b in lm.pending]
        filters = _report_filters(lm)
        kernel, dsk, key = _lower(lm, actions, filters, lm_offsets, "run")
        kernels.append(kernel)
        if lm.chunks:
            jobs.append((dsk, key))
    total_chunks = sum(len(lm.chunks) for lm in lms)
    show = _show_progress(lms[0].options, total_chunks, client)
    merged_iter = iter(_compute(jobs, client, show))
    for lm, kernel in zip(lms, kernels, strict=True):
        if lm.chunks:
            merged: ChunkResult = next(merged_iter)
        else:
            merged = ChunkResult(tuple({} for _ in kernel.actions),
                                 tuple((0, 0) for _ in kernel.filters), {}, chunks=0)
        _check_complete(lm, merged)
        info = RunInfo(len(lm.chunks), merged.expected, merged.processed,
                       time.perf_counter() - start, kernel.branches,
                       dict(merged.accounting), merged.failures, merged.metrics,
                       lm.prepared.dataset if lm.prepared else None)
        lm.last_run = info
        bookings, lm.pending = lm.pending, []
        lm.runs += 1
        for i, booking in enumerate(bookings):
            booking.deliver(merged.partials[i], merged, kernel.filters, info)


def _check_complete(lm: LoopManager, merged: ChunkResult) -> None:
    """Every entry of every chunk is either processed or reported as failed."""
    expected = sum(c.num_entries for c in lm.chunks)
    failed = sum(f.chunk.num_entries for f in merged.failures)
    if merged.chunks != len(lm.chunks) or merged.expected != expected or \
            merged.processed + failed != expected:
        raise AccountingError(
            f"the run over {lm.source.tree} accounted for {merged.processed} processed and "
            f"{failed} failed of {expected} entries in {merged.chunks} of {len(lm.chunks)} "
            "chunks")
    if failed and lm.options.read_policy != "skip":
        raise AccountingError(f"{len(merged.failures)} chunks failed without an error")


def lower_pending(lm: LoopManager) -> tuple[dict[Any, Any], Any]:
    """The task graph the pending bookings would run (filtered Ranges not yet counted)."""
    actions = [b.action for b in lm.pending]
    _, dsk, key = _lower(lm, actions, _report_filters(lm), {}, "run")
    return dsk, key


def _report_filters(lm: LoopManager) -> list[Filter]:
    wanted: dict[int, Filter] = {}
    for booking in lm.pending:
        if isinstance(booking.action, act.Report):
            for f in booking.action.filters:
                wanted[id(f)] = f
    return [f for f in lm.filters if id(f) in wanted]


def _show_progress(options: Options, chunks: int, client: Any) -> bool:
    if client is None:
        return False
    if options.progress is not None:
        return options.progress
    import sys

    return chunks >= int(dask.config.get("hepflow.progress-min-chunks")) and sys.stdout.isatty()


__all__ = ["Booking", "LoopManager", "RunInfo", "lower_pending", "run_graphs"]
