"""Aggregation of per-chunk records into run, worker and timeline statistics.

This is the pure-Python core behind the scheduler plugin, the dashboard pages,
the Prometheus series and the run reports. It knows nothing about Dask: it
consumes the `ChunkRecord`s that the kernel hands to
`hepflow.observe.events.emit_chunk` (on the scheduler, read back from the
event's plain data with `ChunkRecord.from_dict`), so the same numbers can be
computed on the scheduler, from the synchronous scheduler's local records, or
offline from saved records.

Everything here is additive (sums and counts), so records may arrive in any
order and the totals of a run never depend on which worker ran what.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hepflow.core.measure import PHASES, Measurement
from hepflow.results.records import ChunkRecord

#: Time inside a chunk task not covered by `PHASES` (setup, bookkeeping).
OTHER = "other"
#: Worker time during a run in which no chunk ran: waiting for the scheduler,
#: the reduction, and workers that finished before the stragglers.
IDLE = "idle"
#: Every part of a run's worker time, in display order.
BREAKDOWN_ORDER: tuple[str, ...] = (*PHASES, OTHER, IDLE)


def _flat(measured: Measurement) -> dict[str, Any]:
    """A measurement's sums as the reports' plain data (seconds per phase, `other`, total)."""
    seconds = {phase: measured.phase(phase) for phase in PHASES}
    seconds[OTHER] = measured.other
    return {"chunks": measured.chunks, "entries": measured.entries,
            "bytes_compressed": measured.bytes_compressed,
            "bytes_uncompressed": measured.bytes_uncompressed, "seconds": seconds}


@dataclass
class WorkerStats:
    """What one worker did during one run (or in total): its chunks' merged measurement."""

    measured: Measurement = field(default_factory=Measurement)
    first_start: float = math.inf
    last_stop: float = 0.0

    def add(self, record: ChunkRecord) -> None:
        self.measured = self.measured.merge(record.measured)
        self.first_start = min(self.first_start, record.start)
        self.last_stop = max(self.last_stop, record.stop)

    def to_dict(self) -> dict[str, Any]:
        chunks = self.measured.chunks
        return {**_flat(self.measured), "busy_seconds": self.measured.phase("total"),
                "first_start": self.first_start if chunks else None,
                "last_stop": self.last_stop if chunks else None}


@dataclass
class RunStats:
    """One run's chunk records (one run id = one dataframe's pass): their merged
    measurement, and what only a run has (filters, samples, workers, span)."""

    run: str
    seq: int
    first_seen: float
    measured: Measurement = field(default_factory=Measurement)
    filters: dict[str, list[int]] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    workers: dict[str, WorkerStats] = field(default_factory=dict)
    start: float = math.inf
    stop: float = 0.0
    last_seen: float = 0.0
    #: Per-chunk (entries, compressed bytes, total seconds), for the cost model.
    chunk_costs: list[tuple[int, int, float]] = field(default_factory=list)
    #: Chunk indices already counted: a chunk run twice (a speculative copy, a re-run
    #: after a lost worker) is counted once.
    seen: set[int] = field(default_factory=set, repr=False)

    def add(self, record: ChunkRecord, seen: float, keep_chunks: int) -> None:
        self.last_seen = seen
        measured = record.measured
        self.measured = self.measured.merge(measured)
        for name, (seen_all, passed) in record.filters.items():
            counts = self.filters.setdefault(name, [0, 0])
            counts[0] += seen_all
            counts[1] += passed
        self.samples[record.sample] = self.samples.get(record.sample, 0) + measured.entries
        self.workers.setdefault(record.worker or "?", WorkerStats()).add(record)
        self.start = min(self.start, record.start)
        self.stop = max(self.stop, record.stop)
        if len(self.chunk_costs) < keep_chunks:
            self.chunk_costs.append((measured.entries, measured.bytes_compressed,
                                     measured.phase("total")))

    @property
    def chunks(self) -> int:
        return self.measured.chunks

    @property
    def wall_seconds(self) -> float:
        """From the first chunk's start to the last chunk's end, as the workers saw it."""
        return max(0.0, self.stop - self.start) if self.chunks else 0.0

    def breakdown(self) -> dict[str, float]:
        """Worker-seconds per phase, plus `other` and `idle` (see the module constants)."""
        out: dict[str, float] = {phase: self.measured.phase(phase) for phase in PHASES}
        out[OTHER] = self.measured.other
        capacity = self.wall_seconds * len(self.workers)
        out[IDLE] = max(0.0, capacity - self.measured.phase("total"))
        return out

    def to_dict(self, chunks: bool = True) -> dict[str, Any]:
        """Everything as plain data; `chunks=False` leaves out the per-chunk costs."""
        wall = self.wall_seconds
        flat = _flat(self.measured)
        flat["seconds"]["total"] = self.measured.phase("total")
        return {
            "run": self.run, "seq": self.seq, **flat, "errors": self.measured.errors,
            "breakdown": self.breakdown(), "wall_seconds": wall,
            "events_per_second": self.measured.entries / wall if wall > 0 else 0.0,
            "mb_per_second": self.measured.bytes_compressed / wall / 1e6 if wall > 0 else 0.0,
            "filters": {k: list(v) for k, v in self.filters.items()},
            "samples": dict(self.samples),
            "read_paths": dict(self.measured.read_paths),
            "workers": {k: v.to_dict() for k, v in self.workers.items()},
            "start": self.start if self.chunks else None,
            "stop": self.stop if self.chunks else None,
            "chunk_costs": [list(c) for c in self.chunk_costs] if chunks else [],
        }


