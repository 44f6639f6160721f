"""A model of how a hepflow run scales past one machine, from measured costs.

A run of C chunks on n workers takes about

    T(n) = T_serial + max(T_compute, T_scheduler, T_storage, T_network)

* T_compute   = ceil(C / n) x t_chunk: waves of chunk tasks (t_chunk measured
  per chunk on this machine, I/O included);
* T_scheduler = C x k x o: the scheduler hands out every task one after the
  other, o seconds each (measured with trivial tasks), k tasks per chunk
  (the chunk and its share of the tree reduction, 1 + 1/(split_every - 1));
* T_storage   = C x b_chunk / B_storage: the storage system's aggregate
  bandwidth, shared by all workers;
* T_network   = C x b_chunk / (nodes x B_nic): each node's network card,
  shared by the workers on it;
* T_serial    = the client's part (booking, submitting, the last merges,
  gathering the result): the measured time outside every chunk.

Each term is a resource that can run out; the largest one sets the time, and
the first non-compute term to overtake T_compute as n grows is the first
bottleneck. Speed-up is T(1) / T(n). The bandwidths are assumptions about the
facility (arguments), the rest is measured. A model, not a promise: it ignores
stragglers, retries and the reduction's own depth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

#: Worker counts the model predicts by default.
TARGETS: tuple[int, ...] = (10, 100, 1000)


@dataclass(frozen=True, slots=True)
class Facility:
    """The assumed facility: the dataset's size and its shared bandwidths."""

    events: int = 1_000_000_000
    storage_gbytes_per_s: float = 10.0
    nic_gbits_per_s: float = 10.0
    workers_per_node: int = 16


@dataclass(frozen=True, slots=True)
class Costs:
    """Measured: per chunk, per task, and serial."""

    chunk_seconds: float
    chunk_entries: float
    chunk_bytes: float
    task_overhead_s: float
    serial_s: float
    split_every: int = 8
    #: Chunks per task (hepflow's batches; 1 = one task per chunk).
    batch_chunks: float = 1.0

    @property
    def tasks_per_chunk(self) -> float:
        return (1.0 + 1.0 / max(1, self.split_every - 1)) / max(1.0, self.batch_chunks)


def costs_from(result: Mapping[str, Any]) -> Costs:
    """Costs measured by a scaling run (its fewest-workers point, the least contended).

    The serial part is the time outside every chunk (booking, submitting, the
    last merges, the gather), measured directly; the Amdahl fit's intercept is
    the fallback, as it also absorbs whatever slows chunks down at more workers.
    """
    point = min(result["points"], key=lambda p: p["workers"])
    cost = point["chunk_cost"]
    serial = point.get("outside_chunks_median_s")
    if serial is None:
        serial = result.get("fit", {}).get("serial_s")
    return Costs(chunk_seconds=cost["mean_s"], chunk_entries=cost["entries"],
                 chunk_bytes=cost["bytes"], task_overhead_s=result["task_overhead_s"],
                 serial_s=float(serial) if serial is not None and serial == serial else 0.0,
                 split_every=int(result.get("split_every", 8)))


def terms(costs: Costs, facility: Facility, workers: int) -> dict[str, float]:
    """Seconds each resource needs for the whole dataset on `workers` workers."""
    chunks = math.ceil(facility.events / max(costs.chunk_entries, 1.0))
    nodes = math.ceil(workers / facility.workers_per_node)
    total_bytes = chunks * costs.chunk_bytes
    return {
        "compute": math.ceil(chunks / costs.batch_chunks / workers) * costs.batch_chunks
        * costs.chunk_seconds,
        "scheduler": chunks * costs.tasks_per_chunk * costs.task_overhead_s,
        "storage": total_bytes / (facility.storage_gbytes_per_s * 1e9),
        "network": total_bytes / (nodes * facility.nic_gbits_per_s / 8 * 1e9),
    }


def wall_seconds(costs: Costs, facility: Facility, workers: int) -> tuple[float, str]:
    """Predicted wall time and the resource that sets it."""
    t = terms(costs, facility, workers)
    limit = max(t, key=lambda k: t[k])
    return costs.serial_s + t[limit], limit


def first_bottleneck(costs: Costs, facility: Facility, upto: int = 100_000,
                     ) -> dict[str, Any]:
    """The smallest worker count at which something other than compute sets the time."""
    n = 1
    while n <= upto:
        t = terms(costs, facility, n)
        limit = max(t, key=lambda k: t[k])
        if limit != "compute":
            return {"resource": limit, "workers": n, "seconds": dict(t)}
        chunks = math.ceil(facility.events / max(costs.chunk_entries, 1.0))
        if n >= chunks:
            return {"resource": "chunks (fewer chunks than workers)", "workers": chunks,
                    "seconds": dict(t)}
        n = max(n + 1, int(n * 1.05))
    return {"resource": "none below", "workers": upto, "seconds": {}}


def rechunk(costs: Costs, entries: float) -> Costs:
    """The same costs for chunks of `entries` entries (time and bytes proportional)."""
    f = entries / max(costs.chunk_entries, 1.0)
    return replace(costs, chunk_seconds=costs.chunk_seconds * f, chunk_entries=entries,
                   chunk_bytes=costs.chunk_bytes * f)


