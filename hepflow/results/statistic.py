"""A weighted running statistic with ROOT's `TStatistic` accessors, mergeable exactly.

The second moment is kept about the mean and combined with the weighted form
of Chan et al.'s update (as `TStatistic::Merge` does), so the mean and RMS
stay accurate however many chunks are merged and in whatever shape. The
getters are ROOT's, including its integer `GetNeff()` (which `GetMeanErr()`
divides by), its -1 for an undefined variance or RMS, and entries of weight
zero not being counted.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

_DBL_MAX = sys.float_info.max
_NAN_AS_INT64 = -(2**63)


def _g(value: float, digits: int) -> str:
    """C's `%.<digits>g`."""
    return f"{value:.{digits}g}"


@dataclass(frozen=True, slots=True)
class Statistic:
    """Entries, sum of weights and of squared weights, weighted mean, second moment, range."""

    name: str = ""
    n: int = 0
    w: float = 0.0
    w2: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    min: float = _DBL_MAX
    max: float = -_DBL_MAX

    @classmethod
    def of(cls, values: np.ndarray, weights: np.ndarray | None = None,
           name: str = "") -> Statistic:
        """The statistic of one chunk's values (weights default to 1; weight 0 is skipped)."""
        x = np.asarray(values, dtype=np.float64)
        if weights is None:
            w = np.ones_like(x)
        else:
            w = np.asarray(weights, dtype=np.float64)
            x, w = x[w != 0], w[w != 0]
        if x.size == 0:
            return cls(name)
        lo, hi = float(x.min()), float(x.max())
        total = float(w.sum())
        if total == 0.0:
            return cls(name, int(x.size), total, float((w * w).sum()), 0.0, 0.0, lo, hi)
        mean = float((w * x).sum() / total)
        m2 = float((w * (x - mean) ** 2).sum())
        return cls(name, int(x.size), total, float((w * w).sum()), mean, m2, lo, hi)

    def merge(self, other: Statistic) -> Statistic:
        w = self.w + other.w
        lo, hi = min(self.min, other.min), max(self.max, other.max)
        if self.w == 0.0 or other.w == 0.0 or w == 0.0:
            base = other if self.w == 0.0 else self
            return Statistic(self.name, self.n + other.n, w, self.w2 + other.w2,
                             base.mean, base.m2, lo, hi)
        delta = other.mean - self.mean
        mean = self.mean + delta * other.w / w
        m2 = self.m2 + other.m2 + delta * delta * self.w * other.w / w
        return Statistic(self.name, self.n + other.n, w, self.w2 + other.w2, mean, m2, lo, hi)

    # ROOT's TStatistic accessors -------------------------------------------------------

    def GetName(self) -> str:
        return self.name

    def GetN(self) -> int:
        return self.n

    def GetW(self) -> float:
        return self.w

    def GetW2(self) -> float:
        return self.w2

    def GetNeff(self) -> int:
        """W²/W2 truncated to an integer, as ROOT's `Long64_t GetNeff()` (0/0 without
        entries converts to the smallest Long64_t there, as on x86-64)."""
        return int(self.w * self.w / self.w2) if self.w2 != 0 else _NAN_AS_INT64

    def GetM2(self) -> float:
        return self.m2

    def GetMean(self) -> float:
        return self.mean if self.w > 0 else 0.0

    def GetVar(self) -> float:
        """Variance with ROOT's N/(N-1) correction: 0 below two entries, -1 without weight."""
        if self.w <= 0:
            return -1.0
        if self.n <= 1:
            return 0.0
        return self.m2 / self.w * (self.n / (self.n - 1.0))

    def GetRMS(self) -> float:
        """sqrt(GetVar()), or -1 where the variance is not positive (ROOT's convention)."""
        var = self.GetVar()
        return math.sqrt(var) if var > 0 else -1.0

    def GetMeanErr(self) -> float:
        """sqrt(GetVar() / GetNeff()), with ROOT's integer Neff (inf where Neff is 0)."""
        if self.w <= 0:
            return 0.0
        neff = self.GetNeff()
        var = self.GetVar()
        if neff == 0:
            return math.inf if var > 0 else math.nan
        return math.sqrt(var / neff) if var / neff >= 0 else math.nan

    def GetMin(self) -> float:
        return self.min

    def GetMax(self) -> float:
        return self.max

    def __str__(self) -> str:
        """The line ROOT's `TStatistic::Print()` writes."""
        return (f" OBJ: TStatistic\t {self.name} \t Mean = {_g(self.GetMean(), 5)} +- "
                f"{_g(self.GetMeanErr(), 4)} \t RMS = {_g(self.GetRMS(), 5)} \t Count = "
                f"{self.n} \t Min = {_g(self.min, 5)} \t Max = {_g(self.max, 5)}")

    def Print(self) -> None:
        """Print ROOT's one-line summary."""
        print(self)


__all__ = ["Statistic"]
