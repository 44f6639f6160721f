"""The typed expression tree: what the engine evaluates.

Produced only by the type checker, so every node here is known to make sense
for the columns it reads. Chains of binary operators (`a + b + c`, 490 terms
joined by `&&`) and of prefix operators (`- - x`, `(int)-x`) are single nodes
holding their steps, so the tree stays shallow however long the chain: it
checks, evaluates and pickles without deep recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hepflow.core.types import ColumnType, DType

Op = Literal["col", "const", "unary", "binary", "ternary", "index", "call", "sampleinfo",
             "local", "input", "vector"]
# the last three only inside a compiled body (plan.expr.loops); "vector" is a 4-vector
# local's accessor on its coordinates (value "System.Method", engine.fourvector_scalar)
UnaryOp = Literal["-", "+", "!", "~", "cast"]
BinaryOp = Literal["||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>",
                   "+", "-", "*", "/", "%"]
IndexKind = Literal["combo", "element", "mask", "unknown"]


@dataclass(frozen=True, slots=True)
class UnaryStep:
    """One prefix operator or conversion, and the type it gives."""

    op: UnaryOp
    type: ColumnType


@dataclass(frozen=True, slots=True)
class BinaryStep:
    """`acc <op> operand`: the result type, and the common type both sides convert to
    first (C++'s usual arithmetic conversions; for `&&`/`||` it is bool)."""

    op: BinaryOp
    type: ColumnType
    common: DType
    may_fail: bool = False


@dataclass(frozen=True, slots=True)
class Typed:
    """One operation with its result type.

    `op` says what it is; `value` carries, by op: the column name (col), the
    number (const), the steps (unary: tuple of UnaryStep, innermost first;
    binary: tuple of BinaryStep, one per operand after the first), the index
    kind (index), the function name or declared function (call), the lookup
    (sampleinfo). `may_fail` marks subtrees that can fail on some events (an
    index past the end of a collection); `&&`, `||` and `?:` then evaluate
    them only on the events where C++ would, so `nMuon > 0 && Muon_pt[0] > 20`
    is safe.
    """

    op: Op
    type: ColumnType
    args: tuple[Typed, ...] = ()
    value: object = None
    may_fail: bool = False
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class BraceInit:
    """The `value` of a call building a collection from `size` items, one per event
    (`ROOT::RVecD{a, b}`): its args are the items, already of the element type's kind."""

    size: int


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, checked expression and the exact set of columns it reads."""

    text: str
    tree: Typed
    columns: frozenset[str]

    @property
    def type(self) -> ColumnType:
        return self.tree.type


__all__ = ["BinaryOp", "BinaryStep", "BraceInit", "Expression", "IndexKind", "Op", "Typed",
           "UnaryOp", "UnaryStep"]
