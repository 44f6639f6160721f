"""Count, sum, mean, variance, min and max that merge exactly and stably.

Chunks are merged with Chan et al.'s pairwise update, so means and standard
deviations stay accurate over billions of entries. Integer sums stay integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Moments:
    n: int = 0
    total: float | int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float | int = math.inf
    hi: float | int = -math.inf

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments of one chunk's values (float32 promoted to float64)."""
        if values.dtype == np.bool_:
            values = values.astype(np.int64)
        if values.size == 0:
            zero: float | int = 0 if np.issubdtype(values.dtype, np.integer) else 0.0
            return cls(total=zero)
        as_float = values.astype(np.float64, copy=False)
        mean = float(as_float.mean())
        m2 = float(((as_float - mean) ** 2).sum())
        if np.issubdtype(values.dtype, np.integer):
            total: float | int = int(values.sum(dtype=np.int64))
            lo: float | int = int(values.min())
            hi: float | int = int(values.max())
        else:
            total = float(as_float.sum())
            lo, hi = float(as_float.min()), float(as_float.max())
        return cls(int(values.size), total, mean, m2, lo, hi)

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return Moments(self.n, self.total + other.total, self.mean, self.m2, self.lo,
                           self.hi) if self.n else Moments(total=self.total + other.total)
        if self.n == 0:
            return Moments(other.n, self.total + other.total, other.mean, other.m2, other.lo,
                           other.hi)
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Moments(n, self.total + other.total, mean, m2, min(self.lo, other.lo),
                       max(self.hi, other.hi))

    def value(self, what: str) -> float | int:
        """The statistic RDataFrame's action of that name returns."""
        if what == "Sum":
            return self.total
        if what == "Mean":
            return self.mean if self.n else 0.0
        if what == "StdDev":
            return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        if what == "Min":
            return self.lo if self.n else math.inf
        if what == "Max":
            return self.hi if self.n else -math.inf
        raise ValueError(what)


__all__ = ["Moments"]
