"""The typed expression tree: what the engine evaluates.

Produced only by the type checker, so every node here is known to make sense
for the columns it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hepflow.plan.types import ColumnType


@dataclass(frozen=True, slots=True)
class Typed:
    """One operation with its result type.

    `op` is one of: col, const, unary, binary, and, or, ternary, index, call.
    `value` carries the column name, constant, operator or function name.
    `may_fail` marks subtrees that can fail on some events (an index past the
    end of a collection); `&&`, `||` and `?:` then evaluate them only on the
    events where C++ would, so `nMuon > 0 && Muon_pt[0] > 20` is safe.
    """

    op: str
    type: ColumnType
    args: tuple[Typed, ...] = ()
    value: object = None
    may_fail: bool = False
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, checked expression and the exact set of columns it reads."""

    text: str
    tree: Typed
    columns: frozenset[str]

    @property
    def type(self) -> ColumnType:
        return self.tree.type


__all__ = ["Expression", "Typed"]
