"""The suite's adaptor over PyROOT: ROOT's RDataFrame as it is, results made plain.

Imported only by `scripts/root_programs_references.py` (run with ROOT 6.40's
Python); the tests never import ROOT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ROOT  # type: ignore[import-not-found]

from tests.root_programs.plain import plain


def _value(obj: Any) -> Any:
    """The object behind a result pointer (or the object itself)."""
    return obj.GetValue() if hasattr(obj, "GetValue") and not hasattr(obj, "GetNbinsX") \
        and not hasattr(obj, "GetMeanErr") else obj


class RootAdaptor:
    """`R` for ROOT: `R.RDataFrame` is `ROOT.RDataFrame`; helpers turn TH1/TStatistic into dicts."""

    name = "root"

    def __init__(self) -> None:
        ROOT.gROOT.SetBatch(True)
        self.RDataFrame = ROOT.RDataFrame
        self.RunGraphs = ROOT.RDF.RunGraphs
        self.VariationsFor = ROOT.RDF.Experimental.VariationsFor
        self.FromSpec = ROOT.RDF.Experimental.FromSpec
        self._declared: set[str] = set()

    def Declare(self, cpp: str, functions: Mapping[str, tuple[Callable[..., Any],
                                                               Sequence[str], str]]) -> None:
        """ROOT compiles `cpp` (once per process); `functions` are hepflow's twins."""
        if cpp not in self._declared:
            if not ROOT.gInterpreter.Declare(cpp):
                raise RuntimeError(f"ROOT could not declare:\n{cpp}")
            self._declared.add(cpp)

    def fn(self, name: str) -> Any:
        """A declared C++ function, for actions that take a callable (Reduce, Aggregate)."""
        return getattr(ROOT, name)

    def h1(self, obj: Any) -> dict[str, Any]:
        h = _value(obj)
        n = h.GetNbinsX()
        return {"bins": [h.GetBinContent(i) for i in range(n + 2)],
                "sumw2": [h.GetBinError(i) ** 2 for i in range(n + 2)]}

    def h2(self, obj: Any) -> dict[str, Any]:
        h = _value(obj)
        nx, ny = h.GetNbinsX(), h.GetNbinsY()
        return {"bins": [[h.GetBinContent(ix, iy) for iy in range(ny + 2)]
                         for ix in range(nx + 2)]}

    def h3(self, obj: Any) -> dict[str, Any]:
        h = _value(obj)
        nx, ny, nz = h.GetNbinsX(), h.GetNbinsY(), h.GetNbinsZ()
        return {"bins": [[[h.GetBinContent(ix, iy, iz) for iz in range(nz + 2)]
                          for iy in range(ny + 2)] for ix in range(nx + 2)]}

    def profile1d(self, obj: Any) -> dict[str, Any]:
        p = _value(obj)
        n = p.GetNbinsX()
        return {"means": [p.GetBinContent(i) for i in range(n + 2)],
                "entries": [p.GetBinEntries(i) for i in range(n + 2)]}

    def profile2d(self, obj: Any) -> dict[str, Any]:
        p = _value(obj)
        nx, ny = p.GetNbinsX(), p.GetNbinsY()
        return {"means": [[p.GetBinContent(p.GetBin(ix, iy)) for iy in range(ny + 2)]
                          for ix in range(nx + 2)],
                "entries": [[p.GetBinEntries(p.GetBin(ix, iy)) for iy in range(ny + 2)]
                            for ix in range(nx + 2)]}

    def stats(self, obj: Any) -> dict[str, Any]:
        s = _value(obj)
        return {"n": int(s.GetN()), "w": s.GetW(), "mean": s.GetMean(),
                "meanerr": s.GetMeanErr(), "rms": s.GetRMS()}

    def graph(self, obj: Any) -> dict[str, Any]:
        g = _value(obj)
        n = g.GetN()
        xs, ys = g.GetX(), g.GetY()
        return {"x": [xs[i] for i in range(n)], "y": [ys[i] for i in range(n)]}

    def take(self, obj: Any) -> list[Any]:
        return plain(_value(obj))

    def numpy(self, arrays: Mapping[str, Any]) -> dict[str, Any]:
        return {k: plain(v) for k, v in arrays.items()}

    def value(self, obj: Any) -> Any:
        return plain(_value(obj))

    def Take(self, df: Any, column: str, cpptype: str) -> Any:
        """PyROOT's Take needs the column's C++ type as a template argument."""
        return df.Take[cpptype](column)
