"""Under- and oversampling of a two-class selection, as ROOT's `RDataLoader` does it.

ROOT 6.40's `RDataLoader(..., sampling_type, sampling_ratio, replacement)`
takes two dataframes, the one with more entries being the majority class
(ties: the second), and, following its `RSampler`:

- "undersampling": every minority entry once, plus
  `int(n_minority / sampling_ratio)` majority entries drawn without
  replacement (an error when there are too few) or, with `replacement=True`,
  with replacement;
- "oversampling": every majority entry once, plus
  `int(sampling_ratio * n_majority)` minority entries drawn with replacement
  (`replacement` applies to undersampling only).

Here the two classes are the label's values 0 and 1 within the split, and
the draw is global over the chunks (so the ratio holds for the epoch, not per
chunk): the client counts each chunk's classes once, draws the indices from a
generator seeded by `set_seed` and the epoch (a new draw every epoch,
reproducible), and keeps, of each chunk as it arrives, the drawn rows. Unlike
ROOT, nothing needs `load_eager`. Without shuffling, the draw is ROOT's
deterministic one: the first indices, in order, wrapping around.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hepflow.ml.batching import Arrays
from hepflow.ml.errors import PlanError

SAMPLING_TYPES = ("", "undersampling", "oversampling")

# a chunk's pick per class: None keeps every row of the class, else indices into its rows
Picks = tuple[np.ndarray | None, np.ndarray | None]


def class_counts(arrays: Arrays) -> np.ndarray:
    """Rows of label 0, of label 1 and of any other label value in one chunk."""
    y = arrays[1]
    zeros = int(np.count_nonzero(y == 0))
    ones = int(np.count_nonzero(y == 1))
    return np.array([zeros, ones, len(y) - zeros - ones], np.int64)


@dataclass(frozen=True, slots=True)
class Sampling:
    """ROOT `RDataLoader`'s `sampling_type`, `sampling_ratio` and `replacement`."""

    sampling_type: str = ""
    sampling_ratio: float = 1.0
    replacement: bool = False

    def __post_init__(self) -> None:
        if self.sampling_type not in SAMPLING_TYPES:
            raise PlanError(f"sampling_type must be 'undersampling', 'oversampling' or '' "
                            f"(none), got {self.sampling_type!r}")
        ratio = self.sampling_ratio
        if (isinstance(ratio, bool) or not isinstance(ratio, int | float)
                or not math.isfinite(ratio) or ratio <= 0):
            raise PlanError(f"sampling_ratio must be a number > 0, got {ratio!r}")
        if not isinstance(self.replacement, bool):
            raise PlanError(f"replacement must be True or False, got {self.replacement!r}")

    @property
    def active(self) -> bool:
        return bool(self.sampling_type)

    def check_counts(self, counts: np.ndarray) -> None:
        """Refuse a label that is not 0/1 or a class with no entries, before any batch."""
        total = counts.sum(axis=0)
        if total[2]:
            raise PlanError(f"sampling_type={self.sampling_type!r} needs a label of 0 or 1 "
                            f"(two classes); {int(total[2])} events have another value")
        if not total[0] or not total[1]:
            raise PlanError(f"sampling_type={self.sampling_type!r} needs events of both "
                            f"classes, got {int(total[0])} of label 0 and {int(total[1])} "
                            f"of label 1")
        major, minor = _major_minor(total)
        if (self.sampling_type == "undersampling" and not self.replacement
                and self._drawn(total, major, minor) > total[major]):
            raise PlanError(f"sampling_ratio {self.sampling_ratio} is too low: not enough "
                            f"entries in the majority class to sample from. Choose "
                            f"sampling_ratio >= {total[minor] / total[major]:.4g} or set "
                            f"replacement=True")

    def _drawn(self, total: np.ndarray, major: int, minor: int) -> int:
        """How many entries the draw takes (ROOT truncates towards zero)."""
        if self.sampling_type == "undersampling":
            return int(total[minor] / self.sampling_ratio)
        return int(self.sampling_ratio * total[major])

    def rows(self, counts: np.ndarray) -> int:
        """Events of one epoch after sampling: the kept class whole, plus the draw."""
        total = counts.sum(axis=0)
        major, minor = _major_minor(total)
        kept = minor if self.sampling_type == "undersampling" else major
        return int(total[kept]) + self._drawn(total, major, minor)

    def plan(self, counts: np.ndarray, rng: np.random.Generator | None) -> list[Picks]:
        """Each chunk's picks for one epoch (`rng` None: unshuffled, ROOT's fixed draw)."""
        total = counts.sum(axis=0)
        major, minor = _major_minor(total)
        drawn_class = major if self.sampling_type == "undersampling" else minor
        pool = int(total[drawn_class])
        n = self._drawn(total, major, minor)
        if rng is None:
            indices = np.arange(n, dtype=np.int64) % pool
        elif self.sampling_type == "undersampling" and not self.replacement:
            indices = np.sort(rng.permutation(pool)[:n])
        else:
            indices = np.sort(rng.integers(0, pool, n))
        offsets = np.concatenate([[0], np.cumsum(counts[:, drawn_class])])
        bounds = np.searchsorted(indices, offsets)
        picks: list[Picks] = []
        for c in range(len(counts)):
            local = indices[bounds[c]:bounds[c + 1]] - offsets[c]
            picks.append((local, None) if drawn_class == 0 else (None, local))
        return picks


def _major_minor(total: np.ndarray) -> tuple[int, int]:
    """ROOT's choice: the class with more entries is the majority, the second on a tie."""
    return (0, 1) if total[0] > total[1] else (1, 0)


def select(arrays: Arrays, picks: Picks) -> Arrays:
    """The picked rows of a chunk, in entry order (a row drawn twice comes twice)."""
    y = arrays[1]
    rows = []
    for label, pick in enumerate(picks):
        of_class = np.flatnonzero(y == label)
        rows.append(of_class if pick is None else of_class[pick])
    order = np.sort(np.concatenate(rows), kind="stable")
    return (np.take(arrays[0], order, axis=0), np.take(arrays[1], order),
            np.take(arrays[2], order))


__all__ = ["SAMPLING_TYPES", "Picks", "Sampling", "class_counts", "select"]
