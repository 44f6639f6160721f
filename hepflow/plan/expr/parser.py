"""A precedence-climbing parser for RDataFrame expression strings.

The language is the subset of C++ that RDataFrame users write in `Define` and
`Filter` strings (plus Python's `and`/`or`/`not`). Nothing is ever handed to
Python's `eval`: the tokens are parsed into `nodes`, and anything outside the
grammar is rejected with the position of the offending text.
"""

from __future__ import annotations

from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.tokens import Token, tokenize

# Binary operators by C++ precedence, loosest first.
_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", "<=", ">", ">="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)
_UNARY = ("-", "+", "!", "~")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, op: str, opener: Token | None = None) -> Token:
        tok = self.tok
        if tok.kind == "op" and tok.text == op:
            return self.advance()
        where = "end of expression" if tok.kind == "end" else repr(tok.text)
        hint = f"to close the {opener.text!r} at offset {opener.start}" if opener else ""
        raise ExpressionError(f"expected {op!r} but found {where}", self.text, tok.start,
                              tok.end, hint)

    def error(self, message: str, tok: Token | None = None) -> ExpressionError:
        tok = tok or self.tok
        return ExpressionError(message, self.text, tok.start, tok.end)

    def parse(self) -> n.Node:
        if self.tok.kind == "end":
            raise ExpressionError("empty expression", self.text, 0)
        node = self.ternary()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r} after a complete expression")
        return node

    def ternary(self) -> n.Node:
        cond = self.binary(0)
        if self.tok.kind == "op" and self.tok.text == "?":
            question = self.advance()
            if_true = self.ternary()
            self.expect(":", question)
            if_false = self.ternary()
            return n.Ternary(cond.start, if_false.end, cond, if_true, if_false)
        return cond

    def binary(self, level: int) -> n.Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        ops = _BINARY_LEVELS[level]
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self.advance().text
            right = self.binary(level + 1)
            left = n.Binary(left.start, right.end, op, left, right)
        return left

    def unary(self) -> n.Node:
        tok = self.tok
        if tok.kind == "op" and tok.text in _UNARY:
            self.advance()
            operand = self.unary()
            return n.Unary(tok.start, operand.end, tok.text, operand)
        return self.postfix(self.primary())

    def postfix(self, node: n.Node) -> n.Node:
        while self.tok.kind == "op" and self.tok.text in ("[", "(", "."):
            tok = self.advance()
            if tok.text == "[":
                index = self.ternary()
                close = self.expect("]", tok)
                node = n.Index(node.start, close.end, node, index)
            elif tok.text == ".":
                attr = self.tok
                if attr.kind != "name":
                    raise self.error("expected a name after '.'")
                self.advance()
                node = n.Attribute(node.start, attr.end, node, attr.text)
            else:
                if isinstance(node, n.Name):
                    node = self.call(node.name, node.start, node.end, tok)
                elif isinstance(node, n.Attribute):
                    call = self.call(node.attr, node.start, node.end, tok)
                    assert isinstance(call, n.Call)
                    node = n.Call(call.start, call.end, "." + node.attr, node.start,
                                  node.end, (node.base, *call.args))
                else:
                    raise self.error("only named functions can be called", tok)
        return node

    def call(self, name: str, start: int, end: int, opener: Token) -> n.Node:
        args: list[n.Node] = []
        if not (self.tok.kind == "op" and self.tok.text == ")"):
            while True:
                args.append(self.ternary())
                if self.tok.kind == "op" and self.tok.text == ",":
                    self.advance()
                    continue
                break
        close = self.expect(")", opener)
        return n.Call(start, close.end, name, start, end, tuple(args))

    def primary(self) -> n.Node:
        tok = self.tok
        if tok.kind in ("num", "str"):
            self.advance()
            assert tok.value is not None
            return n.Literal(tok.start, tok.end, tok.value)
        if tok.kind == "name":
            self.advance()
            return n.Name(tok.start, tok.end, tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            inner = self.ternary()
            self.expect(")", tok)
            return inner
        if tok.kind == "end":
            raise self.error("expression ends too early")
        raise self.error(f"unexpected {tok.text!r}")


def parse(text: str) -> n.Node:
    """Parse an expression string into a syntax tree, or raise `ExpressionError`."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, not {type(text).__name__}")
    return _Parser(text).parse()


__all__ = ["parse"]
