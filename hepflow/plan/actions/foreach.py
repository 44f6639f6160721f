"""Foreach and ForeachSlot: a Python function called once per entry, on the workers.

The function runs where the chunk is processed, in a worker process of the
cluster, never on the client: what it prints goes to the worker's log and
what it changes in Python objects changes the worker's copies. It is for side
effects that live where the workers run (writing a file per chunk, filling a
worker-side service); results for the client come from the other actions.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hepflow.errors import EvaluationError
from hepflow.plan.actions.aggregate import entries
from hepflow.plan.actions.base import Action
from hepflow.plan.context import FillContext
from hepflow.plan.nodes import PlanNode

_slots = threading.local()
_numbers = itertools.count()
_lock = threading.Lock()


def current_slot() -> int:
    """A small integer unique to the calling thread within this process (ROOT's slot).

    Threads are numbered in the order they first ask, so a dask worker with
    `n` threads sees slots 0 … n-1: two chunks running at the same time in one
    process never share a slot.
    """
    slot = getattr(_slots, "number", None)
    if slot is None:
        with _lock:
            slot = next(_numbers)
        _slots.number = slot
    return int(slot)


@dataclass(frozen=True, slots=True, eq=False)
class Foreach(Action[int, None]):
    """`func(*values)` for every entry reaching `node` (with `slot`: `func(slot, *values)`).

    The partial is the number of calls made, so the run's accounting covers it;
    the user-facing result is None, as ROOT's Foreach returns nothing.
    """

    node: PlanNode
    func: Callable[..., Any]
    names: tuple[str, ...]
    slot: bool = False

    def columns(self) -> tuple[str, ...]:
        return self.names

    @property
    def label(self) -> str:
        name = getattr(self.func, "__qualname__", type(self.func).__name__)
        return f"{'ForeachSlot' if self.slot else 'Foreach'}({name})"

    def empty(self) -> int:
        return 0

    def fill(self, ctx: FillContext) -> int:
        columns = [entries(ctx.column(self.node, c)) for c in self.names]
        rows: Any = zip(*columns, strict=True) if columns else \
            itertools.repeat((), ctx.events(self.node))
        prefix: tuple[int, ...] = (current_slot(),) if self.slot else ()
        calls = 0
        try:
            for row in rows:
                self.func(*prefix, *row)
                calls += 1
        except Exception as exc:
            raise EvaluationError(f"{self.label} raised {type(exc).__name__}: {exc} on "
                                  f"{ctx.describe()}") from exc
        return calls

    def merge(self, a: int, b: int) -> int:
        return a + b

    def finish(self, partial: int) -> None:
        return None


__all__ = ["Foreach", "current_slot"]
