"""One measurement record: what chunk tasks cost and how they were read.

The reader fills the reading part of a chunk's `Measurement` (bytes, the
open/network/decompress/interpret seconds, the read path and why it fell back),
the kernel completes it (the chunk, its entries, the kernel and fill seconds,
the task's total) and sends the same record both ways: inside the chunk's
result, where the reduction merges it into the run's `RunInfo.metrics`, and in
the chunk's event, where the scheduler plugin merges it per run and worker.
Both use the one associative `merge`, so they cannot disagree.

Each field names its own merge rule and how it is read back from plain data
(its metadata), so adding a measurement is one field here and the line that
measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: The phases a chunk's time is split into, in the order they happen.
PHASES: tuple[str, ...] = ("open", "network", "decompress", "interpret", "kernel", "fill")
#: The phases that are reading (the rest is computing).
READ_PHASES: tuple[str, ...] = ("open", "network", "decompress", "interpret")
#: How many fallback reasons a run keeps (`Measurement.fallbacks`).
MAX_FALLBACKS = 20
_RULE, _READ = "merge", "read"


def _add(a: Any, b: Any) -> Any:
    return a + b


def _add_each(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def _join_paths(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, str]:
    """Each file's read path; a file whose chunks went different ways gets them joined by +."""
    out = dict(a)
    for name, path in b.items():
        mine = out.get(name)
        out[name] = path if mine is None or mine == path else \
            "+".join(sorted({*mine.split("+"), *path.split("+")}))
    return out


def _first(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return (a + b)[:MAX_FALLBACKS]


def _counts(kind: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda data: {str(k): kind(v) for k, v in (data or {}).items()}


def _strings(data: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in data or ())


def _merged_by(rule: Callable[[Any, Any], Any], read: Callable[[Any], Any], *,
               default: Callable[[], Any] | None = None, value: Any = None) -> Any:
    """A field that merges with `rule` and is read back from plain data with `read`."""
    metadata = {_RULE: rule, _READ: read}
    if default is not None:
        return field(default_factory=default, metadata=metadata)
    return field(default=value, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What some chunk tasks cost and how they were read: one chunk's, or any merge of them.

    `seconds` maps each of `PHASES`, and ``total`` (the whole task), to
    seconds; `read_paths` counts chunks per read path (``baskets``,
    ``uproot``, ``uproot-retry`` after the basket reader failed, ``rntuple``);
    `file_paths` names each file's (several joined by ``+``); `fallbacks`
    says why, for the first `MAX_FALLBACKS` chunks the basket reader handed
    to uproot. `errors` counts chunks that could not be read.
    """

    chunks: int = _merged_by(_add, int, value=0)
    errors: int = _merged_by(_add, int, value=0)
    entries: int = _merged_by(_add, int, value=0)
    bytes_compressed: int = _merged_by(_add, int, value=0)
    bytes_uncompressed: int = _merged_by(_add, int, value=0)
    seconds: Mapping[str, float] = _merged_by(_add_each, _counts(float), default=dict)
    read_paths: Mapping[str, int] = _merged_by(_add_each, _counts(int), default=dict)
    file_paths: Mapping[str, str] = _merged_by(_join_paths, _counts(str), default=dict)
    fallbacks: tuple[str, ...] = _merged_by(_first, _strings, value=())

    def merge(self, other: Measurement) -> Measurement:
        """The sum of two measurements; associative, and `Measurement()` is its identity."""
        return Measurement(**{f.name: f.metadata[_RULE](getattr(self, f.name),
                                                        getattr(other, f.name))
                              for f in fields(self)})

    def phase(self, name: str) -> float:
        """Seconds of one of `PHASES` (or ``total``); 0 when nothing was measured."""
        return float(self.seconds.get(name, 0.0))

    @property
    def other(self) -> float:
        """Task time outside every phase (setup, bookkeeping), never negative."""
        return max(0.0, self.phase("total") - sum(self.phase(p) for p in PHASES))

    @property
    def read_seconds(self) -> float:
        return sum(self.phase(p) for p in READ_PHASES)

    @property
    def compute_seconds(self) -> float:
        return self.phase("kernel") + self.phase("fill")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (ints, floats, strings, lists, dicts) for Dask's event log."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple)
                         else dict(v) if isinstance(v, Mapping) else v)
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Read back `to_dict`'s data; missing fields are empty."""
        return cls(**{f.name: f.metadata[_READ](data[f.name]) for f in fields(cls)
                      if f.name in data})


__all__ = ["MAX_FALLBACKS", "PHASES", "READ_PHASES", "Measurement"]