class Timeline:
    """Entries and bytes per second of wall time, total and per worker.

    A chunk's entries and bytes are spread evenly over the seconds it ran, so
    the curve shows work as it was done rather than in bursts at completion.
    Only the last `window` seconds are kept.
    """

    def __init__(self, window: int = 900) -> None:
        self.window = window
        self.total: dict[int, list[float]] = {}
        self.per_worker: dict[str, dict[int, list[float]]] = {}

    def add(self, record: ChunkRecord) -> None:
        start = record.start
        stop = max(start, record.stop)
        entries = float(record.measured.entries)
        nbytes = float(record.measured.bytes_compressed)
        worker = self.per_worker.setdefault(record.worker or "?", {})
        duration = stop - start
        first, last = int(start), int(stop)
        for second in range(first, last + 1):
            if duration <= 0:
                share = 1.0
            else:
                share = (min(stop, second + 1) - max(start, second)) / duration
            if share <= 0:
                continue
            for bins in (self.total, worker):
                slot = bins.setdefault(second, [0.0, 0.0])
                slot[0] += entries * share
                slot[1] += nbytes * share
        self._prune(last)

    def _prune(self, newest: int) -> None:
        oldest = newest - self.window
        if self.total and min(self.total) < oldest:
            for bins in (self.total, *self.per_worker.values()):
                for second in [s for s in bins if s < oldest]:
                    del bins[second]

    def series(self, since: float | None = None) -> dict[str, Any]:
        """`{"time": [...], "events": [...], "bytes": [...], "workers": {w: {...}}}`."""
        def dense(bins: Mapping[int, list[float]], seconds: list[int]) -> dict[str, list[float]]:
            return {"events": [bins.get(s, (0.0, 0.0))[0] for s in seconds],
                    "bytes": [bins.get(s, (0.0, 0.0))[1] for s in seconds]}

        if not self.total:
            return {"time": [], "events": [], "bytes": [], "workers": {}}
        lo, hi = min(self.total), max(self.total)
        if since is not None:
            lo = max(lo, int(since))
        seconds = list(range(lo, hi + 1))
        out: dict[str, Any] = {"time": [float(s) for s in seconds]}
        out.update(dense(self.total, seconds))
        out["workers"] = {w: dense(bins, seconds) for w, bins in self.per_worker.items()}
        return out


