"""Histo1D/2D/3D, HistoND and Profile1D/2D: `hist.Hist` partials merged by addition.

Histogram models accept RDataFrame's tuple forms: `(name, title, nbins, lo, hi)`
or `(name, title, nbins, edges)`; 2D and 3D models append the y and z axes.
N-dimensional models take ROOT's `THnDModel` form: `(name, title, ndim, nbins_list,
lo_list, hi_list)` or `(name, title, ndim, nbins_list, edges_list)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepflow.errors import EvaluationError, PlanError
from hepflow.plan.actions.base import Action, flat_values, flat_weights
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode
from hepflow.results.histograms import AxisModel, HistKind, HistModel, Histogram, empty_hist

_AXIS_NAMES = ("x", "y", "z")
_MAX_FIXED_DIM = len(_AXIS_NAMES)


def _axis(spec: Sequence[Any], what: str) -> tuple[AxisModel, int]:
    """Parse one axis from the front of `spec`; return it and how many items it used."""
    if not spec:
        raise PlanError(f"the histogram model is missing its {what} axis")
    nbins = spec[0]
    if not isinstance(nbins, int) or isinstance(nbins, bool):
        raise PlanError(f"the {what} axis must start with an integer number of bins, "
                        f"got {nbins!r}")
    if len(spec) >= 2 and isinstance(spec[1], Sequence) and not isinstance(spec[1], str):
        edges = tuple(float(e) for e in spec[1])
        if len(edges) != nbins + 1:
            raise PlanError(f"{nbins} bins need {nbins + 1} edges, got {len(edges)}")
        return AxisModel(nbins, edges[0], edges[-1], edges), 2
    if len(spec) < 3:
        raise PlanError(f"the {what} axis needs (nbins, lo, hi) or (nbins, edges)")
    try:
        lo, hi = float(spec[1]), float(spec[2])
    except (TypeError, ValueError):
        raise PlanError(f"the {what} axis limits must be numbers, got {spec[1]!r}, "
                        f"{spec[2]!r}") from None
    return AxisModel(nbins, lo, hi), 3


def parse_model(model: Any, ndim: int, profile: bool = False) -> HistModel:
    """Accept RDataFrame's model tuples (or a HistModel) for a `ndim`-dimensional histogram.

    A profile's model may end with ROOT's range of the profiled values and its
    option (TProfile1DModel's `ylow, yup, option`, TProfile2DModel's `zlow, zup,
    option`); only the empty option is accepted.
    """
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
    for what in _AXIS_NAMES[:ndim]:
        axis, used = _axis(rest, what)
        axes.append(axis)
        rest = rest[used:]
    value_range = _value_range(rest) if profile and rest else None
    if rest and not profile:
        raise PlanError(f"unexpected extra items in the histogram model: {rest!r}")
    return HistModel(name, title, tuple(axes), value_range)


def _value_range(rest: list[Any]) -> tuple[float, float] | None:
    """A profile model's trailing `(low, up[, option])`; low == up means no range, as ROOT."""
    if len(rest) not in (2, 3) or any(isinstance(v, (str, bool)) or not isinstance(v, (int, float))
                                      for v in rest[:2]):
        raise PlanError(f"a profile model ends with (low, up) or (low, up, option) of the "
                        f"profiled values, got {rest!r}")
    if len(rest) == 3 and rest[2] != "":
        raise PlanError(f"profile option {rest[2]!r} is not supported; hepflow's profiles "
                        "give the mean per bin (ROOT's default option \"\")")
    low, up = float(rest[0]), float(rest[1])
    return None if low == up else (low, up)


