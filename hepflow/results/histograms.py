"""hist.Hist objects built from RDataFrame-style models.

The model types live here, with the histograms they describe, so that the
results layer depends on nothing of the plan: a plan's histogram action holds
a `HistModel`, and this module turns it into an empty `hist.Hist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import hist

from hepflow.errors import PlanError
from hepflow.results.th1 import RootHist

HistKind = Literal["hist", "profile"]
#: A histogram of any storage (Double, Weight, Mean, WeightedMean).
Histogram: TypeAlias = hist.Hist[Any]


@dataclass(frozen=True, slots=True)
class AxisModel:
    """One axis: `nbins` regular bins in [lo, hi), or explicit variable `edges`."""

    nbins: int
    lo: float
    hi: float
    edges: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.edges is not None:
            if len(self.edges) < 2 or any(b <= a for a, b in zip(self.edges, self.edges[1:],
                                                                  strict=False)):
                raise PlanError("variable bin edges must be at least two increasing numbers")
        elif self.nbins < 1 or not self.hi > self.lo:
            raise PlanError(f"a histogram axis needs nbins >= 1 and lo < hi, got nbins="
                            f"{self.nbins}, lo={self.lo}, hi={self.hi}")


@dataclass(frozen=True, slots=True)
class HistModel:
    """Name, title and axes of a histogram, as in ROOT's TH1DModel/TH2DModel/TH3DModel."""

    name: str
    title: str
    axes: tuple[AxisModel, ...]
    #: A profile's (low, up) range of the profiled values, as TProfile's ylow/yup and
    #: TProfile2D's zlow/zup: values outside [low, up] are not filled (None: no range).
    value_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.value_range is not None and self.value_range[0] > self.value_range[1]:
            raise PlanError(f"a profile's value range needs low <= up, got "
                            f"{self.value_range}")


def _axis(model: AxisModel, name: str, label: str) -> hist.axis.AxesMixin:
    if model.edges is not None:
        return hist.axis.Variable(list(model.edges), name=name, label=label)
    return hist.axis.Regular(model.nbins, model.lo, model.hi, name=name, label=label)


def empty_hist(model: HistModel, columns: tuple[str, ...], weighted: bool,
               kind: HistKind = "hist") -> Histogram:
    """An empty histogram; under/overflow bins are kept, as ROOT keeps them.

    Histograms (not profiles) are `RootHist`: they keep ROOT's fill statistics
    and answer TH1's getters (`GetMean`, `GetEntries`, `Integral`, ...).
    """
    titles = [part.strip() for part in model.title.split(";")]
    axes = []
    seen: set[str] = set()
    for i, (axis, column) in enumerate(zip(model.axes, columns, strict=False)):
        label = titles[i + 1] if len(titles) > i + 1 and titles[i + 1] else column
        name = column if column not in seen else f"{column}_{i}"  # ROOT allows x vs x
        seen.add(name)
        axes.append(_axis(axis, name, label))
    if kind == "profile":
        storage: hist.storage.Storage = (hist.storage.WeightedMean() if weighted
                                         else hist.storage.Mean())
    else:
        storage = hist.storage.Weight() if weighted else hist.storage.Double()
    if kind == "profile":
        h: Histogram = hist.Hist(*axes, storage=storage, name=model.name,  # type: ignore[call-overload]
                                 label=titles[0] or model.name)
        return h
    root = RootHist(*axes, storage=storage,  # type: ignore[call-overload]
                    name=model.name, label=titles[0] or model.name)
    started: Histogram = root.start_stats()
    return started


__all__ = ["AxisModel", "HistKind", "HistModel", "Histogram", "empty_hist"]
