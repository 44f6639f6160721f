"""Run options as one frozen, typed object, with defaults from `dask.config`.

Defaults live in the shipped `hepflow.yaml` under the `hepflow` namespace, so a
facility can change them with Dask's own config files or environment
variables (e.g. `DASK_HEPFLOW__CHUNK_ENTRIES=200000`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal, cast

import dask.config
import yaml

from hepflow.io.policy import ReadOptions

_DEFAULTS = os.path.join(os.path.dirname(__file__), "hepflow.yaml")
with open(_DEFAULTS) as _f:
    dask.config.update_defaults(yaml.safe_load(_f))


@dataclass(frozen=True, slots=True)
class Options:
    """How a dataframe is chunked, reduced and run."""

    #: Target entries per chunk, or "auto": sized at each run from the cluster's worker
    #: count, the dataset's size and the analysis' measured cost (`engine.sizing`).
    chunk_entries: int | Literal["auto"] = 0
    chunk_bytes: int = 0
    split_every: int = 0
    progress: bool | None = None
    read_policy: Literal["raise", "skip"] = "raise"
    use_cache: bool = True
    timeout: float = 0.0
    retries: int = -1
    backoff: float = -1.0
    #: How expressions are evaluated: "columnar" (numpy/awkward, operator by operator),
    #: "compiled" (every expression the compiler takes is one numba kernel,
    #: `engine.exprkernel`), "auto" (compiled where an expression reads a collection,
    #: where it was measured faster); unset: ``HEPFLOW_BACKEND``, else
    #: ``hepflow.backend`` in dask.config.
    backend: Literal["", "auto", "columnar", "compiled"] = ""

    def __post_init__(self) -> None:
        if self.read_policy not in ("raise", "skip"):
            raise ValueError(f"read_policy must be 'raise' or 'skip', not {self.read_policy!r}")
        auto = self.chunk_entries == "auto"
        if (not auto and (isinstance(self.chunk_entries, str) or self.chunk_entries < 0)) or \
                self.split_every < 0 or self.split_every == 1:
            raise ValueError("chunk_entries must be positive or 'auto' and split_every at "
                             "least 2")
        if self.chunk_bytes < 0:
            raise ValueError("chunk_bytes must be positive")
        if self.backend not in BACKENDS and self.backend != "":
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not "
                             f"{self.backend!r}")

    def resolved(self) -> Options:
        """Fill unset values from dask.config."""
        return replace(
            self,
            chunk_entries=self.chunk_entries or _configured_chunk_entries(),
            split_every=self.split_every or int(dask.config.get("hepflow.split-every")),
            timeout=self.timeout or float(dask.config.get("hepflow.read.timeout")),
            retries=self.retries if self.retries >= 0 else
            int(dask.config.get("hepflow.read.retries")),
            backoff=self.backoff if self.backoff >= 0 else
            float(dask.config.get("hepflow.read.backoff")),
            backend=self.backend or _configured_backend(),
        )

    @property
    def auto_chunks(self) -> bool:
        """Whether chunks are sized at run time (`chunk_entries="auto"`, no `chunk_bytes`)."""
        return self.resolved().chunk_entries == "auto" and not self.chunk_bytes

    @property
    def cut_entries(self) -> int:
        """Entries per chunk for cutting now: the fixed size, or auto's first guess."""
        entries = self.resolved().chunk_entries
        if entries == "auto":
            return int(dask.config.get("hepflow.scheduling.initial-chunk-entries"))
        return int(entries)

    @property
    def read(self) -> ReadOptions:
        resolved = self.resolved()
        return ReadOptions(resolved.timeout, resolved.retries, resolved.backoff,
                           resolved.read_policy)

    def updated(self, **changes: Any) -> Options:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


BACKENDS: Final = ("auto", "columnar", "compiled")


def _configured_backend() -> Literal["auto", "columnar", "compiled"]:
    """``HEPFLOW_BACKEND`` (a whole test run can be forced with it), else dask.config."""
    value = os.environ.get("HEPFLOW_BACKEND") or str(dask.config.get("hepflow.backend"))
    if value not in BACKENDS:
        raise ValueError(f"HEPFLOW_BACKEND / hepflow.backend must be one of "
                         f"{', '.join(BACKENDS)}, not {value!r}")
    return cast(Literal["auto", "columnar", "compiled"], value)


def _configured_chunk_entries() -> int | Literal["auto"]:
    value = dask.config.get("hepflow.chunk-entries")
    return "auto" if value == "auto" else int(value)


__all__ = ["Options"]
