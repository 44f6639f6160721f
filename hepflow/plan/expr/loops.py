"""The checked form of a C++ body with loops, which the engine compiles per event.

A body with `for`/`while` cannot be one columnar expression, and must not run as
a Python loop per event: the engine compiles it with numba
(`hepflow.engine.loopkernel`) from this tree, never from the user's text. Every
value here is typed by the checker, so the kernel converts exactly as C++ does.

Expressions that read no local are computed beforehand by the vectorised
evaluator and enter the kernel as *inputs* (`Input(t, value=k)`: the
k-th argument of the call): columns, VecOps calls, declared functions. Locals
are `Local(t, value=uid)`. Only what depends on a local (arithmetic,
comparisons, `?:`, conversions, `v[i]`, `v.size()`, <cmath>) is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.core.types import ColumnType
from hepflow.plan.expr.typed import Typed

# C++'s <cmath> functions a compiled body may call on values that depend on locals
# (numba calls the C library's float or double function, as the evaluator does).
MATH: frozenset[str] = frozenset({
    "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "pow", "atan2",
    "hypot"})
COMPILED_CALLS: frozenset[str] = MATH | {"size", "Length", "abs", "fabs", "min", "max"}
# Loops running more iterations than this in one event (all its while and for loops
# together) are stopped with an error.
MAX_ITERATIONS = 2**31


@dataclass(frozen=True, slots=True)
class LStatement:
    """Base of the checked statements."""


@dataclass(frozen=True, slots=True)
class LDeclare(LStatement):
    """A local `uid` of `type`, given `init` (already of its type) or zero."""

    uid: int
    type: ColumnType
    init: Typed | None


@dataclass(frozen=True, slots=True)
class LDeclareList(LStatement):
    """A local collection `uid` of `type` (an RVec the body builds): empty, or a copy of
    `init` (an input or a local collection), or built by `init` (a brace list, or
    `RVec<T>(n, v)`)."""

    uid: int
    type: ColumnType
    init: Typed | None


@dataclass(frozen=True, slots=True)
class LPush(LStatement):
    """`v.push_back(value)` / `emplace_back`, the value already of the element type."""

    uid: int
    value: Typed


@dataclass(frozen=True, slots=True)
class LResize(LStatement):
    """`v.resize(size)` or `v.resize(size, fill)`; `v.clear()` is a resize to 0."""

    uid: int
    type: ColumnType
    size: Typed
    fill: Typed | None


@dataclass(frozen=True, slots=True)
class LSetItem(LStatement):
    """`v[index] = value`, the value already of the element type; the index is checked."""

    uid: int
    index: Typed
    value: Typed


@dataclass(frozen=True, slots=True)
class LAssign(LStatement):
    """`uid = value`, the value already converted to the local's type."""

    uid: int
    type: ColumnType
    value: Typed


@dataclass(frozen=True, slots=True)
class LIf(LStatement):
    condition: Typed
    then: tuple[LStatement, ...]
    otherwise: tuple[LStatement, ...]


@dataclass(frozen=True, slots=True)
class LWhile(LStatement):
    condition: Typed
    body: tuple[LStatement, ...]


@dataclass(frozen=True, slots=True)
class LFor(LStatement):
    """`for (init; condition; step) body`; `continue` runs `step`, as in C++."""

    init: tuple[LStatement, ...]
    condition: Typed | None
    step: tuple[LStatement, ...]
    body: tuple[LStatement, ...]


@dataclass(frozen=True, slots=True)
class LRangeFor(LStatement):
    """`for (T x : v)`: local `uid` takes each element of input `collection` in turn."""

    uid: int
    type: ColumnType
    collection: int
    body: tuple[LStatement, ...]
    local: bool = False  # `collection` is the uid of a local collection, not an input


@dataclass(frozen=True, slots=True)
class LBreak(LStatement):
    pass


@dataclass(frozen=True, slots=True)
class LContinue(LStatement):
    pass


@dataclass(frozen=True, slots=True)
class LReturn(LStatement):
    """`return value`, the value already of the body's return type; a collection is a
    local one, an input or a brace list (converted element by element)."""

    value: Typed


@dataclass(frozen=True, slots=True)
class LoopBody:
    """The `value` of the call that runs a compiled body: its statements, the types of
    its inputs (the call's args, in order) and its return type. Equal bodies compile
    to one kernel per process."""

    statements: tuple[LStatement, ...]
    inputs: tuple[ColumnType, ...]
    return_type: ColumnType


__all__ = ["COMPILED_CALLS", "LAssign", "LBreak", "LContinue", "LDeclare", "LDeclareList",
           "LFor", "LIf", "LPush", "LRangeFor", "LResize", "LReturn", "LSetItem", "LStatement",
           "LWhile", "LoopBody", "MATH", "MAX_ITERATIONS"]
