"""Parse a C++ lambda body, as ROOT takes one in a `Define` string that contains `return`.

The subset is what analyses write: typed and `auto` locals, assignment and
compound assignment, `++`/`--`, `if`/`else`, `while`, classic and range `for`,
`break`, `continue` and `return`. Expressions are the expression parser's. What
lies outside (classes, pointers, new/delete, templates of one's own, I/O, goto,
...) is an `ExpressionError` naming the construct, with a caret under it.
"""

from __future__ import annotations

from typing import Final, cast

from hepflow.core.types import ColumnType, jagged, scalar
from hepflow.errors import ExpressionError
from hepflow.plan.expr import cxxtypes
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.random_parser import _RandomParser
from hepflow.plan.expr.tokens import Token

# Words that start C++ this subset does not take, and what to call them in the error.
_OUTSIDE: Final[dict[str, str]] = {
    "class": "classes", "struct": "classes", "union": "classes", "enum": "enums",
    "new": "new/delete", "delete": "new/delete", "template": "templates of one's own",
    "typename": "templates of one's own", "goto": "goto", "switch": "switch",
    "case": "switch", "do": "do-while loops", "try": "exceptions", "catch": "exceptions",
    "throw": "exceptions", "static": "static locals", "typedef": "type aliases",
    "using": "type aliases", "namespace": "namespaces", "operator": "operators of one's own",
    "this": "classes", "nullptr": "pointers", "NULL": "pointers", "std::cout": "I/O",
    "std::cerr": "I/O", "std::endl": "I/O", "cout": "I/O", "printf": "I/O",
    "std::printf": "I/O", "puts": "I/O", "sizeof": "sizeof", "asm": "assembly",
    "extern": "declarations of one's own", "virtual": "classes", "friend": "classes",
    "mutable": "classes", "volatile": "volatile", "register": "register",
    "co_await": "coroutines", "co_return": "coroutines",
    "static_assert": "static_assert", "decltype": "decltype", "reinterpret_cast": "pointers",
    "const_cast": "const_cast", "dynamic_cast": "classes", "typeid": "RTTI",
    "std::function": "std::function", "std::string": "strings as locals",
    **dict.fromkeys(("std::mt19937_64", "std::default_random_engine", "std::minstd_rand",
                     "std::ranlux48", "std::uniform_int_distribution", "std::poisson_distribution",
                     "std::exponential_distribution", "TRandom", "TRandom3", "gRandom", "rand",
                     "std::rand", "srand", "std::srand", "drand48"),
                    "random number generators"),
}
_HINTS: Final[dict[str, str]] = {
    "random number generators": "hepflow runs std::mt19937 with std::normal_distribution "
    "and std::uniform_real_distribution declared thread_local, as libstdc++ computes them; "
    "for other generators compute random factors in a seeded Python function given to "
    "hepflow.Declare(name, func, arg_types, return_type)"}
_ASSIGN: Final = ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=")
_QUALIFIERS: Final = ("const", "constexpr")
MAX_STATEMENTS = 10_000


def is_body(tokens: list[Token]) -> bool:
    """ROOT's rule: a string with `return` in it is a lambda body, else an expression."""
    return any(t.kind == "name" and t.text == "return" for t in tokens)


