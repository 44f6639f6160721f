"""Per-chunk measurements, sent to the scheduler through Dask's own event log.

Each chunk task reports what it read and where its time went with the
worker's `log_event` under the topic `hepflow-chunk`; nothing travels with the
results. Outside a Dask worker (the synchronous scheduler) records go to an
in-process list instead, so the same numbers exist in every mode.
"""

from __future__ import annotations

from collections import deque
from typing import Any

TOPIC = "hepflow-chunk"

#: Records of chunks run in this process without a Dask worker (sync scheduler).
LOCAL_RECORDS: deque[dict[str, Any]] = deque(maxlen=100_000)


def _digest(record: dict[str, Any]) -> None:
    """Feed the phases into Dask's fine performance metrics (the dashboard's own page).

    Inside a task, `context_meter` attributes them to the running task, so they
    show up per phase under "Fine Performance Metrics" next to Dask's own.
    """
    try:
        from distributed.metrics import context_meter
    except ImportError:
        return
    for phase, seconds in record.get("seconds", {}).items():
        if phase != "total" and seconds:
            context_meter.digest_metric(f"hepflow-{phase}", float(seconds), "seconds")
    if record.get("bytes_compressed"):
        context_meter.digest_metric("hepflow-read", float(record["bytes_compressed"]), "bytes")


def emit_chunk(record: dict[str, Any]) -> None:
    """Send one chunk's measurements to the scheduler (or keep them locally)."""
    _digest(record)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        record = dict(record, worker="local")
        LOCAL_RECORDS.append(record)
        return
    record = dict(record, worker=worker.address)
    worker.log_event(TOPIC, record)


__all__ = ["LOCAL_RECORDS", "TOPIC", "emit_chunk"]
