"""The untyped syntax tree of an expression, as written by the user.

Each node keeps its character span so that the type checker can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.core.types import DType


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


__all__ = ["Attribute", "Binary", "Call", "Cast", "Index", "Literal", "Name", "Node", "Ternary",
           "Unary"]
