"""Normalisation fitted in one distributed pass, and the summary that pass produces.

Each chunk contributes mergeable statistics of the training split only (the
model must not learn from validation or test events, not even their means):
per value column the count, mean and sum of squared deviations of the *real*
entries (padded slots are masked out, so four-jet padding does not drag the
jet pt mean towards zero), minimum and maximum; per split the events, per
class the events and summed weights. Merging uses Chan's parallel update, so
the result does not depend on chunking or merge order beyond rounding.
The moments are `hepflow.results.moments.Moments`, per feature column (the
same class the Mean/StdDev actions use, re-exported here for hepflow.ml).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hepflow.ml.errors import PlanError
from hepflow.ml.split import SPLIT_NAMES, TRAIN
from hepflow.results.moments import Moments

Method = Literal["standard", "minmax", "none"]


@dataclass
class Summary:
    """What the preparation pass learned: moments, class counts, events per chunk and split."""

    moments: Moments
    events: np.ndarray  # (3,) events per split
    class_events: dict[int, np.ndarray] = field(default_factory=dict)  # class -> (3,)
    class_weights: dict[int, np.ndarray] = field(default_factory=dict)  # class -> (3,)
    negative: int = 0  # events with a negative weight (before the policy)
    dropped: int = 0  # events removed by negative_weights="drop"
    chunks: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    #: A regression target's moments on the training split (scalar), else None.
    target: Moments | None = None

    def merge(self, other: Summary) -> Summary:
        events = {k: self.class_events.get(k, np.zeros(3)) + other.class_events.get(
            k, np.zeros(3)) for k in set(self.class_events) | set(other.class_events)}
        weights = {k: self.class_weights.get(k, np.zeros(3)) + other.class_weights.get(
            k, np.zeros(3)) for k in set(self.class_weights) | set(other.class_weights)}
        target = self.target if other.target is None else other.target \
            if self.target is None else self.target.merge(other.target)
        return Summary(self.moments.merge(other.moments), self.events + other.events,
                       events, weights, self.negative + other.negative,
                       self.dropped + other.dropped, {**self.chunks, **other.chunks}, target)

    @property
    def classes(self) -> list[int]:
        return sorted(k for k, v in self.class_events.items() if v.sum() > 0)

    def split_events(self) -> dict[str, int]:
        return {name: int(n) for name, n in zip(SPLIT_NAMES, self.events, strict=True)}

    def check(self, regression: bool = False) -> None:
        """Fail before training when the data cannot train a classifier (or a regression)."""
        if self.events[TRAIN] == 0:
            raise PlanError("no events in the training split: check the selection and the "
                            "Split fractions")
        if regression:
            return
        train_classes = [k for k, v in self.class_events.items() if v[TRAIN] > 0]
        if len(train_classes) < 2:
            found = ", ".join(str(k) for k in train_classes) or "none"
            raise PlanError(f"the label has a single class in the training split (class "
                            f"{found}); a classifier needs events of at least two classes: "
                            "check the label column or the per-sample classes")
        if any(k < 0 for k in train_classes):
            raise PlanError(f"label classes must be integers >= 0, found {train_classes}")


def merge_all(items: Iterable[Summary]) -> Summary:
    out: Summary | None = None
    for item in items:
        out = item if out is None else out.merge(item)
    if out is None:
        raise PlanError("nothing to summarise: the dataframe has no chunks")
    return out


@dataclass(frozen=True)
class Normalisation:
    """Per value column: x -> (x - shift) / scale, masked slots set to the pad value.

    `standard`: shift = mean, scale = standard deviation; `minmax`: shift =
    minimum, scale = maximum - minimum (values land in [0, 1] on the training
    data); `none`: the identity. A constant column gets scale 1.
    """

    method: Method
    names: tuple[str, ...]
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, moments: Moments, names: Sequence[str], method: Method) -> Normalisation:
        width = len(names)
        if method == "standard":
            shift, scale = moments.mean.copy(), moments.std
        elif method == "minmax":
            shift = np.where(np.isfinite(moments.lo), moments.lo, 0.0)
            scale = np.where(np.isfinite(moments.hi), moments.hi, 0.0) - shift
        elif method == "none":
            shift, scale = np.zeros(width), np.ones(width)
        else:
            raise PlanError(f"normalisation must be 'standard', 'minmax' or 'none', got "
                            f"{method!r}")
        scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        return cls(method, tuple(names), shift.astype(np.float64), scale.astype(np.float64))

    def apply(self, values: np.ndarray, valid: np.ndarray | None, pads: np.ndarray) -> np.ndarray:
        """Normalised float32 values; slots that are not valid get their pad value.

        `valid` None: every slot is (no jagged group). Computed in one new array,
        in place, and the identity skipped: this runs per chunk as batches stream.
        """
        out = values.astype(np.float32)  # a copy: a prepared block's values are reused
        if self.shift.any():
            out -= self.shift.astype(np.float32)
        if (self.scale != 1.0).any():
            out /= self.scale.astype(np.float32)
        if valid is not None:
            np.copyto(out, np.broadcast_to(pads.astype(np.float32), out.shape), where=~valid)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "names": list(self.names),
                "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "normalisation") -> Normalisation:
        """What `to_dict` wrote, checked: a bundle file is untrusted input."""
        if not isinstance(data, Mapping) or set(data) != {"method", "names", "shift", "scale"}:
            raise PlanError(f"{where} must be a mapping of exactly method, names, shift and "
                            f"scale, got {_brief(data)}")
        if data["method"] not in ("standard", "minmax", "none"):
            raise PlanError(f"{where}.method: unknown normalisation {data['method']!r}")
        names = data["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PlanError(f"{where}.names must be a list of column names")
        arrays = []
        for key in ("shift", "scale"):
            values = data[key]
            if not isinstance(values, list) or len(values) != len(names) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise PlanError(f"{where}.{key} must be a list of {len(names)} numbers")
            try:
                array = np.asarray(values, np.float64)
            except OverflowError as err:
                raise PlanError(f"{where}.{key} holds a number too large for a float") from err
            if not np.all(np.isfinite(array)) or (key == "scale" and np.any(array <= 0)):
                raise PlanError(f"{where}.{key} must hold finite numbers"
                                + (" > 0" if key == "scale" else ""))
            arrays.append(array)
        return cls(data["method"], tuple(names), arrays[0], arrays[1])


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["Method", "Moments", "Normalisation", "Summary", "merge_all"]