class Aggregator:
    """Every run's statistics, totals since start, and the throughput timeline.

    Thread-safe: the scheduler feeds it from its event loop while tests and the
    Prometheus collector may read it from other threads.
    """

    def __init__(self, max_runs: int = 200, keep_chunks: int = 20_000,
                 window: int = 900) -> None:
        self._lock = threading.Lock()
        self.max_runs = max_runs
        self.keep_chunks = keep_chunks
        self.runs: OrderedDict[str, RunStats] = OrderedDict()
        self.seq = 0
        self.records = 0
        self.duplicates = 0
        self.totals = RunStats("total", 0, time.time())
        self.timeline = Timeline(window)
        self.scaling: dict[str, Any] | None = None

    def add(self, record: ChunkRecord, seen: float | None = None) -> None:
        """Take one chunk record (as sent by `emit_chunk`)."""
        now = time.time() if seen is None else seen
        run_id = record.run
        with self._lock:
            self.records += 1
            run = self.runs.get(run_id)
            if run is None:
                self.seq += 1
                run = self.runs[run_id] = RunStats(run_id, self.seq, now)
                while len(self.runs) > self.max_runs:
                    self.runs.popitem(last=False)
            if record.chunk in run.seen:
                # a speculative copy's or a re-run's record of a chunk already counted
                self.duplicates += 1
                return
            run.seen.add(record.chunk)
            run.add(record, now, self.keep_chunks)
            self.totals.add(record, now, 0)
            self.timeline.add(record)

    def extend(self, records: Iterable[ChunkRecord]) -> None:
        for record in records:
            self.add(record)

    def mark(self) -> int:
        """The number of runs seen so far: pass it to `since` to get only later runs."""
        with self._lock:
            return self.seq

    def since(self, mark: int) -> list[dict[str, Any]]:
        """The runs first seen after `mark`, oldest first, as dicts."""
        with self._lock:
            return [r.to_dict() for r in self.runs.values() if r.seq > mark]

    def latest(self) -> dict[str, Any] | None:
        with self._lock:
            if not self.runs:
                return None
            return next(reversed(self.runs.values())).to_dict()

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.runs.get(run_id)
            return found.to_dict() if found is not None else None

    def snapshot(self, since_time: float | None = None, recent_runs: int = 20,
                 ) -> dict[str, Any]:
        """Totals, the latest and recent runs and the timeline, for pages and reports."""
        with self._lock:
            latest = (next(reversed(self.runs.values())).to_dict(chunks=False)
                      if self.runs else None)
            recent = [r.to_dict(chunks=False) for r in list(self.runs.values())[-recent_runs:]]
            return {"records": self.records, "runs": len(self.runs), "seq": self.seq,
                    "totals": self.totals.to_dict(chunks=False),
                    "latest": latest, "recent": recent,
                    "timeline": self.timeline.series(since_time), "scaling": self.scaling}

    def set_scaling(self, summary: Mapping[str, Any]) -> None:
        with self._lock:
            self.scaling = dict(summary)


def merge_runs(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary of several runs' dicts (e.g. all dataframes of one `RunGraphs`)."""
    runs = list(runs)
    out: dict[str, Any] = {
        "runs": [r["run"] for r in runs], "chunks": 0, "errors": 0, "entries": 0,
        "bytes_compressed": 0, "bytes_uncompressed": 0,
        "seconds": dict.fromkeys((*PHASES, OTHER, "total"), 0.0),
        "filters": {}, "samples": {}, "read_paths": {}, "workers": {}, "chunk_costs": []}
    starts, stops = [], []
    for r in runs:
        for key in ("chunks", "errors", "entries", "bytes_compressed", "bytes_uncompressed"):
            out[key] += r[key]
        for phase, value in r["seconds"].items():
            out["seconds"][phase] = out["seconds"].get(phase, 0.0) + value
        for name, (a, p) in r["filters"].items():
            counts = out["filters"].setdefault(name, [0, 0])
            counts[0] += a
            counts[1] += p
        for key in ("samples", "read_paths"):
            for name, n in r.get(key, {}).items():
                out[key][name] = out[key].get(name, 0) + n
        for name, w in r["workers"].items():
            mine = out["workers"].setdefault(name, {
                "chunks": 0, "entries": 0, "bytes_compressed": 0, "bytes_uncompressed": 0,
                "busy_seconds": 0.0, "seconds": dict.fromkeys((*PHASES, OTHER), 0.0),
                "first_start": None, "last_stop": None})
            for key in ("chunks", "entries", "bytes_compressed", "bytes_uncompressed",
                        "busy_seconds"):
                mine[key] += w[key]
            for phase, value in w.get("seconds", {}).items():
                mine["seconds"][phase] = mine["seconds"].get(phase, 0.0) + value
            if w.get("first_start") is not None:
                mine["first_start"] = min(mine["first_start"] or math.inf, w["first_start"])
                mine["last_stop"] = max(mine["last_stop"] or 0.0, w["last_stop"])
        out["chunk_costs"].extend(r.get("chunk_costs", []))
        if r.get("start") is not None:
            starts.append(r["start"])
            stops.append(r["stop"])
    wall = (max(stops) - min(starts)) if starts else 0.0
    out["start"] = min(starts) if starts else None
    out["stop"] = max(stops) if stops else None
    out["wall_seconds"] = wall
    out["events_per_second"] = out["entries"] / wall if wall > 0 else 0.0
    out["mb_per_second"] = out["bytes_compressed"] / wall / 1e6 if wall > 0 else 0.0
    breakdown = {phase: out["seconds"].get(phase, 0.0) for phase in (*PHASES, OTHER)}
    breakdown[IDLE] = max(0.0, wall * len(out["workers"]) - out["seconds"]["total"])
    out["breakdown"] = breakdown
    return out


__all__ = ["BREAKDOWN_ORDER", "IDLE", "OTHER", "PHASES", "Aggregator", "RunStats", "Timeline",
           "WorkerStats", "merge_runs"]
