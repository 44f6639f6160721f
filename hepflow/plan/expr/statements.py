"""The untyped statements of a C++ body, as ROOT users write them in `Define` strings.

ROOT wraps a string that contains `return` as the body of a lambda
(`"double x; return a > 3 ? a * 2 : 1.;"`). These are its statements, one class
per kind, each with the span of its text so that errors point at it. Expressions
inside are the ordinary `nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from hepflow.core.types import ColumnType
from hepflow.plan.expr.nodes import Call, Draw, Name, Node

AssignOp = Literal["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="]


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
class AssignElement(Statement):
    """`v[i] = e`, `v[i] += e`, ... on a local collection."""

    name: str
    index: Node
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


# Methods that change a local collection in place (`v.push_back(x);`).
MUTATORS = frozenset({".push_back", ".emplace_back", ".reserve", ".resize", ".clear"})


def _children(statement: Statement) -> tuple[Statement, ...]:
    if isinstance(statement, Block):
        return statement.body
    if isinstance(statement, If):
        return (statement.then,) + ((statement.otherwise,) if statement.otherwise else ())
    if isinstance(statement, (While, RangeFor)):
        return (statement.body,)
    if isinstance(statement, For):
        return tuple(x for x in (statement.init, statement.step, statement.body) if x)
    return ()


def mutation(statement: Statement) -> str | None:
    """The local collection `statement` itself changes in place, if any."""
    if isinstance(statement, AssignElement):
        return statement.name
    if isinstance(statement, Evaluate):
        call = statement.value
        if isinstance(call, Call) and call.func in MUTATORS and call.args and \
                isinstance(call.args[0], Name):
            return call.args[0].name
    return None


def walk(statement: Statement) -> list[Statement]:
    """`statement` and every statement inside it."""
    out, todo = [], [statement]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(_children(current))
    return out


def needs_kernel(statement: Statement) -> bool:
    """Whether `statement` holds a loop, changes a collection in place or keeps a random
    draw in a local: then the body is compiled per event rather than lowered to one
    expression (which would put the local's value, and so a new draw, at each use)."""
    return any(isinstance(x, (While, For, RangeFor, Break, Continue)) or
               mutation(x) is not None or
               (isinstance(x, Declare) and draws(x.init)) or
               (isinstance(x, Assign) and draws(x.value)) for x in walk(statement))


def draws(node: Node | None) -> bool:
    """Whether `node` holds a random draw (`d(gen)` of `thread_local` objects)."""
    todo: list[object] = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, Draw):
            return True
        if isinstance(current, Node):
            todo.extend(getattr(current, f.name) for f in fields(current))
        elif isinstance(current, tuple):
            todo.extend(current)
    return False


def mutated(statements: tuple[Statement, ...]) -> frozenset[str]:
    """The names of the collections changed in place anywhere in `statements`."""
    names = {mutation(x) for st in statements for x in walk(st)}
    return frozenset(name for name in names if name is not None)


__all__ = ["MUTATORS", "Assign", "AssignElement", "AssignOp", "Block", "Body", "Break",
           "Continue", "Declare", "Evaluate", "For", "If", "RangeFor", "Return", "Statement",
           "While", "draws", "mutated", "needs_kernel", "walk"]
