"""hist.Hist objects built from RDataFrame-style models."""

from __future__ import annotations

import hist

from hepflow.plan.actions import AxisModel, HistModel


def _axis(model: AxisModel, name: str, label: str) -> hist.axis.AxesMixin:
    if model.edges is not None:
        return hist.axis.Variable(list(model.edges), name=name, label=label)
    return hist.axis.Regular(model.nbins, model.lo, model.hi, name=name, label=label)


def empty_hist(model: HistModel, columns: tuple[str, ...], weighted: bool,
               kind: str = "hist") -> hist.Hist:
    """An empty histogram; under/overflow bins are kept, as ROOT keeps them."""
    titles = [part.strip() for part in model.title.split(";")]
    axes = []
    for i, (axis, column) in enumerate(zip(model.axes, columns, strict=False)):
        label = titles[i + 1] if len(titles) > i + 1 and titles[i + 1] else column
        axes.append(_axis(axis, column, label))
    if kind == "profile":
        storage: hist.storage.Storage = (hist.storage.WeightedMean() if weighted
                                         else hist.storage.Mean())
    else:
        storage = hist.storage.Weight() if weighted else hist.storage.Double()
    h: hist.Hist = hist.Hist(*axes, storage=storage, name=model.name,  # type: ignore[call-overload]
                             label=titles[0] or model.name)
    return h


__all__ = ["empty_hist"]
