"""Per-chunk filling of each booked action from the fused kernel's views."""

from __future__ import annotations

from typing import Any, Protocol

import awkward as ak
import numpy as np

from hepflow.dataset.chunks import Chunk
from hepflow.errors import EvaluationError
from hepflow.plan import actions as act
from hepflow.plan.nodes import PlanNode
from hepflow.results.histograms import empty_hist
from hepflow.results.moments import Moments
from hepflow.results.pieces import Pieces


class Run(Protocol):
    def column(self, node: PlanNode, name: str) -> Any: ...

    def view(self, node: PlanNode) -> Any: ...


def flat_values(value: Any) -> np.ndarray:
    """All elements of a column in this chunk (one per event, or every collection element)."""
    if isinstance(value, ak.Array):
        return np.asarray(ak.to_numpy(ak.flatten(value, axis=None)))
    return np.asarray(value)


def _histo(action: act.Histo, run: Run, chunk: Chunk) -> Any:
    columns = [run.column(action.node, c) for c in action.values]
    weight = run.column(action.node, action.weight) if action.weight else None
    jagged = [isinstance(c, ak.Array) for c in columns]
    if any(jagged) and not all(jagged):
        raise EvaluationError(f"{action.label}: cannot mix per-event values and collections "
                              f"({', '.join(action.values)}) on {chunk.describe()}")
    if weight is not None and any(jagged):
        try:
            weight = ak.broadcast_arrays(columns[0], weight)[1]
        except ValueError as exc:
            raise EvaluationError(f"{action.label}: the weight does not match the values' "
                                  f"collection sizes on {chunk.describe()}: {exc}") from None
    data = [flat_values(c).astype(np.float64, copy=False) for c in columns]
    h = empty_hist(action.model, action.values, weight is not None, action.kind)
    kwargs: dict[str, Any] = {}
    if weight is not None:
        kwargs["weight"] = flat_values(weight).astype(np.float64, copy=False)
    if action.kind == "profile":
        h.fill(data[0], sample=data[1], **kwargs)
    else:
        h.fill(*data, **kwargs)
    return h


def _as_piece(value: Any) -> Any:
    if isinstance(value, ak.Array):
        return ak.to_packed(value)
    return np.ascontiguousarray(value)


def fill(action: act.Action, run: Run, chunk: Chunk) -> Any:
    """The partial result of one action on one chunk."""
    if isinstance(action, act.Count):
        return int(run.view(action.node).n)
    if isinstance(action, act.Stat):
        return Moments.of(flat_values(run.column(action.node, action.column)))
    if isinstance(action, act.Histo):
        return _histo(action, run, chunk)
    if isinstance(action, act.Take):
        return Pieces(((chunk.index, _as_piece(run.column(action.node, action.column))),))
    if isinstance(action, act.AsNumpy):
        values = {c: _as_piece(run.column(action.node, c)) for c in action.names}
        return Pieces(((chunk.index, values),))
    if isinstance(action, act.Display):
        n = action.nrows
        values = {c: _as_piece(run.column(action.node, c)[:n]) for c in action.names}
        return Pieces(((chunk.index, values),))
    if isinstance(action, act.Report):
        return None
    if isinstance(action, act.Snapshot):
        from hepflow.io.snapshot import write_part

        values = {c: run.column(action.node, c) for c in action.names}
        return Pieces(((chunk.index, write_part(action, chunk, values)),))
    if isinstance(action, CountPerChunk):
        return Pieces(((chunk.index, int(run.view(action.node).n)),))
    raise EvaluationError(f"no lowering rule for {type(action).__name__}")


class CountPerChunk(act.Action):
    """Internal: how many events reach `node` in each chunk (for exact distributed Range)."""

    __slots__ = ("node",)

    def __init__(self, node: PlanNode) -> None:
        self.node = node


__all__ = ["CountPerChunk", "fill", "flat_values"]


def empty(action: act.Action) -> Any:
    """The partial result of an action over no events (for an empty dataset)."""
    if isinstance(action, act.Count):
        return 0
    if isinstance(action, act.Stat):
        return Moments()
    if isinstance(action, act.Histo):
        return empty_hist(action.model, action.values, action.weight is not None, action.kind)
    if isinstance(action, act.Report):
        return None
    return Pieces()


__all__ += ["empty"]
