"""The untyped statements of a C++ body, as ROOT users write them in `Define` strings.

ROOT wraps a string that contains `return` as the body of a lambda
(`"double x; return a > 3 ? a * 2 : 1.;"`). These are its statements, one class
per kind, each with the span of its text so that errors point at it. Expressions
inside are the ordinary `nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hepflow.plan.expr.nodes import Node
from hepflow.plan.types import ColumnType

AssignOp = Literal["=", "+=", "-=", "*=", "/="]


@dataclass(frozen=True, slots=True)
class Statement:
    """Base of all statements; `start`/`end` are offsets into the source text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Block(Statement):
    """`{ ... }`: a scope for the locals declared in it (not `scoped`: the declarations
    of one `int a = 0, b = 1;`)."""

    body: tuple[Statement, ...]
    scoped: bool = True


@dataclass(frozen=True, slots=True)
class Declare(Statement):
    """`double x;`, `int n = 0;`, `auto v = ...;`: `type` None for `auto`."""

    name: str
    type: ColumnType | None
    init: Node | None


@dataclass(frozen=True, slots=True)
class Assign(Statement):
    """`x = e`, `x += e`, ... and `x++`/`--x` (as `x += 1`)."""

    name: str
    op: AssignOp
    value: Node


@dataclass(frozen=True, slots=True)
class Evaluate(Statement):
    """An expression statement whose value is dropped (`f(x);`)."""

    value: Node


@dataclass(frozen=True, slots=True)
class If(Statement):
    condition: Node
    then: Statement
    otherwise: Statement | None


@dataclass(frozen=True, slots=True)
class While(Statement):
    condition: Node
    body: Statement


@dataclass(frozen=True, slots=True)
class For(Statement):
    """`for (init; condition; step) body`; any part may be empty."""

    init: Statement | None
    condition: Node | None
    step: Statement | None
    body: Statement


@dataclass(frozen=True, slots=True)
class RangeFor(Statement):
    """`for (auto&& w : collection) body`: `type` None for `auto`."""

    name: str
    type: ColumnType | None
    collection: Node
    body: Statement


@dataclass(frozen=True, slots=True)
class Break(Statement):
    pass


@dataclass(frozen=True, slots=True)
class Continue(Statement):
    pass


@dataclass(frozen=True, slots=True)
class Return(Statement):
    value: Node


@dataclass(frozen=True, slots=True)
class Body:
    """A whole lambda body: its statements, in order."""

    statements: tuple[Statement, ...]


def has_loop(statement: Statement) -> bool:
    """Whether a loop (or `break`/`continue`) appears anywhere in `statement`."""
    if isinstance(statement, (While, For, RangeFor, Break, Continue)):
        return True
    if isinstance(statement, Block):
        return any(has_loop(s) for s in statement.body)
    if isinstance(statement, If):
        return has_loop(statement.then) or (statement.otherwise is not None and
                                            has_loop(statement.otherwise))
    return False


__all__ = ["Assign", "AssignOp", "Block", "Body", "Break", "Continue", "Declare", "Evaluate",
           "For", "If", "RangeFor", "Return", "Statement", "While", "has_loop"]
