"""A weighted running statistic with ROOT's `TStatistic` accessors, mergeable exactly.

The second moment is kept about the mean and combined with the weighted form
of Chan et al.'s update (as `TStatistic::Merge` does), so the mean and RMS
stay accurate however many chunks are merged and in whatever shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Statistic:
    """Entries, sum of weights, sum of squared weights, weighted mean and second moment."""

    name: str = ""
    n: int = 0
    w: float = 0.0
    w2: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray, weights: np.ndarray | None = None,
           name: str = "") -> Statistic:
        """The statistic of one chunk's values (weights default to 1)."""
        x = np.asarray(values, dtype=np.float64)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
        total = float(w.sum())
        if x.size == 0 or total == 0.0:
            return cls(name, int(x.size), total, float((w * w).sum()))
        mean = float((w * x).sum() / total)
        m2 = float((w * (x - mean) ** 2).sum())
        return cls(name, int(x.size), total, float((w * w).sum()), mean, m2)

    def merge(self, other: Statistic) -> Statistic:
        w = self.w + other.w
        if self.w == 0.0 or other.w == 0.0 or w == 0.0:
            base = other if self.w == 0.0 else self
            return Statistic(self.name, self.n + other.n, w, self.w2 + other.w2,
                             base.mean, base.m2)
        delta = other.mean - self.mean
        mean = self.mean + delta * other.w / w
        m2 = self.m2 + other.m2 + delta * delta * self.w * other.w / w
        return Statistic(self.name, self.n + other.n, w, self.w2 + other.w2, mean, m2)

    # ROOT's TStatistic accessors -------------------------------------------------------

    def GetName(self) -> str:
        return self.name

    def GetN(self) -> int:
        return self.n

    def GetW(self) -> float:
        return self.w

    def GetW2(self) -> float:
        return self.w2

    def GetNeff(self) -> float:
        return self.w * self.w / self.w2 if self.w2 > 0 else 0.0

    def GetMean(self) -> float:
        return self.mean if self.w > 0 else 0.0

    def GetVar(self) -> float:
        """Variance with ROOT's N/(N-1) correction (0 for fewer than two entries)."""
        if self.w <= 0 or self.n <= 1:
            return 0.0
        return self.m2 / self.w * (self.n / (self.n - 1.0))

    def GetRMS(self) -> float:
        return math.sqrt(self.GetVar())

    def GetMeanErr(self) -> float:
        neff = self.GetNeff()
        return math.sqrt(self.GetVar() / neff) if self.w > 0 and neff > 0 else 0.0

    def __str__(self) -> str:
        return (f"OBJ: TStatistic {self.name} = {self.GetMean():.6g} +- "
                f"{self.GetMeanErr():.4g} \t RMS = {self.GetRMS():.6g} \t Count = {self.n}"
                f" \t Weights = {self.w:.6g}")


__all__ = ["Statistic"]
