"""Count, sum, mean, variance, minimum and maximum that merge exactly and stably.

One class serves two users: the `Sum`/`Mean`/`StdDev`/`Min`/`Max` actions
(one *scalar* set of moments over every value of a column) and hepflow.ml's
normalisation (one set *per feature column*, over the unmasked entries only).
Both merge chunk results in whatever order the reduction tree takes, so the
merge has to be associative up to rounding and must not lose precision over
billions of entries: it is Chan, Golub and LeVeque's pairwise update of the
mean and of M2 (the sum of squared deviations from the mean), which never
subtracts two large sums of squares.

Every field is a numpy array: shape `()` for scalar moments, `(features,)`
for per-feature ones, so one code path does both. Integer columns keep
integer sums, minima and maxima (int64), as ROOT's `Sum` of an integer
column is an integer. Values may carry weights (event weights, negative ones
included), as ROOT's `TStatistic`: the update is the same with the summed
weight in place of the count, and unit weights give the unweighted numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The statistics `Moments.value` returns, named as RDataFrame's actions.
STATISTICS: tuple[str, ...] = ("Sum", "Mean", "StdDev", "Min", "Max")

Array = npt.NDArray[Any]


def _zeros_int() -> Array:
    return np.zeros((), np.int64)


def _zeros_float() -> Array:
    return np.zeros((), np.float64)


def _inf() -> Array:
    return np.full((), np.inf)


def _minus_inf() -> Array:
    return np.full((), -np.inf)


@dataclass(frozen=True, slots=True, eq=False)
class Moments:
    """Moments of some values: `Moments()` is the scalar moments of no values.

    `n`: entries counted (int64); `weight`/`weight2`: the sum of their weights
    and of the squared weights (both `n` without weights); `total`: the sum of
    weight x value (without weights the plain sum: int64 for integer values,
    else float64); `mean` and `m2` (float64): weighted mean and weighted sum of
    squared deviations from it; `lo`/`hi`: minimum and maximum value
    (+inf/-inf while `n` is 0).
    """

    n: Array = field(default_factory=_zeros_int)
    total: Array = field(default_factory=_zeros_int)
    mean: Array = field(default_factory=_zeros_float)
    m2: Array = field(default_factory=_zeros_float)
    lo: Array = field(default_factory=_inf)
    hi: Array = field(default_factory=_minus_inf)
    weight: Array = field(default_factory=_zeros_float)
    weight2: Array = field(default_factory=_zeros_float)

    @classmethod
    def empty(cls, width: int | None = None) -> Moments:
        """The moments of no values: scalar (`width=None`) or for `width` features."""
        shape: tuple[int, ...] = () if width is None else (width,)
        return cls(np.zeros(shape, np.int64), np.zeros(shape, np.float64),
                   np.zeros(shape, np.float64), np.zeros(shape, np.float64),
                   np.full(shape, np.inf), np.full(shape, -np.inf),
                   np.zeros(shape, np.float64), np.zeros(shape, np.float64))

    @classmethod
    def of(cls, values: npt.ArrayLike, valid: npt.ArrayLike | None = None,
           weights: npt.ArrayLike | None = None) -> Moments:
        """Moments of one chunk's values, optionally weighted.

        Without `valid`: scalar moments of all the values (any shape, flattened;
        booleans count as 0/1, float32 is promoted to float64), `weights` one
        per value. With `valid`, a boolean array of the shape of a 2-D `values`
        (rows x features): one set of moments per feature column, over the
        entries where `valid` is True (padded slots of jagged features are left
        out that way), `weights` one per row.
        """
        array = np.asarray(values)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if valid is None:
            if w is not None and w.size != array.size:
                raise ValueError(f"{w.size} weights for {array.size} values: give one "
                                 "weight per value")
            return cls._scalar(array.ravel(), None if w is None else w.ravel())
        mask = np.asarray(valid, dtype=bool)
        if array.ndim != 2 or mask.shape != array.shape:
            raise ValueError(f"per-feature moments need 2-D values and a mask of the same "
                             f"shape, got values {array.shape} and mask {mask.shape}")
        if w is not None and w.shape != (array.shape[0],):
            raise ValueError(f"{w.size} weights for {array.shape[0]} rows: give one weight "
                             "per row")
        x = array.astype(np.float64)
        per_entry = mask * (1.0 if w is None else w[:, None])
        weight = per_entry.sum(axis=0)
        total = np.where(mask, x * per_entry, 0.0).sum(axis=0)
        mean = np.divide(total, weight, out=np.zeros_like(total), where=weight != 0)
        dev = np.where(mask, x - mean, 0.0)
        return cls(mask.sum(axis=0).astype(np.int64), total, mean,
                   (per_entry * dev * dev).sum(axis=0),
                   np.where(mask, x, np.inf).min(axis=0, initial=np.inf),
                   np.where(mask, x, -np.inf).max(axis=0, initial=-np.inf),
                   weight, (per_entry * per_entry).sum(axis=0))

    @classmethod
    def _scalar(cls, values: Array, w: Array | None) -> Moments:
        if values.dtype == np.bool_:
            values = values.astype(np.int64)
        integer = np.issubdtype(values.dtype, np.integer)
        if values.size == 0:
            return cls() if integer and w is None else cls.empty()
        x = values.astype(np.float64, copy=False)
        if integer:
            lo, hi = np.asarray(values.min(), np.int64), np.asarray(values.max(), np.int64)
        else:
            lo, hi = np.asarray(x.min()), np.asarray(x.max())
        if w is None:
            weight = weight2 = float(values.size)
            total = values.sum(dtype=np.int64) if integer else x.sum()
            mean = x.mean()
            m2 = ((x - mean) ** 2).sum()
        else:
            weight, weight2 = w.sum(), (w * w).sum()
            total = (w * x).sum()
            mean = total / weight if weight != 0 else 0.0
            m2 = (w * (x - mean) ** 2).sum()
        return cls(np.asarray(values.size, np.int64), np.asarray(total),
                   np.asarray(mean, np.float64), np.asarray(m2, np.float64), lo, hi,
                   np.asarray(weight, np.float64), np.asarray(weight2, np.float64))

    @property
    def shape(self) -> tuple[int, ...]:
        """`()` for scalar moments, `(features,)` for per-feature ones."""
        return tuple(self.n.shape)

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of values (Chan et al.'s pairwise update).

        The other side's share of the summed weight moves the mean; M2 gains
        both M2s and the spread between the two means. With unit weights the
        share is its share of the entries.
        """
        if other.shape != self.shape:
            raise ValueError(f"cannot merge moments of shape {self.shape} with {other.shape}")
        weight = self.weight + other.weight
        share = np.divide(other.weight, weight, out=np.zeros(weight.shape, np.float64),
                          where=weight != 0)
        delta = other.mean - self.mean
        mean = self.mean + delta * share
        m2 = self.m2 + other.m2 + delta * delta * self.weight * share
        return Moments(self.n + other.n, self.total + other.total, np.asarray(mean),
                       np.asarray(m2), self._extreme(other, np.minimum, "lo"),
                       self._extreme(other, np.maximum, "hi"), weight,
                       self.weight2 + other.weight2)

    def _extreme(self, other: Moments, pick: np.ufunc, name: str) -> Array:
        # An empty side's +-inf must not turn an integer minimum into a float.
        mine, theirs = getattr(self, name), getattr(other, name)
        if not other.n.any():
            return np.asarray(mine)
        if not self.n.any():
            return np.asarray(theirs)
        return np.asarray(pick(mine, theirs))

    def variance(self, ddof: int = 0) -> Array:
        """M2 over `weight - ddof x weight2 / weight` (0 where that is not positive).

        Without weights that is `n - ddof`: `ddof=1` is the sample variance.
        With weights, `ddof=1` is the unbiased estimate for reliability
        weights, which does not change when every weight is scaled.
        """
        correction = np.divide(self.weight2, self.weight,
                               out=np.zeros(self.weight.shape, np.float64),
                               where=self.weight != 0)
        denominator = self.weight - ddof * correction
        return np.asarray(np.divide(self.m2, denominator,
                                    out=np.zeros(self.m2.shape, np.float64),
                                    where=denominator > 0))

    @property
    def std(self) -> Array:
        """Population standard deviation (divides by n): what a normaliser scales by."""
        return np.sqrt(self.variance(0))

    def value(self, what: str) -> float | int:
        """The statistic of that name (scalar moments only), integers kept exact.

        `StdDev` is the sample standard deviation (n - 1), as ROOT's; an empty
        column gives Sum 0, Mean 0, StdDev 0, Min +inf and Max -inf. The `Stat`
        action turns this into the double ROOT's action returns.
        """
        if self.shape != ():
            raise ValueError(f"{what} of per-feature moments (shape {self.shape}): "
                             "take the arrays instead")
        empty = int(self.n) == 0
        if what == "Sum":
            return self.total.item()  # type: ignore[no-any-return]
        if what == "Mean":
            return 0.0 if empty else float(self.mean)
        if what == "StdDev":
            return float(np.sqrt(self.variance(1)))
        if what == "Min":
            return float("inf") if empty else self.lo.item()
        if what == "Max":
            return float("-inf") if empty else self.hi.item()
        raise ValueError(f"unknown statistic {what!r}: one of Sum, Mean, StdDev, Min, Max")


__all__ = ["STATISTICS", "Moments"]
