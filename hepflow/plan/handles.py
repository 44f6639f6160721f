"""Lazy result handles, as RDataFrame's RResultPtr: the value arrives at the first GetValue()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class ResultSource(Protocol):
    """What a handle asks for its value: the engine-side runner of its graph."""

    def run(self) -> None:
        """Compute every result booked on the graph and deliver each to its handle."""
        ...


class RResultPtr(Generic[T]):
    """A booked result. `GetValue()` runs every action booked on its graph, in one pass."""

    def __init__(self, source: ResultSource, label: str) -> None:
        self._source = source
        self._label = label
        self._ready = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._info: Any = None
        self._per_sample: Callable[[], dict[str, Any]] | None = None

    def _deliver(self, value: T, info: Any,
                 per_sample: Callable[[], dict[str, T]] | None = None) -> None:
        """Called by the runner once the run that computed this result has finished."""
        self._value = value
        self._info = info
        self._per_sample = per_sample
        self._ready = True

    def _fail(self, error: BaseException) -> None:
        self._error = error

    def IsReady(self) -> bool:
        return self._ready

    def GetValue(self) -> T:
        """The result, running the graph's booked actions first if needed."""
        if self._error is not None:
            raise self._error
        if not self._ready:
            self._source.run()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def GetPtr(self) -> T:
        return self.GetValue()

    @property
    def value(self) -> T:
        return self.GetValue()

    def per_sample(self) -> dict[str, T]:
        """The same result split by sample, from the same single pass over the data."""
        self.GetValue()
        return self._per_sample() if self._per_sample is not None else {}

    def run_info(self) -> Any:
        """Accounting, failures, bytes and time of the run that produced this value."""
        self.GetValue()
        return self._info

    def report(self) -> Any:
        """The run report (same as `run_info()`): totals, throughput, accounting, failures."""
        return self.run_info()

    def __repr__(self) -> str:
        state = f"ready: {self._value!r}" if self._ready else "not computed yet"
        return f"<RResultPtr {self._label} ({state})>"


__all__ = ["RResultPtr", "ResultSource"]