class _StatementParser(_RandomParser):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.count = 0
        self.return_type: ColumnType | None = None  # a declared function's, for `return {..}`

    def refuse_outside(self) -> None:
        for tok in self.tokens:
            if tok.kind == "name" and tok.text in _OUTSIDE:
                what = _OUTSIDE[tok.text]
                raise ExpressionError(f"`{tok.text}`: {what} are outside the C++ that hepflow "
                                      "runs", self.text, tok.start, tok.end,
                                      _HINTS.get(what, ""))

    def is_op(self, text: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "op" and tok.text == text

    def is_word(self, text: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == text

    def body(self) -> s.Body:
        self.refuse_outside()
        statements: list[s.Statement] = []
        while self.tok.kind != "end":
            statements.append(self.statement())
        return s.Body(tuple(statements))

    def statement(self) -> s.Statement:
        self.count += 1
        self.depth += 1
        if self.count > MAX_STATEMENTS or self.depth > 100:
            raise self.error("the body is too long or nests too deeply; split it into "
                             "several Defines")
        tok = self.tok
        stmt = self.dispatch(tok)
        self.depth -= 1
        return stmt

    def dispatch(self, tok: Token) -> s.Statement:
        if self.is_op("{"):
            return self.block()
        if self.is_op(";"):
            self.advance()
            return s.Block(tok.start, tok.end, ())
        word = tok.text if tok.kind == "name" else ""
        keyword = {"if": self.if_statement, "while": self.while_statement,
                   "for": self.for_statement, "return": self.return_statement,
                   "break": self.jump, "continue": self.jump}.get(word)
        if keyword is not None:
            return keyword()
        if word == "else":
            raise self.error("`else` without a matching `if`")
        stmt = self.simple()
        self.statement_end()
        return stmt

    def statement_end(self) -> Token:
        """The `;` after a statement; at the very end of a Define string it may be left
        out, as ROOT appends one to the body it compiles (the AGC writes
        `"return Map(...)"`)."""
        if self.tok.kind == "end" and self.depth == 1 and self.return_type is None:
            return self.tok
        return self.expect(";")

    def block(self) -> s.Block:
        opener = self.advance()
        body: list[s.Statement] = []
        while not self.is_op("}"):
            if self.tok.kind == "end":
                raise self.error(f"expected '}}' to close the '{{' at offset {opener.start}")
            body.append(self.statement())
        close = self.advance()
        return s.Block(opener.start, close.end, tuple(body))

    def condition(self) -> n.Node:
        opener = self.expect("(")
        cond = self.ternary()
        self.expect(")", opener)
        return cond

    def if_statement(self) -> s.If:
        start = self.advance().start
        cond = self.condition()
        then = self.statement()
        otherwise = None
        if self.is_word("else"):
            self.advance()
            otherwise = self.statement()
        end = (otherwise or then).end
        return s.If(start, end, cond, then, otherwise)

    def while_statement(self) -> s.While:
        start = self.advance().start
        cond = self.condition()
        body = self.statement()
        return s.While(start, body.end, cond, body)

    def for_statement(self) -> s.Statement:
        start = self.advance().start
        opener = self.expect("(")
        declared = self.declaration_type()
        if declared is not None and self.tok.kind == "name" and \
                self.is_op(":", self.peek()):
            name = self.advance().text
            self.advance()
            collection = self.ternary()
            self.expect(")", opener)
            body = self.statement()
            return s.RangeFor(start, body.end, name, declared[0], collection, body)
        init = None
        if declared is not None:
            init = self.declarators(declared[0], declared[1], declared[2])
        elif not self.is_op(";"):
            init = self.simple()
        self.expect(";")
        cond = None if self.is_op(";") else self.ternary()
        self.expect(";")
        step = None if self.is_op(")") else self.simple()
        self.expect(")", opener)
        body = self.statement()
        return s.For(start, body.end, init, cond, step, body)

    def return_statement(self) -> s.Return:
        tok = self.advance()
        if self.is_op(";"):
            raise self.error("`return;` without a value: a Define body returns the column's "
                             "value")
        if self.is_op("{"):
            if self.return_type is None or self.return_type.kind != "jagged":
                raise self.error("`return {...}` needs a function declared to return an RVec; "
                                 "write the type, e.g. `return ROOT::RVecD{a, b};`")
            value: n.Node = self.brace_items(self.tok.start, self.return_type.dtype, None)
        else:
            value = self.ternary()
        end = self.statement_end().end
        return s.Return(tok.start, end, value)

    def jump(self) -> s.Statement:
        tok = self.advance()
        end = self.statement_end().end
        return s.Break(tok.start, end) if tok.text == "break" else s.Continue(tok.start, end)

    def simple(self) -> s.Statement:
        """A declaration, an assignment, `x++`/`++x`, or an expression statement."""
        random = self.random_declaration()
        if random is not None:
            return random
        declared = self.declaration_type()
        if declared is not None:
            return self.declarators(*declared)
        tok = self.tok
        if self.is_op("++") or self.is_op("--"):
            self.advance()
            target = self.tok
            if target.kind != "name":
                raise self.error(f"`{tok.text}` applies to a local variable")
            self.advance()
            return self.increment(target, tok, tok.start, target.end)
        target = self.tok
        if target.kind == "name" and self.peek().kind == "op":
            after = self.peek()
            if after.text in ("++", "--"):
                self.pos += 2
                return self.increment(target, after, target.start, after.end)
            if after.text in _ASSIGN:
                self.pos += 2
                value = self.ternary()
                return s.Assign(target.start, value.end, target.text,
                                cast(s.AssignOp, after.text), value)
        value = self.ternary()
        op = self.tok
        if op.kind == "op" and op.text in (*_ASSIGN, "++", "--"):
            if not (isinstance(value, n.Index) and isinstance(value.base, n.Name)):
                raise self.error("only a local variable or an element of a local collection "
                                 "can be assigned to")
            self.advance()
            rhs: n.Node = n.Literal(op.start, op.end, 1, "int32") if op.text in ("++", "--") \
                else self.ternary()
            kind = {"++": "+=", "--": "-="}.get(op.text, op.text)
            return s.AssignElement(value.start, rhs.end, value.base.name, value.index,
                                   cast(s.AssignOp, kind), rhs)
        if isinstance(value, n.Draw):
            raise ExpressionError("this draw's value is not used: hepflow draws a number only "
                                  "where a value is computed", self.text, value.start, value.end)
        return self.generated(value) or s.Evaluate(value.start, value.end, value)

    def generated(self, value: n.Node) -> s.Statement | None:
        """`std::generate(std::begin(v), std::end(v), []() { return e; });` as the loop it
        is: `v[i] = e` for each element of the local collection `v`, in order."""
        if not (isinstance(value, n.Call) and value.func == "std::generate"):
            return None
        shape = ("std::generate(std::begin(v), std::end(v), []() { return value; }) over a "
                 "local collection v, with a lambda of no parameter whose body is one return")
        if len(value.args) != 3:
            raise ExpressionError(f"write {shape}", self.text, value.start, value.end)
        first, last, lam = value.args
        names = {_iterated(first, "begin"), _iterated(last, "end")}
        body = lam.body if isinstance(lam, n.Lambda) and not lam.params else None
        if len(names) != 1 or None in names or not isinstance(body, s.Body) or \
                len(body.statements) != 1 or not isinstance(body.statements[0], s.Return):
            raise ExpressionError(f"write {shape}", self.text, value.start, value.end)
        target = names.pop()
        assert target is not None
        result = body.statements[0].value
        start, end = value.start, value.end
        i = f"__generate_{start}"
        index = n.Name(start, end, i)
        size = n.Call(start, end, ".size", start, end, (n.Name(start, end, target),))
        return s.For(start, end, s.Declare(start, end, i, scalar("uint64"),
                                           n.Literal(start, end, 0, "uint64")),
                     n.Binary(start, end, "<", index, size),
                     s.Assign(start, end, i, "+=", n.Literal(start, end, 1, "uint64")),
                     s.AssignElement(start, end, target, index, "=", result))

    def increment(self, target: Token, op: Token, start: int, end: int) -> s.Assign:
        one = n.Literal(op.start, op.end, 1, "int32")
        return s.Assign(start, end, target.text, "+=" if op.text == "++" else "-=", one)

    def declaration_type(self) -> tuple[ColumnType | None, int | None, Token] | None:
        """A declaration's type at the current token (`double`, `const auto&`,
        `unsigned int`, `ROOT::RVecF`, `std::array<double, 2>`), consumed when followed
        by a name: (type or None for auto, std::array's size, first token); else None
        with nothing consumed."""
        start = self.pos
        first = self.tok
        while self.tok.kind == "name" and self.tok.text in _QUALIFIERS:
            self.advance()
        tok = self.tok
        found: tuple[ColumnType | None, int | None] | None = None
        if tok.kind == "name" and tok.text == "auto":
            self.advance()
            found = (None, None)
        elif tok.kind == "name" and tok.text in cxxtypes.VECTORS:
            self.advance()
            found = (scalar(cxxtypes.VECTORS[tok.text]), None)
        elif tok.kind == "name":
            words: list[str] = []
            while self.tok.kind == "name" and cxxtypes.is_type_word(self.tok.text):
                words.append(self.advance().text)
            if words:
                dtype = cxxtypes.type_from_words(words)
                if dtype is None:
                    raise ExpressionError(f"`{' '.join(words)}` is not a C++ type hepflow "
                                          "knows", self.text, tok.start, self.tok.start)
                found = (scalar(dtype), None)
            else:
                self.advance()
                base = cxxtypes.strip_namespace(tok.text)
                collection = self.collection_class(tok, base, vectors=True)
                if collection is not None:
                    found = (jagged(collection[0]), collection[1])
        while found is not None and (self.is_op("&") or self.is_op("&&") or
                                     self.is_word("const")):
            self.advance()
        if found is None or self.tok.kind != "name":
            if found is not None and self.is_op("*"):
                raise self.error("pointers are outside the C++ that hepflow runs")
            self.pos = start
            return None
        return found[0], found[1], first

    def primary(self) -> n.Node:
        if self.is_op("["):
            return self.lambda_expression()
        return super().primary()

    def lambda_expression(self) -> n.Lambda:
        """`[capture](params) -> type { body }`, as ROOT users pass to `Map`."""
        opener = self.advance()
        capture = ""
        if self.is_op("&") or self.is_op("="):
            capture = self.advance().text
        if not self.is_op("]"):
            raise self.error("a lambda captures nothing, everything by reference [&] or by "
                             "copy [=]; named captures are not supported")
        self.advance()
        paren = self.expect("(")
        params: list[tuple[str, ColumnType | None]] = []
        while not self.is_op(")"):
            declared = self.declaration_type()
            if declared is None:
                raise self.error("expected a parameter: a type and a name (e.g. `float x`)")
            pname = self.advance()
            if declared[0] is not None and declared[0].kind != "scalar":
                raise self.error("a lambda for Map takes single elements, not collections",
                                 pname)
            params.append((pname.text, declared[0]))
            if not self.is_op(","):
                break
            self.advance()
        self.expect(")", paren)
        return_type: ColumnType | None = None
        if self.is_op("->"):
            self.advance()
            words: list[str] = []
            while self.tok.kind == "name" and cxxtypes.is_type_word(self.tok.text):
                words.append(self.advance().text)
            dtype = cxxtypes.type_from_words(words) if words else None
            if dtype is None:
                raise self.error("expected a number type after `->`")
            return_type = scalar(dtype)
        if not self.is_op("{"):
            raise self.error("expected the lambda's body in { ... }")
        outer = self.return_type
        self.return_type = None
        block = self.block()
        self.return_type = outer
        return n.Lambda(opener.start, block.end, tuple(params), return_type, capture,
                        s.Body(block.body))

    def vector_initializer(self, name: Token, type_: ColumnType) -> n.Node:
        """`PtEtaPhiMVector p(pt, eta, phi, m)` or `{...}`: the 4-vector's constructor."""
        opener = self.advance()
        args, close = _vector_args(self, opener)
        return n.Call(name.start, close.end, str(type_.dtype), name.start, name.end,
                      tuple(args))

    def declarators(self, type_: ColumnType | None, size: int | None,
                    first: Token) -> s.Statement:
        """`T a = 1, b, c{2}`: one Declare per name (a list is not a scope of its own)."""
        out: list[s.Statement] = []
        while True:
            name = self.advance()
            if cxxtypes.is_type_word(name.text) or name.text in ("auto", "return", "if"):
                raise self.error(f"`{name.text}` cannot name a variable", name)
            init = self.initializer(name, type_, size)
            if type_ is None and init is None:
                raise self.error(f"`auto {name.text}` needs an initial value", name)
            end = init.end if init is not None else name.end
            out.append(s.Declare(first.start, end, name.text, type_, init))
            if not self.is_op(","):
                break
            self.advance()
            if self.tok.kind != "name":
                raise self.error("expected a variable name after ','")
        return out[0] if len(out) == 1 else s.Block(first.start, out[-1].end, tuple(out), False)

    def initializer(self, name: Token, type_: ColumnType | None,
                    size: int | None) -> n.Node | None:
        if type_ is not None and type_.category == "vector" and \
                (self.is_op("(") or self.is_op("{")):
            return self.vector_initializer(name, type_)
        if self.is_op("="):
            self.advance()
            if self.is_op("{") and type_ is not None and type_.kind == "jagged":
                return self.brace_items(name.start, type_.dtype, size)
            return self.ternary()
        if self.is_op("{"):
            if type_ is not None and type_.kind == "jagged":
                return self.brace_items(name.start, type_.dtype, size)
            opener = self.advance()
            value = None if self.is_op("}") else self.ternary()
            self.expect("}", opener)
            return value if value is not None else \
                n.Literal(opener.start, opener.end, 0, "int32")
        if self.is_op("("):
            opener = self.advance()
            args: list[n.Node] = []
            while not self.is_op(")"):
                args.append(self.ternary())
                if not self.is_op(","):
                    break
                self.advance()
            close = self.expect(")", opener)
            if type_ is not None and type_.kind == "jagged":
                return n.Call(name.start, close.end, "RVec", name.start, name.end, tuple(args),
                              type_.dtype)
            if len(args) != 1:
                raise ExpressionError(f"`{name.text}(...)` takes one value", self.text,
                                      opener.start, close.end)
            return args[0]
        if type_ is not None and type_.kind == "jagged":
            return n.BraceList(name.start, name.end, type_.dtype, (), size)
        return None


def _iterated(node: n.Node, which: str) -> str | None:
    """`v` of `std::begin(v)` / `v.begin()` (`which` "begin" or "end"), else None."""
    if isinstance(node, n.Call) and node.func in (f"std::{which}", f".{which}") and \
            len(node.args) == 1 and isinstance(node.args[0], n.Name):
        return node.args[0].name
    return None


def _vector_args(parser: _StatementParser, opener: Token) -> tuple[list[n.Node], Token]:
    close_text = ")" if opener.text == "(" else "}"
    args: list[n.Node] = []
    while not parser.is_op(close_text):
        args.append(parser.ternary())
        if not parser.is_op(","):
            break
        parser.advance()
    return args, parser.expect(close_text, opener)


def parse_body(text: str) -> s.Body:
    """Parse a lambda body into statements, or raise `ExpressionError`."""
    return _StatementParser(text).body()


def returns_only_in_lambdas(tokens: list[Token]) -> bool:
    """Whether a string is one expression holding a lambda, its every `return` inside the
    lambda's braces (`Map(v, [](float x) { return x; })`): ROOT reads it as a body, since
    it contains `return`, and that body returns nothing."""
    depth, lambda_seen = 0, False
    for k, tok in enumerate(tokens):
        if tok.kind == "op" and tok.text in ("{", "}"):
            depth += 1 if tok.text == "{" else -1
        elif depth <= 0 and ((tok.kind == "name" and tok.text == "return") or
                             (tok.kind == "op" and tok.text == ";")):
            return False
        elif tok.kind == "op" and tok.text == "[" and k and tokens[k - 1].kind == "op" and \
                tokens[k - 1].text in ("(", ","):
            lambda_seen = True
    return lambda_seen


__all__ = ["MAX_STATEMENTS", "is_body", "parse_body", "returns_only_in_lambdas"]
