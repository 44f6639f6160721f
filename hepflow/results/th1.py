"""A `hist.Hist` that also keeps ROOT's fill statistics and answers with TH1's getters.

ROOT's `TH1::GetMean()` is not computed from bin centers: every `Fill` that
lands inside the axes' ranges adds w, w², w·x and w·x² to running sums, and
the mean and standard deviation come from those (entries in the under- or
overflow count in `GetEntries()` but not in the sums). This class keeps the
same sums next to the bins (`fill` and `+` maintain them, as `TH1::Fill` and
`TH1::Add` do) and offers TH1's accessor names computed as ROOT computes
them, with ROOT's bin numbering (0 underflow, 1..n, n+1 overflow). An
operation that changes bins otherwise (slicing, projection, scaling) drops
the sums, and the getters then use bin centers, as ROOT does for a
histogram without stored statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hist
import numpy as np


@dataclass(frozen=True, slots=True)
class FillStats:
    """TH1's fEntries, fTsumw, fTsumw2, and per axis fTsumwx and fTsumwx2."""

    entries: float
    sumw: float
    sumw2: float
    sumwx: tuple[float, ...]
    sumwx2: tuple[float, ...]

    @classmethod
    def zero(cls, ndim: int) -> FillStats:
        return cls(0.0, 0.0, 0.0, (0.0,) * ndim, (0.0,) * ndim)

    @classmethod
    def of(cls, edges: Sequence[np.ndarray], values: Sequence[np.ndarray],
           weight: np.ndarray | None) -> FillStats:
        """The sums of one fill: entries in range on every axis add to the moments."""
        xs = [np.broadcast_to(np.asarray(v, dtype=np.float64), np.shape(values[0]))
              for v in values]
        n = int(np.size(xs[0]))
        w = np.ones(n) if weight is None else np.broadcast_to(
            np.asarray(weight, dtype=np.float64), (n,))
        inside = np.ones(n, dtype=bool)
        for e, x in zip(edges, xs, strict=True):
            inside &= (x >= e[0]) & (x < e[-1])
        wi = w[inside]
        return cls(float(n), float(wi.sum()), float((wi * wi).sum()),
                   tuple(float((wi * x[inside]).sum()) for x in xs),
                   tuple(float((wi * x[inside] ** 2).sum()) for x in xs))

    def __add__(self, other: FillStats) -> FillStats:
        return FillStats(self.entries + other.entries, self.sumw + other.sumw,
                         self.sumw2 + other.sumw2,
                         tuple(a + b for a, b in zip(self.sumwx, other.sumwx, strict=True)),
                         tuple(a + b for a, b in zip(self.sumwx2, other.sumwx2, strict=True)))


def _array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


