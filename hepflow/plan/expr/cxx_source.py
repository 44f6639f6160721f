"""C++ function definitions, as ROOT users pass them to `gInterpreter.Declare`.

    double weights(float sf1, float sf2, double xsec) { return sf1 * sf2 * xsec; }

A source is a sequence of function definitions in the statement subset of
`statement_parser`; comments and preprocessor lines (`#include <cmath>`) are
skipped. Parameters and return types are numbers, 4-vectors or RVecs
(`const ROOT::RVecF &pt`). Anything else (classes, templates, globals) is an
`ExpressionError` naming the construct, with a caret in the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hepflow.core.types import ColumnType
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.statement_parser import _StatementParser

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/|^[ \t]*#[^\n]*", re.DOTALL | re.MULTILINE)
_SPECIFIERS = ("inline", "static", "constexpr")


@dataclass(frozen=True, slots=True)
class CxxFunction:
    """One parsed definition; spans of its statements are offsets into `source`."""

    name: str
    params: tuple[tuple[str, ColumnType], ...]
    return_type: ColumnType
    body: s.Body
    source: str
    start: int
    end: int


def blank_comments(source: str) -> str:
    """`source` with comments and preprocessor lines turned into spaces (offsets kept)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


class _SourceParser(_StatementParser):
    def functions(self) -> list[CxxFunction]:
        self.refuse_outside()
        out: list[CxxFunction] = []
        while self.tok.kind != "end":
            out.append(self.function())
        if not out:
            raise self.error("no function definition in the C++ source")
        return out

    def function(self) -> CxxFunction:
        while self.tok.kind == "name" and self.tok.text in _SPECIFIERS:
            self.advance()
        first = self.tok
        if first.kind == "name" and first.text == "void":
            raise self.error("a function returning void computes no column")
        declared = self.declaration_type()
        if declared is None:
            raise self.error("expected a function definition: `double name(float x, ...) "
                             "{ ... }`")
        return_type = declared[0]
        if return_type is None:
            raise self.error("write the function's return type instead of `auto`", first)
        name = self.advance()
        opener = self.expect("(")
        params: list[tuple[str, ColumnType]] = []
        while not self.is_op(")"):
            ptype = self.declaration_type()
            if ptype is None or ptype[0] is None:
                raise self.error("expected a parameter: a type and a name (e.g. `float pt`, "
                                 "`const ROOT::RVecF &pt`)")
            pname = self.advance()
            if any(pname.text == p for p, _ in params):
                raise self.error(f"parameter `{pname.text}` is declared twice", pname)
            params.append((pname.text, ptype[0]))
            if self.is_op("="):
                raise self.error("default arguments are not supported")
            if not self.is_op(","):
                break
            self.advance()
        self.expect(")", opener)
        if self.is_word("const"):
            raise self.error("member functions are outside the subset (classes)")
        if not self.is_op("{"):
            raise self.error("expected the function's body in { ... }")
        self.return_type = return_type
        self.randoms = {}  # a function's thread_local objects are its own
        block = self.block()
        return CxxFunction(name.text, tuple(params), return_type, s.Body(block.body),
                           self.text, first.start, block.end)


def parse_source(source: str) -> list[CxxFunction]:
    """The function definitions in `source`, or an `ExpressionError` with a caret."""
    return _SourceParser(blank_comments(source)).functions()


__all__ = ["CxxFunction", "blank_comments", "parse_source"]
