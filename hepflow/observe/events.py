"""Per-chunk measurements, sent to the scheduler through Dask's own event log.

Each chunk task reports what it read and where its time went with the
worker's `log_event` under the topic `hepflow-chunk`; nothing travels with the
results. Outside a Dask worker (the synchronous scheduler) records go to an
in-process list instead, so the same numbers exist in every mode.

A record is a `hepflow.results.records.ChunkRecord`; on Dask's event log it
travels as its plain-data form (`ChunkRecord.to_dict`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hepflow.results.records import PHASES, ChunkRecord

TOPIC = "hepflow-chunk"
#: Topic of the records of a batch of chunks, sent as one list when the batch is done.
BATCH_TOPIC = "hepflow-chunks"

_held = threading.local()

#: Records of chunks run in this process without a Dask worker (sync scheduler).
LOCAL_RECORDS: deque[ChunkRecord] = deque(maxlen=100_000)


def _digest(record: ChunkRecord) -> None:
    """Feed the phases into Dask's fine performance metrics (the dashboard's own page).

    Inside a task, `context_meter` attributes them to the running task, so they
    show up per phase under "Fine Performance Metrics" next to Dask's own.
    """
    try:
        from distributed.metrics import context_meter
    except ImportError:
        return
    for phase in PHASES:
        seconds = record.measured.phase(phase)
        if seconds:
            context_meter.digest_metric(f"hepflow-{phase}", seconds, "seconds")
    if record.measured.bytes_compressed:
        context_meter.digest_metric("hepflow-read", float(record.measured.bytes_compressed),
                                    "bytes")


def emit_chunk(record: ChunkRecord) -> None:
    """Send one chunk's measurements to the scheduler (or keep them locally)."""
    _digest(record)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        LOCAL_RECORDS.append(record.on_worker("local"))
        return
    data = record.on_worker(worker.address).to_dict()
    held: list[dict[str, Any]] | None = getattr(_held, "records", None)
    if held is not None:
        held.append(data)
        return
    worker.log_event(TOPIC, data)


@contextmanager
def held_records() -> Iterator[None]:
    """Hold the chunk records emitted inside, and send them as one event when it succeeds.

    A batch task of many chunks sends one message to the scheduler instead of
    one per chunk; if the batch fails or its worker dies, none of its records
    is sent, so the re-run's records are the only ones.
    """
    previous = getattr(_held, "records", None)
    _held.records = []
    try:
        yield
        records = _held.records
    finally:
        _held.records = previous
    if records:
        from distributed import get_worker

        get_worker().log_event(BATCH_TOPIC, records)


def chunk_records(msg: Any) -> list[Mapping[str, Any]]:
    """The chunk records of one event's message: a chunk's record (`TOPIC`) or a
    batch's list of them (`BATCH_TOPIC`); anything else holds none."""
    items = [msg] if isinstance(msg, Mapping) else msg if isinstance(msg, (list, tuple)) else []
    return [item for item in items if isinstance(item, Mapping)]


__all__ = ["BATCH_TOPIC", "LOCAL_RECORDS", "TOPIC", "chunk_records", "emit_chunk",
           "held_records"]
