"""Parsing `thread_local` engines and distributions, and their calls, in C++ bodies.

The declarations hold no value an event computes: their arguments are numbers
(or `rd()` for a seed), so they are resolved here, where they are written, into
`random_objects`; a call `d(gen)` becomes one `nodes.Draw`. See
`random_objects` for why only `thread_local` objects are taken.
"""

from __future__ import annotations

import hashlib
from typing import Final

import numpy as np

from hepflow.core.types import DType
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import random_objects as ro
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.parser import _Parser
from hepflow.plan.expr.tokens import Token

CLASSES: Final = frozenset({ro.DEVICE, *ro.ENGINES, *ro.DISTRIBUTIONS})
_THREAD_LOCAL = ("declare it `thread_local`, as ROOT's tutorial on random numbers under "
                 "EnableImplicitMT does: one engine per thread, kept from call to call")


class _RandomParser(_Parser):
    """A parser that knows the body's `thread_local` random objects by name."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.randoms: dict[str, ro.RandomObject] = {}
        self.source = hashlib.sha256(text.encode()).hexdigest()[:16]

    def random_declaration(self) -> s.Statement | None:
        """`thread_local std::mt19937 gen{rd()};` and the like, resolved now; the empty
        statement it leaves. None, with nothing consumed, where no such declaration
        starts."""
        first = self.tok
        local = first.kind == "name" and first.text == "thread_local"
        tok = self.peek() if local else first
        if not (tok.kind == "name" and tok.text in CLASSES):
            if local:
                raise self.error("`thread_local` is taken here only for <random>'s "
                                 f"{', '.join(sorted(CLASSES))}", first)
            return None
        if not local:
            raise self.error(f"a `{tok.text}` local would be made again, and seeded again, at "
                             f"every call: {_THREAD_LOCAL}", tok)
        self.pos += 2
        dtype: DType = self.real_type(tok) if tok.text in ro.DISTRIBUTIONS else "float64"
        name = self.advance()
        if name.kind != "name":
            raise self.error(f"expected the name of the {tok.text}", name)
        if name.text in self.randoms:
            raise self.error(f"`{name.text}` is declared twice", name)
        args, end = self.random_arguments(tok, name)
        self.randoms[name.text] = self.resolve(tok, name, dtype, args)
        return s.Block(first.start, end, ())

    def real_type(self, tok: Token) -> DType:
        """`<float>`, `<double>` or `<>` (double) after a distribution's class."""
        if not (self.tok.kind == "op" and self.tok.text == "<"):
            raise self.error(f"write {tok.text}<float> or {tok.text}<double>", tok)
        if self.peek().kind == "op" and self.peek().text == ">":
            self.pos += 2
            return "float64"
        dtype = self.template_argument(tok)
        if dtype not in ("float32", "float64"):
            raise self.error(f"{tok.text} takes float or double here, not {dtype}", tok)
        return dtype

    def random_arguments(self, tok: Token, name: Token) -> tuple[list[n.Node | None], int]:
        """The arguments in `{...}` or `(...)` after the name (none if neither follows);
        None stands for `rd()`, a seed from the random device."""
        if not (self.tok.kind == "op" and self.tok.text in ("{", "(")):
            return [], name.end
        opener = self.advance()
        close = "}" if opener.text == "{" else ")"
        args: list[n.Node | None] = []
        while not (self.tok.kind == "op" and self.tok.text == close):
            args.append(None if self.device_call() else self.ternary())
            if not (self.tok.kind == "op" and self.tok.text == ","):
                break
            self.advance()
        return args, self.expect(close, opener).end

    def device_call(self) -> bool:
        """Consume `rd()` (a declared random_device) or `std::random_device{}()`, if here."""
        tok, after = self.tok, self.peek()
        if tok.kind == "name" and isinstance(self.randoms.get(tok.text), ro.Device) and \
                after.kind == "op" and after.text == "(" and self.peek(2).text == ")":
            self.pos += 3
            return True
        if tok.kind == "name" and tok.text == ro.DEVICE and after.kind == "op" and \
                after.text in ("{", "(") and [t.text for t in self.tokens[self.pos + 2:
                                                                     self.pos + 5]] == \
                ["}" if after.text == "{" else ")", "(", ")"]:
            self.pos += 5
            return True
        return False

    def resolve(self, tok: Token, name: Token, dtype: DType,
                args: list[n.Node | None]) -> ro.RandomObject:
        if tok.text == ro.DEVICE:
            if args:
                raise self.error("a random_device takes no argument here", name)
            return ro.Device(name.text)
        if tok.text in ro.ENGINES:
            if len(args) > 1:
                raise self.error(f"{tok.text} takes one seed", name)
            seed: int | None = ro.DEFAULT_SEED
            if args:
                seed = None if args[0] is None else int(self.number(args[0], True))
            return ro.Engine(self.source, name.start, name.text,
                             None if seed is None else seed % 2**64 % 2**32)
        kind, defaults = ro.DISTRIBUTIONS[tok.text]
        if len(args) > 2 or any(a is None for a in args):
            raise self.error(f"{tok.text} takes two numbers", name)
        given = [self.number(a, False) for a in args if a is not None]
        a, b = (float(x) for x in (*given, *defaults[len(given):]))
        if dtype == "float32":
            a, b = float(np.float32(a)), float(np.float32(b))
        if kind == "normal" and not b > 0:
            raise self.error("a normal distribution's standard deviation must be positive",
                             name)
        if kind == "uniform_real" and not a <= b:
            raise self.error("a uniform distribution's interval [a, b) needs a <= b", name)
        return ro.Distribution(kind, dtype, a, b, self.source, name.start, name.text)

    def number(self, node: n.Node, integer: bool) -> int | float:
        """A literal number (with a sign): what the subset takes as these arguments."""
        sign = 1
        while isinstance(node, n.Unary) and node.op in ("-", "+"):
            sign = -sign if node.op == "-" else sign
            node = node.operand
        if not isinstance(node, n.Literal) or isinstance(node.value, (bool, str)) or \
                (integer and not isinstance(node.value, int)):
            what = "an integer, or rd() of a thread_local std::random_device" if integer \
                else "a number"
            raise ExpressionError(f"this argument must be {what} here", self.text,
                                  node.start, node.end)
        value = -node.value if sign < 0 else node.value
        if not integer and not abs(value) <= np.finfo(np.float32).max:
            raise ExpressionError("this number is too large for a distribution's parameter",
                                  self.text, node.start, node.end)
        return value

    def random_call(self, name: str, start: int, end: int, opener: Token) -> n.Node | None:
        """`d(gen)` or `gen()` of declared random objects as one `Draw` (the `(` consumed);
        None for any other call."""
        found = self.randoms.get(name)
        if found is None:
            return None
        args: list[n.Node] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self.ternary())
            if not (self.tok.kind == "op" and self.tok.text == ","):
                break
            self.advance()
        close = self.expect(")", opener)
        if isinstance(found, ro.Device):
            raise ExpressionError(f"`{name}()` seeds an engine here (`thread_local "
                                  f"std::mt19937 gen{{{name}()}};`); draw numbers from the "
                                  "engine", self.text, start, close.end)
        if isinstance(found, ro.Engine):
            if args:
                raise ExpressionError(f"`{name}()` takes no argument", self.text, start,
                                      close.end)
            return n.Draw(start, close.end, ro.Draw(found, None))
        engine = self.randoms.get(args[0].name) if len(args) == 1 and \
            isinstance(args[0], n.Name) else None
        if not isinstance(engine, ro.Engine):
            raise ExpressionError(f"`{name}(gen)` takes one thread_local std::mt19937",
                                  self.text, start, close.end)
        return n.Draw(start, close.end, ro.Draw(engine, found))

    def call(self, name: str, start: int, end: int, opener: Token,
             template: DType | None = None) -> n.Node:
        drawn = self.random_call(name, start, end, opener) if template is None else None
        return drawn if drawn is not None else super().call(name, start, end, opener, template)

    def primary(self) -> n.Node:
        tok = self.tok
        if tok.kind == "name" and tok.text in CLASSES:
            raise self.error(f"declare the {tok.text} as a `thread_local` variable "
                             "(`thread_local std::mt19937 gen{rd()};`) and call that", tok)
        return super().primary()


__all__ = ["CLASSES", "_RandomParser"]
