"""Aggregate and Reduce: the user's own accumulation, folded per chunk and merged in order.

ROOT's `Aggregate(aggregator, merger, column, aggIdentity)` starts each thread's
accumulator at `aggIdentity`, calls `acc = aggregator(acc, value)` once per entry
and combines the threads' accumulators with `merger`. Here a chunk plays the
part of a thread: its partial is the fold of its entries, and partials are
combined with `merger` strictly in chunk order, whatever shape the tree
reduction takes. That keeps a non-commutative merger (a list concatenation,
say) exact: the result is the same as merging chunk 0, 1, 2, ... left to right.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awkward as ak
import dask.base
import numpy as np

from hepflow.errors import EvaluationError
from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode

#: Accumulators of contiguous chunk ranges: (first chunk, one past the last, accumulator).
Runs = tuple[tuple[int, int, Any], ...]


def entries(value: Any) -> list[Any]:
    """A column's per-event values as a Python list, one item per event.

    Flat columns give Python numbers (`tolist()`), collections give one numpy
    array per event (views into the chunk's flat buffer, as ROOT passes an
    `RVec` view), deeper structures their awkward elements.
    """
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    if isinstance(value, ak.Array) and value.ndim == 1:
        return list(np.asarray(ak.to_numpy(value)).tolist())
    if isinstance(value, ak.Array) and value.ndim == 2:
        try:
            flat = np.asarray(ak.to_numpy(ak.flatten(value, axis=1)))
        except (TypeError, ValueError):
            return list(value)
        stops = np.cumsum(np.asarray(ak.to_numpy(ak.num(value, axis=1))))
        return list(np.split(flat, stops[:-1])) if len(value) else []
    return list(value)


def call_step(func: Callable[[Any, Any], Any], acc: Any, value: Any) -> Any:
    """`func(acc, value)`: its result, or `acc` itself when `func` updated it in place."""
    out = func(acc, value)
    return acc if out is None else out


@dataclass(frozen=True, slots=True, eq=False)
class Aggregate(Action[Runs, Any]):
    """The user's `aggregator` folded over `column`, per chunk, merged with `merger` in order.

    With `vectorized`, `aggregator(acc, values)` is called once per chunk with the
    chunk's whole column (numpy, or awkward for collections) instead of once per
    entry. `what` names the action in messages (Aggregate or Reduce).
    """

    node: PlanNode
    aggregator: Callable[[Any, Any], Any]
    merger: Callable[[Any, Any], Any]
    column: str
    identity: Any
    vectorized: bool = False
    what: str = "Aggregate"

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def label(self) -> str:
        name = getattr(self.aggregator, "__qualname__", type(self.aggregator).__name__)
        return f"{self.what}({name}, {self.column})"

    def empty(self) -> Runs:
        return ()

    def fill(self, ctx: FillContext) -> Runs:
        acc = copy.deepcopy(self.identity)
        values = ctx.column(self.node, self.column)
        try:
            if self.vectorized:
                acc = call_step(self.aggregator, acc, values)
            else:
                for value in entries(values):
                    acc = call_step(self.aggregator, acc, value)
        except Exception as exc:
            raise EvaluationError(f"{self.label}: the aggregator raised {type(exc).__name__}: "
                                  f"{exc} on {ctx.describe()}") from exc
        return ((ctx.chunk_index, ctx.chunk_index + 1, acc),)

    def merge(self, a: Runs, b: Runs) -> Runs:
        out: list[tuple[int, int, Any]] = []
        for run in sorted(a + b, key=lambda r: r[0]):
            if out and out[-1][1] == run[0]:
                start, _, acc = out[-1]
                out[-1] = (start, run[1], self._merged(acc, run[2]))
            else:
                out.append(run)
        return tuple(out)

    def finish(self, partial: Runs) -> Any:
        if not partial:
            return copy.deepcopy(self.identity)
        acc = partial[0][2]
        for _, _, value in partial[1:]:
            acc = self._merged(acc, value)
        return acc

    def _merged(self, a: Any, b: Any) -> Any:
        """`merger(a, b)` on a copy of `a`: partials are shared (per-sample splits, retries)."""
        try:
            return call_step(self.merger, copy.deepcopy(a), b)
        except Exception as exc:
            raise EvaluationError(f"{self.label}: the merger raised {type(exc).__name__}: "
                                  f"{exc}") from exc

    def __dask_tokenize__(self) -> object:
        return dask.base.tokenize(self.what, self.node, self.aggregator, self.merger,
                                  self.column, repr(self.identity), self.vectorized)


__all__ = ["Aggregate", "Runs", "call_step", "entries"]
