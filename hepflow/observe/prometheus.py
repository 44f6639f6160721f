"""hepflow's series on the scheduler's Prometheus endpoint (`/metrics`).

distributed serves `prometheus_client`'s global registry at `/metrics`; a
collector registered there once per process is scraped together with Dask's
own `dask_scheduler_*` series, so a facility's Grafana shows hepflow's
throughput next to the scheduler's. Counters are totals since the scheduler
started (Prometheus computes rates itself); the throughput gauges are the
average over the last `RATE_WINDOW` seconds for those who do not.

Every series carries a `scheduler` label (the scheduler's address): tests and
notebooks sometimes run several schedulers in one process, and each scrape
must still tell them apart.

`MetricsExport` is the plugin extension that exports a plugin's numbers here.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from hepflow.observe.aggregate import IDLE, OTHER
from hepflow.observe.plugin import HepflowPlugin
from hepflow.results.records import PHASES

#: Seconds over which the throughput gauges are averaged.
RATE_WINDOW = 10

_live: weakref.WeakSet[HepflowPlugin] = weakref.WeakSet()
_lock = threading.RLock()  # register() calls collect() while we hold it
_registered: dict[str, Any] = {}


class HepflowCollector:
    """A `prometheus_client` custom collector reading every live hepflow plugin."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return CounterMetricFamily(name, doc, labels=("scheduler", *labels))

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return GaugeMetricFamily(name, doc, labels=("scheduler", *labels))

        chunks = counter("hepflow_chunks", "Chunk tasks finished (read or failed)")
        errors = counter("hepflow_chunk_errors", "Chunk tasks that could not read their chunk")
        entries = counter("hepflow_entries", "Entries (events) read by chunk tasks")
        nbytes = counter("hepflow_bytes_read", "Bytes read from ROOT files", ("kind",))
        seconds = counter("hepflow_chunk_seconds",
                          "Seconds chunk tasks spent, by phase", ("phase",))
        runs = counter("hepflow_runs", "Runs (passes over a dataset) seen")
        w_entries = counter("hepflow_worker_entries", "Entries read, per worker", ("worker",))
        w_busy = counter("hepflow_worker_busy_seconds",
                         "Seconds spent in chunk tasks, per worker", ("worker",))
        w_chunks = counter("hepflow_worker_chunks", "Chunk tasks finished, per worker",
                           ("worker",))
        filters = counter("hepflow_filter_entries",
                          "Entries reaching (all) and passing (passed) each named filter",
                          ("filter", "stage"))
        samples = counter("hepflow_sample_entries", "Entries read, per sample", ("sample",))
        rate_ev = gauge("hepflow_throughput_events_per_second",
                        f"Entries read per second over the last {RATE_WINDOW} s")
        rate_by = gauge("hepflow_throughput_bytes_per_second",
                        f"Compressed bytes read per second over the last {RATE_WINDOW} s")
        latest_idle = gauge("hepflow_latest_run_idle_fraction",
                            "Share of worker time without a running chunk in the latest run")
        with _lock:
            plugins = list(_live)
        for plugin in plugins:
            sched = plugin.scheduler
            label = str(getattr(sched, "address", "") or "") if sched is not None else ""
            snap = plugin.aggregator.snapshot(time.time() - RATE_WINDOW - 1)
            totals = snap["totals"]
            chunks.add_metric([label], totals["chunks"])
            errors.add_metric([label], totals["errors"])
            entries.add_metric([label], totals["entries"])
            nbytes.add_metric([label, "compressed"], totals["bytes_compressed"])
            nbytes.add_metric([label, "uncompressed"], totals["bytes_uncompressed"])
            for phase in (*PHASES, OTHER):
                seconds.add_metric([label, phase], totals["seconds"][phase])
            runs.add_metric([label], snap["seq"])
            for worker, w in totals["workers"].items():
                w_entries.add_metric([label, worker], w["entries"])
                w_busy.add_metric([label, worker], w["busy_seconds"])
                w_chunks.add_metric([label, worker], w["chunks"])
            for name, (seen, passed) in totals["filters"].items():
                filters.add_metric([label, name, "all"], seen)
                filters.add_metric([label, name, "passed"], passed)
            for name, n in totals["samples"].items():
                samples.add_metric([label, name], n)
            timeline = snap["timeline"]
            recent = [i for i, t in enumerate(timeline["time"])
                      if t >= time.time() - RATE_WINDOW]
            rate_ev.add_metric([label], sum(timeline["events"][i] for i in recent) / RATE_WINDOW)
            rate_by.add_metric([label], sum(timeline["bytes"][i] for i in recent) / RATE_WINDOW)
            latest = snap["latest"]
            if latest is not None:
                capacity = latest["wall_seconds"] * max(1, len(latest["workers"]))
                latest_idle.add_metric(
                    [label], latest["breakdown"][IDLE] / capacity if capacity > 0 else 0.0)
        yield from (chunks, errors, entries, nbytes, seconds, runs, w_entries, w_busy,
                    w_chunks, filters, samples, rate_ev, rate_by, latest_idle)


def _ensure_registered() -> bool:
    try:
        import prometheus_client
    except ImportError:
        return False
    with _lock:
        if "collector" not in _registered:
            collector = HepflowCollector()
            prometheus_client.REGISTRY.register(collector)
            _registered["collector"] = collector
    return True


def track(plugin: HepflowPlugin) -> bool:
    """Export this plugin's numbers on /metrics; False if prometheus_client is missing."""
    if not _ensure_registered():
        return False
    with _lock:
        _live.add(plugin)
    return True


def untrack(plugin: HepflowPlugin) -> None:
    """Stop exporting this plugin's numbers."""
    with _lock:
        _live.discard(plugin)


class MetricsExport:
    """The plugin extension that puts its numbers on the scheduler's /metrics."""

    def start(self, plugin: HepflowPlugin, scheduler: Any) -> None:
        track(plugin)

    def close(self, plugin: HepflowPlugin) -> None:
        untrack(plugin)



__all__ = ["RATE_WINDOW", "HepflowCollector", "MetricsExport", "track", "untrack"]
