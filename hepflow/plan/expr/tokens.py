"""Tokens of the expression language (C++-flavoured, as RDataFrame users write it).

Tokens keep their character offsets so that every later error can point at the
user's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hepflow.core.types import DType, IntDType, int_range
from hepflow.errors import ExpressionError


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token and where it stands in the source text."""

    kind: str  # "num", "name", "op", "str", "end"
    text: str
    start: int
    end: int
    value: int | float | bool | str | None = None
    dtype: DType | None = None  # the C++ type of a number literal


_INT_SUFFIX = r"(?:[uU](?:ll|LL|[lL])?|(?:ll|LL|[lL])[uU]?)?"
_NUMBER = re.compile(
    r"""
    (?P<float>(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)
        (?P<fsuf>[fFlL]?)
    | (?P<hex>0[xX][0-9a-fA-F]+)(?P<hexsuf>""" + _INT_SUFFIX + r""")
    | (?P<int>[0-9]+)(?P<isuf>""" + _INT_SUFFIX + r""")
    """,
    re.VERBOSE,
)
# The C++ types an integer literal may take, in order ([lex.icon] table 8; `long`
# and `long long` are both 64 bits here, so the list stops at two widths).
_DECIMAL: dict[str, tuple[IntDType, ...]] = {
    "": ("int32", "int64"), "u": ("uint32", "uint64"), "l": ("int64",), "ll": ("int64",),
    "ul": ("uint64",), "ull": ("uint64",)}
_NON_DECIMAL: dict[str, tuple[IntDType, ...]] = {
    "": ("int32", "uint32", "int64", "uint64"), "u": ("uint32", "uint64"),
    "l": ("int64", "uint64"), "ll": ("int64", "uint64"), "ul": ("uint64",),
    "ull": ("uint64",)}
_MAX_DIGITS = 64  # longer than any integer type's largest value, in any base
_DIGITS = frozenset("0123456789")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*")
_OPERATORS = (
    "<<=", ">>=", "->", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "++", "--", "+=", "-=",
    "*=", "/=", "%=", "&=", "|=", "^=",
    "+", "-", "*", "/", "%", "<", ">", "!", "~", "&", "|", "^", "=",
    "(", ")", "[", "]", "{", "}", ",", "?", ":", ";", ".",
)
_KEYWORDS = {"and": "&&", "or": "||", "not": "!"}


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, rejecting anything outside the language."""
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if not ch.isascii():
            raise ExpressionError(f"non-ASCII character {ch!r} (U+{ord(ch):04X}) in expression; "
                                  "names and numbers are plain ASCII, as in C++", text, pos)
        if ch.isspace():
            pos += 1
            continue
        if ch in "\"'":
            tokens.append(_string(text, pos))
            pos = tokens[-1].end
            continue
        if ch in _DIGITS or (ch == "." and pos + 1 < n and text[pos + 1] in _DIGITS):
            tokens.append(_number(text, pos))
            pos = tokens[-1].end
            continue
        match = _NAME.match(text, pos)
        if match:
            word = match.group(0)
            end = match.end()
            if word in _KEYWORDS:
                tokens.append(Token("op", _KEYWORDS[word], pos, end))
            elif word in ("true", "false", "True", "False"):
                tokens.append(Token("num", word, pos, end, word in ("true", "True"), "bool"))
            else:
                tokens.append(Token("name", word, pos, end))
            pos = end
            continue
        for op in _OPERATORS:
            if text.startswith(op, pos):
                tokens.append(Token("op", op, pos, pos + len(op)))
                pos += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {ch!r} in expression", text, pos)
    tokens.append(Token("end", "", n, n))
    return tokens


def _string(text: str, pos: int) -> Token:
    """A quoted string: a std::string value in double quotes; single quotes only for the
    key of an rdfsampleinfo_ method (the checker refuses them elsewhere)."""
    quote = text[pos]
    out = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return Token("str", text[pos:i + 1], pos, i + 1, "".join(out))
        out.append(ch)
        i += 1
    raise ExpressionError("unterminated string", text, pos, len(text))


def _number(text: str, pos: int) -> Token:
    match = _NUMBER.match(text, pos)
    if match is None:  # pragma: no cover - guarded by the caller
        raise ExpressionError("malformed number", text, pos)
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        stop = end
        while stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
            stop += 1
        raise ExpressionError(f"malformed number {text[pos:stop][:40]!r}", text, pos, stop)
    literal = text[pos:end]
    if match.group("float") is not None:
        return _float(literal, match.group("float"), match.group("fsuf"), text, pos, end)
    if match.group("hex"):
        digits, base, suffix = match.group("hex")[2:], 16, match.group("hexsuf")
    else:
        digits, suffix = match.group("int"), match.group("isuf")
        base = 8 if len(digits) > 1 and digits[0] == "0" else 10
        if base == 8 and not set(digits) <= set("01234567"):
            raise ExpressionError(f"malformed number {literal!r}: a leading 0 makes an octal "
                                  "literal, whose digits are 0-7", text, pos, end)
    return _integer(literal, digits, base, suffix.lower(), text, pos, end)


def _integer(literal: str, digits: str, base: int, suffix: str, text: str, pos: int,
             end: int) -> Token:
    """An integer literal with the first C++ type of its list that holds its value."""
    suffix = ("u" if "u" in suffix else "") + suffix.replace("u", "")  # "lu" is "ul"
    candidates = (_DECIMAL if base == 10 else _NON_DECIMAL)[suffix]
    significant = digits.lstrip("0")
    value = int(significant, base) if significant and len(significant) <= _MAX_DIGITS else \
        0 if not significant else None
    for dtype in candidates:
        if value is not None and value <= int_range(dtype)[1]:
            return Token("num", literal, pos, end, value, dtype)
    shown = literal if len(literal) <= 30 else f"{literal[:12]}...{literal[-6:]}"
    if value is not None and base == 10 and "u" not in suffix and value <= 2**64 - 1:
        raise ExpressionError(f"integer literal {shown} is too large for `long`", text, pos, end,
                              f"write {literal}u for an unsigned long, as in C++")
    raise ExpressionError(f"integer literal {shown} is too large for any C++ integer type "
                          "(at most 18446744073709551615)", text, pos, end)


def _float(literal: str, number: str, suffix: str, text: str, pos: int, end: int) -> Token:
    value = float(number)
    if suffix in ("f", "F"):
        with np.errstate(over="ignore"):
            value = float(np.float32(value))
        dtype: DType = "float32"
    else:
        dtype = "float64"
    if value == float("inf"):
        shown = literal if len(literal) <= 30 else f"{literal[:12]}...{literal[-6:]}"
        raise ExpressionError(f"floating-point literal {shown} is too large for "
                              f"{'float' if dtype == 'float32' else 'double'}", text, pos, end)
    return Token("num", literal, pos, end, value, dtype)


__all__ = ["Token", "tokenize"]
