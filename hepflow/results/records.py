"""What one chunk task measured: the typed record the kernel sends and observe aggregates.

The kernel builds one `ChunkRecord` per chunk (read or failed) and hands it to
`hepflow.observe.events.emit_chunk`; the scheduler plugin, the dashboard, the
Prometheus series and the run reports read the same fields through
`hepflow.observe.aggregate`. It lives in `results` because both the engine
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

#: The phases a chunk's time is split into, in the order they happen.
PHASES: tuple[str, ...] = ("open", "network", "decompress", "interpret", "kernel", "fill")


@dataclass(frozen=True, slots=True)
class PhaseSeconds:
    """Seconds a chunk task spent per phase; `total` is the whole task (phases and the rest)."""

    open: float = 0.0
    network: float = 0.0
    decompress: float = 0.0
    interpret: float = 0.0
    kernel: float = 0.0
    fill: float = 0.0
    total: float = 0.0

    def phase(self, name: str) -> float:
        """Seconds of one of `PHASES` (or `total`)."""
        return float(getattr(self, name))

    @property
    def other(self) -> float:
        """Time in the task outside every phase (setup, bookkeeping), never negative."""
        return max(0.0, self.total - sum(self.phase(p) for p in PHASES))


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk task's measurements.

    `entries` is 0 for a chunk that could not be read (then `error` says
    why); `filters` maps each named filter to (entries reaching it, entries
    passing it); `start`/`stop` are wall-clock times (epoch seconds) on the
    worker; `worker` is filled in by `emit_chunk` (the worker's address, or
    "local" without a Dask worker); `read_path` says which reader served the
    chunk, so a slow fallback to uproot shows in every report.
    """

    run: str
    chunk: int
    file: str
    sample: str
    entry_start: int
    entry_stop: int
    replica: str = ""
    entries: int = 0
    filters: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    bytes_compressed: int = 0
    bytes_uncompressed: int = 0
    seconds: PhaseSeconds = field(default_factory=PhaseSeconds)
    start: float = 0.0
    stop: float = 0.0
    error: str = ""
    worker: str = ""
    read_path: str = ""  # how the chunk was read: see `hepflow.io.reader.ReadStats.read_path`

    def on_worker(self, worker: str) -> ChunkRecord:
        """The same record, marked as run by `worker`."""
        return replace(self, worker=worker)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, lists, dicts) for Dask's event log."""
        out = asdict(self)
        out["filters"] = {name: [int(a), int(p)] for name, (a, p) in self.filters.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkRecord:
        """Read back `to_dict`'s data; missing fields take their defaults."""
        secs = data.get("seconds") or {}
        return cls(
            run=str(data.get("run", "")), chunk=int(data.get("chunk", -1)),
            file=str(data.get("file", "")), sample=str(data.get("sample", "")),
            entry_start=int(data.get("entry_start", 0)),
            entry_stop=int(data.get("entry_stop", 0)),
            replica=str(data.get("replica", "")), entries=int(data.get("entries", 0)),
            filters={str(name): (int(counts[0]), int(counts[1]))
                     for name, counts in (data.get("filters") or {}).items()},
            bytes_compressed=int(data.get("bytes_compressed", 0)),
            bytes_uncompressed=int(data.get("bytes_uncompressed", 0)),
            seconds=PhaseSeconds(**{name: float(secs.get(name, 0.0))
                                    for name in (*PHASES, "total")}),
            start=float(data.get("start", 0.0)), stop=float(data.get("stop", 0.0)),
            error=str(data.get("error", "")), worker=str(data.get("worker", "")),
            read_path=str(data.get("read_path", "")))


__all__ = ["PHASES", "ChunkRecord", "PhaseSeconds"]
