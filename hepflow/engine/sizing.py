"""How big chunks and batches are, from the cluster's size and the analysis' measured cost.

Three limits decide it (`hepflow.scheduling` in `hepflow.yaml`):

* load balance: at least `chunks-per-worker` tasks per worker slot, so the last
  wave is short and a slow worker holds little;
* the scheduler: it spends `task-seconds` on each task, so tasks must last at
  least `slots x task-seconds / load-fraction` seconds or it cannot hand them
  out as fast as the workers finish them;
* per-task round trip: a task should last at least `min-task-seconds`, long
  against the time a slot waits between two tasks;
* per-chunk overhead: a chunk should last at least `min-chunk-seconds`.

Chunks (`chunk_entries="auto"`) are sized for balance and overhead; batches of
`split_every ** L` chunks then make tasks long enough for the scheduler. The
cost per entry of each analysis is measured by its runs and remembered in
hepflow's cache folder, so the next run of the same analysis sizes from it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import dask.base
import dask.config

from hepflow.core.chunk import Chunk
from hepflow.dataset.chunks import cut_chunks
from hepflow.dataset.prepare import PreparedDataset, file_ranges, friend_pieces
from hepflow.dataset.scan import cache_dir


@dataclass(frozen=True, slots=True)
class Scheduling:
    """The knobs of `hepflow.scheduling` (see module docstring)."""

    task_seconds: float = 0.002
    load_fraction: float = 0.5
    chunks_per_worker: float = 4.0
    min_chunk_seconds: float = 0.05
    max_chunk_entries: int = 2_000_000
    min_chunk_entries: int = 1_000
    seconds_per_entry: float = 1e-6
    speculation_factor: float = 4.0
    initial_chunk_entries: int = 100_000
    min_task_seconds: float = 0.5

    @classmethod
    def from_config(cls) -> Scheduling:
        conf = dask.config.get("hepflow.scheduling", default={}) or {}
        known = {f: conf[f.replace("_", "-")] for f in cls.__slots__
                 if f.replace("_", "-") in conf}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Choice:
    """What was chosen, and why (shown by `run_info()`)."""

    chunk_entries: int
    batch_chunks: int
    batch_level: int
    tail_chunks: int
    workers: int
    chunk_seconds: float
    seconds_per_entry: float
    measured: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auto_chunk_entries(entries: int, workers: int, seconds_per_entry: float,
                       conf: Scheduling) -> tuple[int, str]:
    """Target entries per chunk for `entries` entries on `workers` slots."""
    workers = max(1, workers)
    # Fewer tasks per slot when even one chunk per task would keep the scheduler over its
    # share: a dataset small for the cluster (each slot's work lasts about as long as the
    # scheduler needs to hand every slot a few tasks) runs fastest in one task per slot.
    per_slot_s = entries * seconds_per_entry / workers
    affordable = conf.load_fraction * per_slot_s / (workers * max(conf.task_seconds, 1e-9))
    per_worker = min(conf.chunks_per_worker, max(1.0, float(math.floor(affordable))))
    balance = (math.ceil(entries / (per_worker * workers)) if entries
               else conf.max_chunk_entries)
    overhead = conf.min_chunk_seconds / max(seconds_per_entry, 1e-12)
    size = int(min(max(balance, overhead), conf.max_chunk_entries))
    size = max(conf.min_chunk_entries, size)
    if balance >= overhead:
        why = (f"{entries:,} entries / ({per_worker:.3g} chunks x {workers} workers)"
               + ("" if per_worker == conf.chunks_per_worker else
                  f": fewer than {conf.chunks_per_worker:g} per worker, or the scheduler "
                  f"({conf.task_seconds * 1e3:.2f} ms/task) would be over "
                  f"{conf.load_fraction:.0%}")
               if balance < conf.max_chunk_entries else
               f"capped at {conf.max_chunk_entries:,} entries")
    else:
        why = (f"chunks of at least {conf.min_chunk_seconds * 1e3:.0f} ms at "
               f"{seconds_per_entry * 1e6:.2f} us/entry")
    return size, why


def batch_level(chunks: int, workers: int, chunk_seconds: float, split_every: int,
                conf: Scheduling) -> tuple[int, int, str]:
    """Batch level L (batches of `split_every ** L` chunks), tail chunks, and why."""
    workers = max(1, workers)
    chunk_seconds = max(chunk_seconds, 1e-9)
    needed = max(workers * conf.task_seconds / (conf.load_fraction * chunk_seconds),
                 conf.min_task_seconds / chunk_seconds)
    level = 0
    while split_every ** level < needed and split_every ** level < chunks:
        level += 1
    why = (f"tasks of >= {needed:.1f} chunks keep the scheduler under "
           f"{conf.load_fraction:.0%} ({workers} slots, {conf.task_seconds * 1e3:.2f} ms/task, "
           f"{chunk_seconds * 1e3:.1f} ms/chunk) and last >= {conf.min_task_seconds} s")
    while level > 0 and chunks / split_every ** level < conf.chunks_per_worker * workers:
        level -= 1
        why += "; smaller for load balance"
    tail = workers * split_every ** (level - 1) * 2 if level else 0
    return level, tail, why


def workers_of(client: Any) -> int:
    """Worker slots (threads) of a cluster; 1 for the synchronous scheduler."""
    if client is None:
        return 1
    try:
        return max(1, int(sum(client.nthreads().values())))
    except Exception:  # noqa: BLE001 - an unreachable scheduler sizes for one slot
        return 1


def cost_key(tree: str, actions: Sequence[Any]) -> str:
    """The name an analysis' cost is remembered under: its tree, branches and actions."""
    from hepflow.engine.columns import needed_branches

    return str(dask.base.tokenize("hepflow-cost", tree, tuple(needed_branches(actions)),
                                  tuple(actions)))


def recut(prepared: PreparedDataset, entries: int) -> list[Chunk]:
    """The prepared dataset's files cut again into chunks of about `entries` entries."""
    specs = [spec for _, spec in prepared.dataset.files]
    ranges = file_ranges(specs, prepared.files, prepared.dataset.range)
    chunks = cut_chunks(prepared.files, entries, ranges)
    if prepared.friends:
        chunks = [replace(c, friends=friend_pieces(c, prepared.friends)) for c in chunks]
    return chunks


def _store() -> Path:
    return cache_dir().parent / "costs.json"


def remembered_cost(analysis: str) -> float | None:
    """Seconds per entry measured by earlier runs of `analysis` (a kernel token)."""
    try:
        data = json.loads(_store().read_text())
    except (OSError, ValueError):
        return None
    value = data.get(analysis) if isinstance(data, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def remember_cost(analysis: str, seconds_per_entry: float) -> None:
    """Keep the measured cost (atomically; a lost race only loses one measurement)."""
    if not (seconds_per_entry > 0 and math.isfinite(seconds_per_entry)):
        return
    path = _store()
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[analysis] = seconds_per_entry
    if len(data) > 1000:
        data = dict(list(data.items())[-1000:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        return


__all__ = ["Choice", "Scheduling", "auto_chunk_entries", "batch_level", "cost_key", "recut",
           "remember_cost", "remembered_cost", "workers_of"]
