"""The run report every result carries: accounting, failures, throughput and costs.

A result that silently missed entries would be a bug, so each run states,
per sample, how many entries it expected and how many it processed, and lists
every chunk it could not read with the reason. `failed_dataset()` is exactly
those chunks, ready to rerun and merge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hepflow.core.measure import Measurement
from hepflow.dataset.spec import Dataset, FileSpec, Sample
from hepflow.results.partials import Failure

#: Read paths that need no mention file by file in `RunInfo`'s text.
FAST_PATHS = ("baskets", "rntuple")


@dataclass(frozen=True)
class RunInfo:
    chunks: int
    entries_expected: int
    entries_processed: int
    seconds: float
    branches: tuple[str, ...]
    per_sample: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    metrics: Measurement = field(default_factory=Measurement)
    dataset: Dataset | None = None
    #: Client-side seconds of this run by phase (`Phases`): where the time outside the
    #: workers' reading and computing goes.
    phases: Mapping[str, float] = field(default_factory=dict)
    #: How the run was cut and dispatched, and why: chunk size, chunks per task, workers,
    #: cost per entry, speculative copies (`hepflow.engine.sizing.Choice` and dispatch).
    scheduling: Mapping[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.entries_processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def compile_seconds(self) -> float:
        """Seconds the workers spent compiling C++ bodies' kernels (part of the kernel
        phase); 0 when every kernel was already compiled, in the worker or on disk."""
        return self.metrics.phase("compile")

    @property
    def complete(self) -> bool:
        return not self.failures and self.entries_processed == self.entries_expected

    def failed_dataset(self) -> Dataset:
        """A dataset of exactly the chunks that were not processed (same samples, metadata)."""
        if not self.failures:
            raise ValueError("every chunk was processed; there is nothing to rerun")
        if self.dataset is not None and self.dataset.friends:
            aliases = ", ".join(f.alias for f in self.dataset.friends)
            raise ValueError(
                f"the failed chunks cannot be rerun as a dataset of their own: its friends "
                f"({aliases}) are aligned entry by entry with the whole chain, and a subset "
                f"of the chain would pair them with other entries; rerun the whole dataset")
        by_sample: dict[str, list[FileSpec]] = {}
        for failure in self.failures:
            chunk = failure.chunk
            by_sample.setdefault(chunk.sample, []).append(
                FileSpec(chunk.urls, chunk.tree, chunk.entry_start, chunk.entry_stop))
        metadata = {s.name: s.metadata for s in self.dataset} if self.dataset else {}
        return Dataset(tuple(Sample(name, tuple(files), metadata.get(name, {}))
                             for name, files in by_sample.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks, "entries_expected": self.entries_expected,
            "entries_processed": self.entries_processed, "seconds": self.seconds,
            "events_per_second": self.events_per_second, "branches": list(self.branches),
            "per_sample": {k: {"expected": e, "processed": p}
                           for k, (e, p) in self.per_sample.items()},
            "bytes_read": self.metrics.bytes_compressed,
            "read_seconds": self.metrics.read_seconds,
            "compute_seconds": self.metrics.compute_seconds,
            "compile_seconds": self.compile_seconds,
            "failures": [{"file": f.chunk.url, "replicas": list(f.chunk.urls),
                          "entry_start": f.chunk.entry_start, "entry_stop": f.chunk.entry_stop,
                          "sample": f.chunk.sample, "reason": f.reason}
                         for f in self.failures],
            "phases": dict(self.phases),
            "read_paths": dict(self.metrics.read_paths),
            "read_fallbacks": list(self.metrics.fallbacks),
            "read_path_per_file": dict(self.metrics.file_paths),
            "scheduling": dict(self.scheduling),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [f"{self.entries_processed} of {self.entries_expected} entries in "
                 f"{self.chunks} chunks, {self.seconds:.2f} s "
                 f"({self.events_per_second:,.0f} events/s), "
                 f"{self.metrics.bytes_compressed / 1e6:.1f} MB read"]
        for name, (exp, proc) in self.per_sample.items():
            lines.append(f"  sample {name or '(default)'}: {proc} of {exp} entries")
        if self.metrics.read_paths:
            paths = ", ".join(f"{n} through {path}"
                              for path, n in sorted(self.metrics.read_paths.items()))
            lines.append(f"  chunks read: {paths}")
        for name, path in self.metrics.file_paths.items():
            if path not in FAST_PATHS:
                lines.append(f"  read through {path}: {name}")
        for why in self.metrics.fallbacks:
            lines.append(f"  read through uproot after the basket reader failed: {why}")
        if self.compile_seconds > 0:
            lines.append(f"  compiling kernels: {self.compile_seconds:.2f} s of the workers' "
                         "time (the next run finds them compiled)")
        if self.scheduling.get("why"):
            lines.append(f"  scheduling: {self.scheduling['why']}")
        for f in self.failures:
            lines.append(f"  NOT PROCESSED: {f.chunk.describe()}: {f.reason}")
        return "\n".join(lines)


__all__ = ["RunInfo"]