def sized(costs: Costs, facility: Facility, workers: int) -> Costs:
    """The costs with chunks and batches as hepflow sizes them for `workers` workers
    (`chunk_entries="auto"` and batched dispatch, `hepflow.engine.sizing`)."""
    from hepflow.engine.sizing import Scheduling, auto_chunk_entries, batch_level

    conf = replace(Scheduling.from_config(), task_seconds=costs.task_overhead_s)
    per_entry = costs.chunk_seconds / max(costs.chunk_entries, 1.0)
    entries, _ = auto_chunk_entries(facility.events, workers, per_entry, conf)
    costs = rechunk(costs, entries)
    chunks = math.ceil(facility.events / max(costs.chunk_entries, 1.0))
    level, _, _ = batch_level(chunks, workers, costs.chunk_seconds, costs.split_every, conf)
    return replace(costs, batch_chunks=float(costs.split_every ** level))


def predict(result: Mapping[str, Any], facility: Facility | None = None,
            targets: Sequence[int] = TARGETS, chunk_entries: float | None = None,
            batching: bool | None = None) -> dict[str, Any]:
    """Speed-up, efficiency and limiting resource at each target worker count.

    `chunk_entries` predicts for another chunk size than the measured one.
    `batching` (default: the result's own `batching`, else off) sizes chunks
    and batches for each worker count as hepflow does.
    """
    facility = facility or Facility()
    costs = costs_from(result)
    if chunk_entries:
        costs = rechunk(costs, chunk_entries)
    if costs.chunk_seconds <= 0 or costs.chunk_entries <= 0:
        return {"error": "no chunk costs were measured"}
    if batching is None:
        batching = bool(result.get("batching", False))
    t1, _ = wall_seconds(costs, facility, 1)
    rows = []
    for n in targets:
        at = sized(costs, facility, n) if batching and not chunk_entries else costs
        t, limit = wall_seconds(at, facility, n)
        rows.append({"workers": n, "seconds": t, "speedup": t1 / t,
                     "efficiency": t1 / t / n, "limited_by": limit,
                     "chunk_entries": at.chunk_entries, "batch_chunks": at.batch_chunks})
    return {"facility": asdict(facility), "costs": asdict(costs), "one_worker_s": t1,
            "predictions": rows, "first_bottleneck": first_bottleneck(costs, facility),
            "batching": batching,
            "chunking": chunking(costs, facility, max(targets))}


def chunking(costs: Costs, facility: Facility, workers: int) -> dict[str, Any]:
    """The chunk sizes (entries) that keep `workers` workers busy without the scheduler limit.

    A chunk must take at least `workers x k x o` seconds, or the scheduler
    cannot hand out chunks as fast as the workers finish them; and there must
    be at least one chunk per worker. Chunk time is taken as proportional to
    its entries.
    """
    per_entry = costs.chunk_seconds / max(costs.chunk_entries, 1.0)
    smallest = workers * costs.tasks_per_chunk * costs.task_overhead_s / per_entry
    largest = facility.events / workers
    return {"workers": workers, "min_entries": smallest, "max_entries": largest,
            "possible": smallest <= largest}


def format_model(model: Mapping[str, Any]) -> str:
    if "error" in model:
        return f"model: {model['error']}"
    f, c = model["facility"], model["costs"]
    lines = [f"model for {f['events']:,} events: {c['chunk_seconds']:.3f} s, "
             f"{c['chunk_entries']:,.0f} entries and {c['chunk_bytes'] / 1e6:.1f} MB per chunk, "
             f"{1e3 * c['task_overhead_s']:.2f} ms per task, {c['serial_s']:.2f} s serial; "
             f"storage {f['storage_gbytes_per_s']} GB/s, {f['nic_gbits_per_s']} Gb/s per node "
             f"of {f['workers_per_node']} workers",
             f"{'workers':>8} {'seconds':>10} {'speed-up':>9} {'effic.':>7}  limited by"]
    for row in model["predictions"]:
        sizing = (f" (chunks of {row['chunk_entries']:,.0f} entries, "
                  f"{row['batch_chunks']:.0f} per task)" if row.get("batch_chunks", 1) > 1 or
                  ("batch_chunks" in row and model.get("batching")) else "")
        lines.append(f"{row['workers']:>8} {row['seconds']:>10.1f} {row['speedup']:>9.1f} "
                     f"{100 * row['efficiency']:>6.0f}%  {row['limited_by']}{sizing}")
    first = model["first_bottleneck"]
    lines.append(f"first bottleneck: {first['resource']} from about {first['workers']} workers")
    chunk = model.get("chunking")
    if chunk:
        verdict = ("" if chunk["possible"] else
                   " -- impossible: the dataset is too small for that many workers")
        lines.append(f"to keep {chunk['workers']} workers busy, chunks need "
                     f"{chunk['min_entries']:,.0f} to {chunk['max_entries']:,.0f} entries"
                     f"{verdict}")
    return "\n".join(lines)


__all__ = ["TARGETS", "Costs", "Facility", "chunking", "costs_from", "first_bottleneck",
           "format_model", "predict", "rechunk", "sized", "terms", "wall_seconds"]
