"""Booked actions: what a run must produce, each reading from one plan node.

Histogram models accept RDataFrame's tuple forms: `(name, title, nbins, lo, hi)`
or `(name, title, nbins, edges)`; 2D models append the y axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hepflow.errors import PlanError
from hepflow.plan.nodes import Filter, PlanNode


@dataclass(frozen=True, slots=True)
class AxisModel:
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
    """Name, title and axes of a 1D or 2D histogram, as in ROOT's TH1DModel/TH2DModel."""

    name: str
    title: str
    axes: tuple[AxisModel, ...]


def _axis(spec: Sequence[Any], what: str) -> tuple[AxisModel, int]:
    """Parse one axis from the front of `spec`; return it and how many items it used."""
    if not spec:
        raise PlanError(f"the histogram model is missing its {what} axis")
    nbins = spec[0]
    if not isinstance(nbins, int):
        raise PlanError(f"the {what} axis must start with an integer number of bins, "
                        f"got {nbins!r}")
    if len(spec) >= 2 and isinstance(spec[1], Sequence) and not isinstance(spec[1], str):
        edges = tuple(float(e) for e in spec[1])
        if len(edges) != nbins + 1:
            raise PlanError(f"{nbins} bins need {nbins + 1} edges, got {len(edges)}")
        return AxisModel(nbins, edges[0], edges[-1], edges), 2
    if len(spec) < 3:
        raise PlanError(f"the {what} axis needs (nbins, lo, hi) or (nbins, edges)")
    return AxisModel(nbins, float(spec[1]), float(spec[2])), 3


def parse_model(model: Any, ndim: int) -> HistModel:
    """Accept RDataFrame's model tuples (or a HistModel) for a `ndim`-dimensional histogram."""
    if isinstance(model, HistModel):
        if len(model.axes) != ndim:
            raise PlanError(f"expected a {ndim}D model, got {len(model.axes)}D")
        return model
    if isinstance(model, str):
        raise PlanError("a histogram model is a tuple like (name, title, nbins, lo, hi); "
                        "the first argument here looks like a column name")
    if not isinstance(model, Sequence) or len(model) < 3:
        raise PlanError("a histogram model is a tuple like (name, title, nbins, lo, hi)")
    name, title = str(model[0]), str(model[1])
    rest = list(model[2:])
    axes = []
    for what in ("x", "y")[:ndim]:
        axis, used = _axis(rest, what)
        axes.append(axis)
        rest = rest[used:]
    if rest:
        raise PlanError(f"unexpected extra items in the histogram model: {rest!r}")
    return HistModel(name, title, tuple(axes))


class Action:
    """Base of booked actions; `node` is the dataframe node it reads from."""

    __slots__ = ()
    node: PlanNode

    def columns(self) -> tuple[str, ...]:
        return ()

    @property
    def label(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True, eq=False)
class Count(Action):
    node: PlanNode


@dataclass(frozen=True, slots=True, eq=False)
class Stat(Action):
    """Sum, Mean, StdDev, Min or Max of a column (all elements of a collection column)."""

    node: PlanNode
    what: str
    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def label(self) -> str:
        return f"{self.what}({self.column})"


@dataclass(frozen=True, slots=True, eq=False)
class Histo(Action):
    """Histo1D, Histo2D or Profile1D (a profile has kind 'profile')."""

    node: PlanNode
    model: HistModel
    values: tuple[str, ...]
    weight: str | None = None
    kind: str = "hist"

    def columns(self) -> tuple[str, ...]:
        return self.values + ((self.weight,) if self.weight else ())

    @property
    def label(self) -> str:
        what = "Profile1D" if self.kind == "profile" else f"Histo{len(self.values)}D"
        return f"{what}({self.model.name!r})"


@dataclass(frozen=True, slots=True, eq=False)
class Take(Action):
    node: PlanNode
    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True, slots=True, eq=False)
class AsNumpy(Action):
    node: PlanNode
    names: tuple[str, ...]

    def columns(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True, slots=True, eq=False)
class Display(Action):
    node: PlanNode
    names: tuple[str, ...]
    nrows: int = 5

    def columns(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True, slots=True, eq=False)
class Report(Action):
    """The cutflow of the named filters up to `node` (all of them when `node` is the source)."""

    node: PlanNode
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot(Action):
    node: PlanNode
    treename: str
    filename: str
    names: tuple[str, ...]
    compression: str = "ZSTD"

    def columns(self) -> tuple[str, ...]:
        return self.names


__all__ = ["Action", "AsNumpy", "AxisModel", "Count", "Display", "HistModel", "Histo",
           "Report", "Snapshot", "Stat", "Take", "parse_model"]