class RootHist(hist.Hist, family=hist):  # type: ignore[type-arg]
    """A histogram with ROOT's fill statistics and TH1's accessors (`GetMean`, `Integral`, ...)."""

    _fill_stats: FillStats | None = None

    # keeping the statistics -----------------------------------------------------------

    def start_stats(self) -> RootHist:
        """Begin keeping ROOT's statistics (an empty histogram has all sums zero)."""
        self._fill_stats = FillStats.zero(self.ndim)
        return self

    def fill(self, *args: Any, weight: Any = None, sample: Any = None,  # type: ignore[override]
             threads: int | None = None) -> RootHist:
        if self._fill_stats is not None:
            edges = [np.asarray(a.edges) for a in self.axes]
            added = FillStats.of(edges, [_array(a) for a in args],
                                 None if weight is None else _array(weight))
            self._fill_stats = self._fill_stats + added
        super().fill(*args, weight=weight, sample=sample, threads=threads)
        return self

    def __add__(self, other: Any) -> RootHist:
        out: RootHist = super().__add__(other)
        out._fill_stats = self._summed(other)
        return out

    def __iadd__(self, other: Any) -> RootHist:
        stats = self._summed(other)
        super().__iadd__(other)
        self._fill_stats = stats
        return self

    def _summed(self, other: Any) -> FillStats | None:
        mine, theirs = self._fill_stats, getattr(other, "_fill_stats", None)
        return mine + theirs if mine is not None and theirs is not None else None

    def __getitem__(self, index: Any) -> Any:
        out = super().__getitem__(index)
        if isinstance(out, RootHist):
            out._fill_stats = None
        return out

    def project(self, *args: int | str, flow: bool = True) -> Any:
        out = super().project(*args, flow=flow)
        if isinstance(out, RootHist):
            out._fill_stats = None
        return out

    def _scaled(self, out: Any) -> Any:
        if isinstance(out, RootHist):
            out._fill_stats = None
        return out

    def __mul__(self, other: Any) -> Any:
        return self._scaled(super().__mul__(other))

    def __truediv__(self, other: Any) -> Any:
        return self._scaled(super().__truediv__(other))

    def __sub__(self, other: Any) -> Any:
        return self._scaled(super().__sub__(other))

    def __imul__(self, other: Any) -> Any:
        return self._scaled(super().__imul__(other))

    def __itruediv__(self, other: Any) -> Any:
        return self._scaled(super().__itruediv__(other))

    def __isub__(self, other: Any) -> Any:
        return self._scaled(super().__isub__(other))

    # ROOT's TH1 accessors -------------------------------------------------------------

    def _stats(self) -> FillStats:
        """The stored sums, or (as ROOT without them) the in-range bins at their centers."""
        if self._fill_stats is not None and self._fill_stats.sumw != 0:
            return self._fill_stats
        values = np.asarray(self.values(flow=False), dtype=np.float64)
        variances = self.variances(flow=False)
        w2 = values if variances is None else np.asarray(variances)
        total = float(values.sum())
        centers = np.meshgrid(*[np.asarray(a.centers) for a in self.axes], indexing="ij")
        entries = self._fill_stats.entries if self._fill_stats is not None else total
        return FillStats(entries, total, float(w2.sum()),
                         tuple(float((values * c).sum()) for c in centers),
                         tuple(float((values * c * c).sum()) for c in centers))

    def GetName(self) -> str:
        return str(self.name or "")

    def GetTitle(self) -> str:
        return str(self.label or "")

    def GetDimension(self) -> int:
        return int(self.ndim)

    def GetEntries(self) -> float:
        """The number of fills, under- and overflow included (ROOT's fEntries)."""
        return self._stats().entries

    def GetEffectiveEntries(self) -> float:
        s = self._stats()
        return s.sumw * s.sumw / s.sumw2 if s.sumw2 else abs(s.sumw)

    def GetSumOfWeights(self) -> float:
        """The sum of the in-range bin contents."""
        return float(np.sum(self.values(flow=False)))

    def GetMean(self, axis: int = 1) -> float:
        s = self._stats()
        return s.sumwx[axis - 1] / s.sumw if s.sumw else 0.0

    def GetStdDev(self, axis: int = 1) -> float:
        s = self._stats()
        if not s.sumw:
            return 0.0
        mean = s.sumwx[axis - 1] / s.sumw
        return math.sqrt(abs(s.sumwx2[axis - 1] / s.sumw - mean * mean))

    def GetRMS(self, axis: int = 1) -> float:
        return self.GetStdDev(axis)

    def GetMeanError(self, axis: int = 1) -> float:
        neff = self.GetEffectiveEntries()
        return self.GetStdDev(axis) / math.sqrt(neff) if neff > 0 else 0.0

    def GetStdDevError(self, axis: int = 1) -> float:
        neff = self.GetEffectiveEntries()
        return self.GetStdDev(axis) / math.sqrt(2 * neff) if neff > 0 else 0.0

    def GetRMSError(self, axis: int = 1) -> float:
        return self.GetStdDevError(axis)

    def GetNbinsX(self) -> int:
        return int(self.axes[0].size)

    def GetNbinsY(self) -> int:
        return int(self.axes[1].size) if self.ndim > 1 else 1

    def GetNbinsZ(self) -> int:
        return int(self.axes[2].size) if self.ndim > 2 else 1

    def GetNcells(self) -> int:
        return int(np.prod([a.size + 2 for a in self.axes]))

    def GetBinContent(self, *bins: int) -> float:
        """The content of a bin in ROOT's numbering (0 is the underflow)."""
        return float(np.asarray(self.values(flow=True))[bins])

    def GetBinError(self, *bins: int) -> float:
        variances = self.variances(flow=True)
        source = self.values(flow=True) if variances is None else variances
        return math.sqrt(float(np.asarray(source)[bins]))

    def Integral(self, binx1: int | None = None, binx2: int | None = None) -> float:
        """The sum of bin contents, of bins [binx1, binx2] (all in-range bins by default)."""
        values = np.asarray(self.values(flow=True))
        if self.ndim != 1:
            return float(np.asarray(self.values(flow=False)).sum())
        first = 1 if binx1 is None else max(binx1, 0)
        last = self.GetNbinsX() if binx2 is None else min(binx2, self.GetNbinsX() + 1)
        return float(values[first:last + 1].sum())

    def GetMaximum(self) -> float:
        return float(np.max(self.values(flow=False)))

    def GetMinimum(self) -> float:
        return float(np.min(self.values(flow=False)))

    def GetMaximumBin(self) -> int:
        return self._global_bin(int(np.argmax(self.values(flow=False))))

    def GetMinimumBin(self) -> int:
        return self._global_bin(int(np.argmin(self.values(flow=False))))

    def _global_bin(self, flat: int) -> int:
        """ROOT's global bin number of a flat index over the in-range bins."""
        index = np.unravel_index(flat, tuple(a.size for a in self.axes))
        sizes = [a.size + 2 for a in self.axes]
        out, stride = 0, 1
        for i, size in zip(index, sizes, strict=True):
            out += (int(i) + 1) * stride
            stride *= size
        return out

    def FindBin(self, x: float) -> int:
        """The bin of `x` on the x axis in ROOT's numbering."""
        edges = np.asarray(self.axes[0].edges)
        if x < edges[0]:
            return 0
        if x >= edges[-1]:
            return len(edges)
        return int(np.searchsorted(edges, x, side="right"))

    def GetBinCenter(self, bin: int) -> float:
        edges = np.asarray(self.axes[0].edges)
        return float((edges[bin - 1] + edges[bin]) / 2)

    def GetBinLowEdge(self, bin: int) -> float:
        return float(np.asarray(self.axes[0].edges)[bin - 1])

    def GetBinWidth(self, bin: int) -> float:
        edges = np.asarray(self.axes[0].edges)
        return float(edges[bin] - edges[bin - 1])


__all__ = ["FillStats", "RootHist"]
