"""The untyped syntax tree of an expression, as written by the user.

Each node keeps its character span so that the type checker can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all syntax nodes; `start`/`end` are offsets into the source text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: int | float | bool | str


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
    func: str
    func_start: int
    func_end: int
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Index(Node):
    base: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    """`obj.attr`, only meaningful for `rdfsampleinfo_`-style access and `.size()`."""

    base: Node
    attr: str


__all__ = ["Attribute", "Binary", "Call", "Index", "Literal", "Name", "Node", "Ternary", "Unary"]