def parse_nd_model(model: Any) -> HistModel:
    """Accept ROOT's `THnDModel` tuples (or a HistModel) for `HistoND`.

    `(name, title, ndim, [nbins...], [lo...], [hi...])` gives regular axes and
    `(name, title, ndim, [nbins...], [[edges...]...])` variable ones, as the two
    constructors of `ROOT::RDF::THnDModel`.
    """
    if isinstance(model, HistModel):
        return model
    if not isinstance(model, Sequence) or isinstance(model, str) or len(model) not in (5, 6):
        raise PlanError("a HistoND model is (name, title, ndim, nbins_list, lo_list, hi_list) "
                        "or (name, title, ndim, nbins_list, edges_list), as ROOT's THnDModel")
    name, title, ndim = str(model[0]), str(model[1]), model[2]
    if not isinstance(ndim, int) or isinstance(ndim, bool) or ndim < 1:
        raise PlanError(f"the HistoND dimension must be a positive integer, got {ndim!r}")
    lists = [_sequence(item, ndim, what) for item, what in
             zip(model[3:], ("nbins", "lo" if len(model) == 6 else "edges", "hi"),
                 strict=False)]
    if len(model) == 6:
        specs = [[n, lo, hi] for n, lo, hi in zip(*lists, strict=True)]
    else:
        specs = [[n, edges] for n, edges in zip(*lists, strict=True)]
    axes = tuple(_axis(spec, f"axis {i}")[0] for i, spec in enumerate(specs))
    return HistModel(name, title, axes)


def _sequence(item: Any, ndim: int, what: str) -> list[Any]:
    if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != ndim:
        raise PlanError(f"the HistoND model needs a list of {ndim} {what} (one per axis), "
                        f"got {item!r}")
    return list(item)


@dataclass(frozen=True, slots=True, eq=False)
class Histo(Action[Histogram, Histogram]):
    """A histogram of `values` (one column per axis), or a profile of values[-1] in the others.

    Values are filled in float64 even when branches are float32; collections fill
    every element, and a weight per event is broadcast to the elements.
    """

    node: PlanNode
    model: HistModel
    values: tuple[str, ...]
    weight: str | None = None
    kind: HistKind = "hist"

    def columns(self) -> tuple[str, ...]:
        return self.values + ((self.weight,) if self.weight else ())

    @property
    def axes_columns(self) -> tuple[str, ...]:
        return self.values[:-1] if self.kind == "profile" else self.values

    @property
    def label(self) -> str:
        n = len(self.axes_columns)
        if self.kind == "profile":
            what = f"Profile{n}D"
        else:
            what = f"Histo{n}D" if n <= _MAX_FIXED_DIM else "HistoND"
        return f"{what}({self.model.name!r})"

    def empty(self) -> Histogram:
        return empty_hist(self.model, self.axes_columns, self.weight is not None, self.kind)

    def fill(self, ctx: FillContext) -> Histogram:
        columns = [ctx.column(self.node, c) for c in self.values]
        weight = ctx.column(self.node, self.weight) if self.weight else None
        jagged = [isinstance(c, ak.Array) for c in columns]
        if any(jagged) and not all(jagged):
            raise EvaluationError(f"{self.label}: cannot mix per-event values and collections "
                                  f"({', '.join(self.values)}) on {ctx.describe()}")
        data = [flat_values(c).astype(np.float64, copy=False) for c in columns]
        h = self.empty()
        kwargs: dict[str, Any] = {}
        if weight is not None:
            kwargs["weight"] = flat_weights(columns[0], weight, self.label, ctx)
        if self.kind == "profile" and self.model.value_range is not None:
            low, up = self.model.value_range
            keep = (data[-1] >= low) & (data[-1] <= up)  # TProfile::Fill's inclusive range
            data = [d[keep] for d in data]
            kwargs = {k: v[keep] for k, v in kwargs.items()}
        if self.kind == "profile":
            h.fill(*data[:-1], sample=data[-1], **kwargs)
        else:
            h.fill(*data, **kwargs)
        return h

    def merge(self, a: Histogram, b: Histogram) -> Histogram:
        merged: Histogram = a + b
        return merged

    def finish(self, partial: Histogram) -> Histogram:
        return partial


__all__ = ["Histo", "parse_model", "parse_nd_model"]
