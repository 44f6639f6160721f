"""The deterministic train/validation/test split, by event number.

Why a hash of the event number and not a random draw or the entry number:
the same event lands in the same split whatever the chunking, the number of
workers, the filters applied before it or the order in which files are listed,
so a model evaluated on "test" has never seen those events, in any rerun.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepflow.ml.errors import PlanError

TRAIN, VALIDATION, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "validation", "test")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True, slots=True)
class Split:
    """Fractions of events for training, validation (early stopping) and test (AUC).

    `column` holds a per-event identifier (NanoAOD's `event`; `rdfentry_`
    for files without one); `seed` changes the assignment reproducibly.
    """

    train: float = 0.6
    validation: float = 0.2
    test: float = 0.2
    column: str = "event"
    seed: int = 0

    def __post_init__(self) -> None:
        parts = (self.train, self.validation, self.test)
        if any(isinstance(p, bool) or not isinstance(p, (int, float, np.floating))
               or not np.isfinite(p) for p in parts):
            raise PlanError(f"Split fractions must be numbers, got {parts}")
        if not isinstance(self.column, str) or not self.column:
            raise PlanError(f"Split(column=...) must be a column name, got {self.column!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise PlanError(f"Split(seed=...) must be an integer, got {self.seed!r}")
        if any(p < 0 for p in parts) or not np.isclose(sum(parts), 1.0):
            raise PlanError(f"Split fractions must be >= 0 and add up to 1, got {parts}")
        if self.train <= 0:
            raise PlanError("Split: the training fraction must be > 0")

    def assign(self, ids: np.ndarray) -> np.ndarray:
        """Split index (0 train, 1 validation, 2 test) for each event identifier."""
        u = uniform(ids, self.seed)
        out = np.full(u.shape, TEST, dtype=np.int8)
        out[u < self.train + self.validation] = VALIDATION
        out[u < self.train] = TRAIN
        return out

    def to_dict(self) -> dict[str, object]:
        return {"train": self.train, "validation": self.validation, "test": self.test,
                "column": self.column, "seed": self.seed}


def uniform(ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """A number in [0, 1) per identifier, from the splitmix64 finaliser (uint64 wraps)."""
    x = np.asarray(ids).astype(np.uint64, copy=True)
    x += np.uint64(((seed + 1) * int(_GOLDEN)) & 0xFFFFFFFFFFFFFFFF)  # array ops wrap
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


__all__ = ["SPLIT_NAMES", "TEST", "TRAIN", "VALIDATION", "Split", "uniform"]
