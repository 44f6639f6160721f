"""The action protocol: one class holds an action's whole life.

An action reads from one plan node. It names the columns it needs, fills a
partial result from one chunk, gives the partial of no events, merges two
partials (associatively: the tree reduction may pair chunks in any shape and
retry any task), and turns the merged partial into what the user gets back.
The engine knows actions only through this interface, so a new action is one
new class. Compare dask's `chunk`/`combine`/`aggregate` reductions and
coffea's `Addable` accumulators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import fields
from typing import Any, Generic, TypeVar

import awkward as ak
import dask.base
import numpy as np

from hepflow.errors import EvaluationError
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode

P = TypeVar("P")
R = TypeVar("R")


class Action(ABC, Generic[P, R]):
    """Base of booked actions: partials of type `P`, user-facing result of type `R`."""

    __slots__ = ()
    node: PlanNode

    def columns(self) -> tuple[str, ...]:
        """Columns read at `node` (checked at build time, pruned statically)."""
        return ()

    def counted_filters(self) -> tuple[PlanNode, ...]:
        """Filters whose counts this action needs even where no other work passes them."""
        return ()

    @property
    def label(self) -> str:
        """How the action reads in `explain()` and in error messages."""
        return type(self).__name__

    @abstractmethod
    def empty(self) -> P:
        """The partial result over no events."""

    @abstractmethod
    def fill(self, ctx: FillContext) -> P:
        """The partial result over the events of one chunk reaching `node`."""

    @abstractmethod
    def merge(self, a: P, b: P) -> P:
        """Two partials combined; must be associative (and, for ordered results, keep order)."""

    @abstractmethod
    def finish(self, partial: P) -> R:
        """The merged partial as the user's result."""

    def __dask_tokenize__(self) -> object:
        """A token of the content (dask does not normalise what this returns)."""
        return dask.base.tokenize(type(self).__name__,
                                  *(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]


def flat_values(value: Any) -> np.ndarray:
    """All elements of a column in a chunk (one per event, or every collection element)."""
    if isinstance(value, ak.Array):
        return np.asarray(ak.to_numpy(ak.flatten(value, axis=None)))
    return np.asarray(value)


def flat_weights(values: Any, weights: Any, label: str, ctx: FillContext) -> np.ndarray:
    """`weights` as float64, one per element of `values`: a per-event weight applies to
    every element of a collection, as ROOT fills an `RVec` column with a scalar weight."""
    if isinstance(values, ak.Array) and values.ndim > 1:
        try:
            weights = ak.broadcast_arrays(values, weights)[1]
        except ValueError as exc:
            raise EvaluationError(f"{label}: the weight does not match the values' "
                                  f"collection sizes on {ctx.describe()}: {exc}") from None
    return flat_values(weights).astype(np.float64, copy=False)


def as_piece(value: Any) -> Any:
    """A column's values as a compact, picklable piece (awkward packed, numpy contiguous)."""
    if isinstance(value, ak.Array):
        return ak.to_packed(value)
    return np.ascontiguousarray(value)


__all__ = ["Action", "as_piece", "flat_values", "flat_weights"]
