"""A precedence-climbing parser for RDataFrame expression strings.

The language is the subset of C++ that RDataFrame users write in `Define` and
`Filter` strings (plus Python's `and`/`or`/`not`). Nothing is ever handed to
Python's `eval`: the tokens are parsed into `nodes`, and anything outside the
grammar is rejected with the position of the offending text.
"""

from __future__ import annotations

from hepflow.core.types import VECTOR_DTYPES, DType
from hepflow.errors import ExpressionError
from hepflow.plan.expr import cxxtypes
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.tokens import Token, tokenize

# Binary operators by C++ precedence; a larger number binds tighter.
_PRECEDENCE: dict[str, int] = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9,
    "*": 10, "/": 10, "%": 10,
}
_UNARY = ("-", "+", "!", "~")
# Parentheses, brackets, calls and `?:` may nest this deep. Chains (`a + b + ...`,
# `x && y && ...`, `- - - x`) do not count: they are parsed and checked in loops.
MAX_NESTING = 100
_TEMPLATES = ("static_cast", "RVec", "Construct")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        """The token `ahead` places on (the end token past the end)."""
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

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
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"the expression nests more than {MAX_NESTING} levels deep "
                             "(parentheses, calls, indices, ?:); split it into several "
                             "Defines")
        cond = self.binary(1)
        if self.tok.kind == "op" and self.tok.text == "?":
            question = self.advance()
            if_true = self.ternary()
            self.expect(":", question)
            if_false = self.ternary()
            cond = n.Ternary(cond.start, if_false.end, cond, if_true, if_false)
        self.depth -= 1
        return cond

    def binary(self, min_precedence: int) -> n.Node:
        """Precedence climbing: one loop per level actually used, not one frame per level."""
        left = self.unary()
        while self.tok.kind == "op":
            precedence = _PRECEDENCE.get(self.tok.text, 0)
            if precedence < min_precedence:
                break
            op = self.advance().text
            right = self.binary(precedence + 1)
            left = n.Binary(left.start, right.end, op, left, right)
        return left

    def unary(self) -> n.Node:
        """Prefix operators and C-style casts, read in a loop (500 of them are fine)."""
        prefixes: list[tuple[Token, DType | None]] = []
        while True:
            tok = self.tok
            if tok.kind == "op" and tok.text in _UNARY:
                self.advance()
                prefixes.append((tok, None))
                continue
            if tok.kind == "op" and tok.text in ("--", "++"):  # `- -x`, as hepflow always read it
                self.advance()
                half = Token("op", tok.text[0], tok.start, tok.start + 1)
                prefixes += [(half, None), (Token("op", tok.text[0], tok.start + 1, tok.end),
                                            None)]
                continue
            cast = self.c_style_cast()
            if cast is None:
                break
            prefixes.append((tok, cast))
        node = self.postfix(self.primary())
        for tok, cast in reversed(prefixes):
            node = n.Unary(tok.start, node.end, tok.text, node) if cast is None else \
                n.Cast(tok.start, node.end, cast, node)
        return node

    def c_style_cast(self) -> DType | None:
        """`(unsigned int)` and the like at the current token: consume it, give its type."""
        if not (self.tok.kind == "op" and self.tok.text == "("):
            return None
        words: list[str] = []
        k = self.pos + 1
        while self.tokens[k].kind == "name" and cxxtypes.is_type_word(self.tokens[k].text):
            words.append(self.tokens[k].text)
            k += 1
        close = self.tokens[k]
        if not words or not (close.kind == "op" and close.text == ")"):
            return None
        dtype = cxxtypes.type_from_words(words)
        if dtype is None:
            raise ExpressionError(f"`{' '.join(words)}` is not a C++ type hepflow knows",
                                  self.text, self.tok.start, close.end)
        self.pos = k + 1
        return dtype

    def template_argument(self, name: Token) -> DType:
        """`<T>` after static_cast, RVec or Construct."""
        opener = self.advance()
        words: list[str] = []
        while self.tok.kind == "name":
            words.append(self.advance().text)
        close = self.expect(">", opener)
        dtype = cxxtypes.type_from_words(words)
        if dtype is None:
            raise ExpressionError(f"`{' '.join(words) or 'nothing'}` is not a C++ type hepflow "
                                  f"knows, in {name.text}<...>", self.text, opener.start,
                                  close.end)
        return dtype

    def collection_class(self, tok: Token, base: str, vectors: bool = False
                         ) -> tuple[DType, int | None] | None:
        """The element type (and std::array's size) of `RVecD`, `RVec<T>`,
        `std::vector<T>` or `std::array<T, N>` just read as `tok`, its `<...>` consumed;
        None if `tok` names no collection class (nothing is consumed then). `T` is a
        number, or also a 4-vector class where `vectors` (a declaration's type:
        `ROOT::RVec<ROOT::Math::PxPyPzMVector> f(...)`)."""
        if base in cxxtypes.RVEC_ALIASES:
            return cxxtypes.RVEC_ALIASES[base], None
        is_class = base == "RVec" or tok.text in ("std::vector", "std::array")
        if not (is_class and self.tok.kind == "op" and self.tok.text == "<"):
            return None
        opener = self.advance()
        words: list[str] = []
        while self.tok.kind == "name":
            words.append(self.advance().text)
        size: int | None = None
        if tok.text == "std::array":
            self.expect(",", opener)
            number = self.tok
            if number.kind != "num" or not isinstance(number.value, int) or \
                    isinstance(number.value, bool) or number.value > 4096:
                raise self.error("std::array<T, N> needs a constant size N (at most 4096)")
            size = int(self.advance().value or 0)
        close = self.expect(">", opener)
        dtype = cxxtypes.type_from_words(words)
        if dtype is None or (dtype in cxxtypes.VECTORS.values() and not vectors):
            raise ExpressionError(f"`{' '.join(words) or 'nothing'}` is not a number type "
                                  f"hepflow knows, in {tok.text}<...>", self.text,
                                  opener.start, close.end)
        return dtype, size

    def brace_list(self, tok: Token, base: str) -> n.Node | None:
        """`RVecD{a, b}`, `RVec<T>{...}`, `std::vector<T>({...})`, `std::array<T, N>{...}`
        at `tok`; None (nothing consumed) if `tok` starts no such list."""
        start = self.pos
        found = self.collection_class(tok, base)
        if found is None:
            return None
        dtype, size = found
        if self.tok.kind == "op" and self.tok.text == "{":
            return self.brace_items(tok.start, dtype, size)
        paren = self.tok
        after = self.peek()
        if paren.kind == "op" and paren.text == "(" and after.kind == "op" and after.text == "{":
            self.advance()
            inner = self.brace_items(tok.start, dtype, size)
            close = self.expect(")", paren)
            return n.BraceList(tok.start, close.end, inner.dtype, inner.items, size)
        if base in cxxtypes.RVEC_ALIASES or base == "RVec":
            self.pos = start  # RVecD(n, v) and RVec<T>(n, v) are calls
            return None
        raise self.error(f"expected '{{' after {tok.text}<...>: build it from a brace list, "
                         f"e.g. {tok.text}<double>{{a, b}}")

    def brace_items(self, start: int, dtype: DType, size: int | None) -> n.BraceList:
        opener = self.advance()
        items: list[n.Node] = []
        while not (self.tok.kind == "op" and self.tok.text == "}"):
            items.append(self.ternary())
            if self.tok.kind == "op" and self.tok.text == ",":
                self.advance()
                continue
            break
        close = self.expect("}", opener)
        if size is not None and len(items) > size:
            raise ExpressionError(f"too many initializers for std::array of size {size}",
                                  self.text, start, close.end)
        return n.BraceList(start, close.end, dtype, tuple(items), size)

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

    def call(self, name: str, start: int, end: int, opener: Token,
             template: DType | None = None) -> n.Node:
        args: list[n.Node] = []
        if not (self.tok.kind == "op" and self.tok.text == ")"):
            while True:
                args.append(self.ternary())
                if self.tok.kind == "op" and self.tok.text == ",":
                    self.advance()
                    continue
                break
        close = self.expect(")", opener)
        if name == "static_cast" or (template is None and cxxtypes.single_word_type(name)
                                     not in (None, *VECTOR_DTYPES)):
            dtype = template if name == "static_cast" else cxxtypes.single_word_type(name)
            if dtype is None:
                raise ExpressionError("write static_cast<T>(x), with the type T in <...>",
                                      self.text, start, close.end)
            if len(args) != 1:
                raise ExpressionError(f"a conversion to {name} takes one value, got {len(args)}",
                                      self.text, start, close.end)
            return n.Cast(start, close.end, dtype, args[0])
        return n.Call(start, close.end, name, start, end, tuple(args), template)

    def primary(self) -> n.Node:
        tok = self.tok
        if tok.kind in ("num", "str"):
            self.advance()
            assert tok.value is not None
            return n.Literal(tok.start, tok.end, tok.value, tok.dtype)
        if tok.kind == "name":
            self.advance()
            base = cxxtypes.strip_namespace(tok.text)
            braced = self.brace_list(tok, base)
            if braced is not None:
                return braced
            if base in _TEMPLATES and self.tok.kind == "op" and self.tok.text == "<":
                template = self.template_argument(tok)
                opener = self.tok
                if not (opener.kind == "op" and opener.text == "("):
                    raise self.error(f"expected '(' after {tok.text}<...>")
                self.advance()
                return self.call(base, tok.start, tok.end, opener, template)
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
