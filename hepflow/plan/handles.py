"""Lazy result handles, as RDataFrame's RResultPtr: the value arrives at the first GetValue()."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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

    def __getattr__(self, name: str) -> Any:
        """Forward to the value, as PyROOT's result pointer does (`h.GetMean()`, `d.Print()`).

        Only public names are forwarded, so that copying, pickling and
        introspection of the handle never start a run.
        """
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.GetValue(), name)

    def __repr__(self) -> str:
        state = f"ready: {self._value!r}" if self._ready else "not computed yet"
        return f"<RResultPtr {self._label} ({state})>"


class RResultMap(Mapping[str, T]):
    """ROOT's `RResultMap`: a result under "nominal" and under each variation it depends on.

    Values are computed lazily, all in the same pass as the nominal result.
    Histograms can also come back as one `hist.Hist` with a category axis of
    variations (`hist()`), the form fitting tools read.
    """

    def __init__(self, handles: Mapping[str, RResultPtr[T]]) -> None:
        self._handles = dict(handles)

    def __getitem__(self, key: str) -> T:
        try:
            handle = self._handles[key]
        except KeyError:
            raise KeyError(f"no variation {key!r} for this result; it has "
                           f"{', '.join(self._handles)}") from None
        return handle.GetValue()

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    def GetKeys(self) -> list[str]:
        return list(self._handles)

    def handle(self, key: str) -> RResultPtr[T]:
        """The lazy handle behind one key (for RunGraphs)."""
        return self._handles[key]

    def hist(self, axis: str = "variation") -> Any:
        """All variations of a histogram as one `hist.Hist` with a StrCategory axis."""
        import hist as hist_

        first = self["nominal"]
        if not isinstance(first, hist_.Hist):
            raise TypeError("hist() combines histogram results; this result is "
                            f"{type(first).__name__}")
        keys = self.GetKeys()
        out = hist_.Hist(*first.axes, hist_.axis.StrCategory(keys, name=axis),
                         storage=first.storage_type())
        view = out.view(flow=True)
        for i, key in enumerate(keys):
            varied: Any = self[key]
            view[..., i] = varied.view(flow=True)
        return out

    def __repr__(self) -> str:
        return f"<RResultMap {', '.join(self._handles)}>"


__all__ = ["RResultMap", "RResultPtr", "ResultSource"]
