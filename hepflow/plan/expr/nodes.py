"""The untyped syntax tree of an expression, as written by the user.

Each node keeps its character span so that the type checker can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.core.types import ColumnType, DType


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all syntax nodes; `start`/`end` are offsets into the source text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A number, `true`/`false` or a string; `dtype` is the C++ type of a number."""

    value: int | float | bool | str
    dtype: DType | None = None


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    condition: Node
    if_true: Node
    if_false: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """`f(args)`, `obj.method(args)` (func ".method", obj first) or `f<T>(args)`."""

    func: str
    func_start: int
    func_end: int
    args: tuple[Node, ...]
    template: DType | None = None


@dataclass(frozen=True, slots=True)
class Cast(Node):
    """`(T)x`, `static_cast<T>(x)` or `T(x)`: a conversion to the C++ type `dtype`."""

    dtype: DType
    operand: Node


@dataclass(frozen=True, slots=True)
class Index(Node):
    base: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    """`obj.attr`, only meaningful for `rdfsampleinfo_`-style access and `.size()`."""

    base: Node
    attr: str


@dataclass(frozen=True, slots=True)
class BraceList(Node):
    """`ROOT::RVecD{a, b}`, `RVec<int>{...}`, `std::vector<double>({...})`,
    `std::array<double, 2>{...}`: a collection of `dtype` built from one value per item;
    `size` is std::array's fixed size (missing items are zero, as in C++), else None."""

    dtype: DType
    items: tuple[Node, ...]
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Convert(Node):
    """The implicit conversion of a value to a local's declared type (`double x = n;`):
    `type` is a ColumnType; collections convert element by element."""

    type: ColumnType
    operand: Node


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    """`[&](float x) -> double { ... }` as `Map`'s last argument: parameters (type None for
    `auto`), the return type if written, the capture (`""`, `"&"`, `"="`) and the body
    (a `statements.Body`)."""

    params: tuple[tuple[str, ColumnType | None], ...]
    return_type: ColumnType | None
    capture: str
    body: object


@dataclass(frozen=True, slots=True)
class Draw(Node):
    """`d(gen)` or `gen()` of `thread_local` random objects, resolved where they are
    declared (a `random_objects.Draw`)."""

    draw: object


__all__ = ["Attribute", "Binary", "BraceList", "Call", "Cast", "Convert", "Draw", "Index",
           "Lambda", "Literal", "Name", "Node", "Ternary", "Unary"]
