"""Lazy result handles, as RDataFrame's RResultPtr: the value arrives at the first GetValue()."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RResultPtr(Generic[T]):
    """A booked result. `GetValue()` runs every action booked on its graph, in one pass."""

    def __init__(self, manager: Any, label: str) -> None:
        self._manager = manager
        self._label = label
        self._ready = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._info: Any = None
        self._per_sample_fn: Any = None

    def _set(self, value: Any, info: Any = None) -> None:
        self._value = value
        self._info = info
        self._ready = True

    def _set_per_sample(self, compute: Any) -> None:
        self._per_sample_fn = compute

    def _fail(self, error: BaseException) -> None:
        self._error = error

    def IsReady(self) -> bool:
        return self._ready

    def GetValue(self) -> T:
        if self._error is not None:
            raise self._error
        if not self._ready:
            self._manager.run()
        return self._value  # type: ignore[no-any-return]

    def GetPtr(self) -> T:
        return self.GetValue()

    @property
    def value(self) -> T:
        return self.GetValue()

    def per_sample(self) -> dict[str, T]:
        """The same result split by sample, from the same single pass over the data."""
        self.GetValue()
        return self._per_sample_fn()  # type: ignore[no-any-return]

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


__all__ = ["RResultPtr"]
