"""What one chunk task measured: the typed record the kernel sends and observe aggregates.

The kernel builds one `ChunkRecord` per chunk (read or failed) and hands it to
`hepflow.observe.events.emit_chunk`; the scheduler plugin, the dashboard, the
Prometheus series and the run reports read the same fields through
`hepflow.observe.aggregate`. Its costs are the chunk's `Measurement`
(`hepflow.core.measure`), the same record the result reduction merges into
`RunInfo.metrics`. It lives in `results` because both the engine
and observe may import `results`, and neither may import the other's
internals.

Between processes the record travels as plain data (`to_dict`, read back
with `from_dict`): Dask's event log carries msgpack-able messages, and a
scheduler's saved events stay readable without hepflow's classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from hepflow.core.measure import PHASES, Measurement


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk task: which chunk, where and when it ran, and its `Measurement`.

    `measured` is the chunk's one measurement record (bytes, seconds per
    phase, entries read, read path; `errors` is 1 for a chunk that could not
    be read, and then `error` says why); `filters` maps each named filter to
    (entries reaching it, entries passing it); `start`/`stop` are wall-clock
    times (epoch seconds) on the worker; `worker` is filled in by
    `emit_chunk` (the worker's address, or "local" without a Dask worker).
    """

    run: str
    chunk: int
    file: str
    sample: str
    entry_start: int
    entry_stop: int
    replica: str = ""
    measured: Measurement = field(default_factory=Measurement)
    filters: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    start: float = 0.0
    stop: float = 0.0
    error: str = ""
    worker: str = ""

    def on_worker(self, worker: str) -> ChunkRecord:
        """The same record, marked as run by `worker`."""
        return replace(self, worker=worker)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, lists, dicts) for Dask's event log."""
        out = asdict(self)
        out["measured"] = self.measured.to_dict()
        out["filters"] = {name: [int(a), int(p)] for name, (a, p) in self.filters.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkRecord:
        """Read back `to_dict`'s data; missing fields take their defaults."""
        return cls(
            run=str(data.get("run", "")), chunk=int(data.get("chunk", -1)),
            file=str(data.get("file", "")), sample=str(data.get("sample", "")),
            entry_start=int(data.get("entry_start", 0)),
            entry_stop=int(data.get("entry_stop", 0)),
            replica=str(data.get("replica", "")),
            measured=Measurement.from_dict(data.get("measured") or {}),
            filters={str(name): (int(counts[0]), int(counts[1]))
                     for name, counts in (data.get("filters") or {}).items()},
            start=float(data.get("start", 0.0)), stop=float(data.get("stop", 0.0)),
            error=str(data.get("error", "")), worker=str(data.get("worker", "")))


__all__ = ["PHASES", "ChunkRecord"]
