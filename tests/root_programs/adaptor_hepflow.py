"""The suite's adaptor over hepflow: `R.RDataFrame` is `hepflow.RDataFrame` on a chosen client."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

import hepflow
from tests.root_programs.plain import plain


def _value(obj: Any) -> Any:
    return obj.GetValue() if isinstance(obj, hepflow.RResultPtr) else obj


def _flow(h: Any) -> np.ndarray:
    """Bin contents with under- and overflow, whatever the storage."""
    values = h.values(flow=True)
    return np.asarray(values, dtype=np.float64)


class HepflowAdaptor:
    """`R` for hepflow: every dataframe runs on `client` ("sync": in this process),
    cut into small chunks so that merging is exercised."""

    name = "hepflow"

    def __init__(self, client: Any, chunk_entries: int = 300) -> None:
        self._client = client
        self._chunk_entries = chunk_entries
        self.RunGraphs = hepflow.RunGraphs
        self.VariationsFor = hepflow.VariationsFor
        self._twins: dict[str, Callable[..., Any]] = {}

    def RDataFrame(self, *args: Any, **kwargs: Any) -> hepflow.RDataFrame:
        kwargs.setdefault("client", self._client)
        empty = isinstance(args[0], int) if args else False
        # an empty source of N entries is cut in about four chunks, so merging is exercised
        kwargs.setdefault("chunk_entries", max(1, args[0] // 4) if empty else self._chunk_entries)
        return hepflow.RDataFrame(*args, **kwargs)

    def FromSpec(self, path: str) -> hepflow.RDataFrame:
        return hepflow.FromSpec(path, client=self._client, chunk_entries=self._chunk_entries)

    def Declare(self, cpp: str, functions: Mapping[str, tuple[Callable[..., Any],
                                                               Sequence[str], str]]) -> None:
        """hepflow's Declare of the Python twins of ROOT's C++ functions; without twins,
        of the C++ source itself."""
        if not functions:
            hepflow.Declare(cpp)
        for name, (func, args, ret) in functions.items():
            self._twins[name] = func
            if args:
                hepflow.Declare(name, func, list(args), ret)

    def fn(self, name: str) -> Callable[..., Any]:
        """The Python twin declared under `name`, for Reduce and Aggregate."""
        return self._twins[name]

    def h1(self, obj: Any) -> dict[str, Any]:
        h = _value(obj)
        variances = h.variances(flow=True)
        return {"bins": plain(_flow(h)),
                "sumw2": plain(np.asarray(variances if variances is not None
                                          else h.values(flow=True), dtype=np.float64))}

    def h2(self, obj: Any) -> dict[str, Any]:
        return {"bins": plain(_flow(_value(obj)))}

    def h3(self, obj: Any) -> dict[str, Any]:
        return {"bins": plain(_flow(_value(obj)))}

    def profile1d(self, obj: Any) -> dict[str, Any]:
        p = _value(obj)
        view = p.view(flow=True)
        return {"means": plain(np.nan_to_num(np.asarray(view.value, dtype=np.float64))),
                "entries": plain(np.asarray(view.sum_of_weights if hasattr(view, "sum_of_weights")
                                            else view.count, dtype=np.float64))}

    def profile2d(self, obj: Any) -> dict[str, Any]:
        return self.profile1d(obj)

    def stats(self, obj: Any) -> dict[str, Any]:
        s = _value(obj)
        return {"n": int(s.GetN()), "w": s.GetW(), "mean": s.GetMean(),
                "meanerr": s.GetMeanErr(), "rms": s.GetRMS()}

    def graph(self, obj: Any) -> dict[str, Any]:
        g = _value(obj)
        return {"x": plain(g.GetX()), "y": plain(g.GetY())}

    def take(self, obj: Any) -> list[Any]:
        return plain(_value(obj))

    def numpy(self, arrays: Mapping[str, Any]) -> dict[str, Any]:
        return {k: plain(v) for k, v in arrays.items()}

    def value(self, obj: Any) -> Any:
        return plain(_value(obj))

    def Take(self, df: Any, column: str, cpptype: str) -> Any:
        """hepflow's Take knows the column's type (`cpptype` is PyROOT's template argument)."""
        return df.Take(column)
