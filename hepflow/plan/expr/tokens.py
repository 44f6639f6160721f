"""Tokens of the expression language (C++-flavoured, as RDataFrame users write it).

Tokens keep their character offsets so that every later error can point at the
user's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hepflow.errors import ExpressionError


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token and where it stands in the source text."""

    kind: str  # "num", "name", "op", "end"
    text: str
    start: int
    end: int
    value: int | float | bool | str | None = None


_NUMBER = re.compile(
    r"""
    (?P<hex>0[xX][0-9a-fA-F]+)(?P<hexsuf>[uUlL]*)
    | (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?P<fsuf>[fFlL]?)
    | (?P<int>\d+)(?P<isuf>[uUlL]*|[fF])
    """,
    re.VERBOSE,
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*")
_OPERATORS = (
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>",
    "+", "-", "*", "/", "%", "<", ">", "!", "~", "&", "|", "^",
    "(", ")", "[", "]", ",", "?", ":", ".",
)
_KEYWORDS = {"and": "&&", "or": "||", "not": "!"}


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, rejecting anything outside the language."""
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch in "\"'":
            tokens.append(_string(text, pos))
            pos = tokens[-1].end
            continue
        if ch.isdigit() or (ch == "." and pos + 1 < n and text[pos + 1].isdigit()):
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
                tokens.append(Token("num", word, pos, end, word in ("true", "True")))
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
    """A quoted string (only meaningful as an argument of rdfsampleinfo_ methods)."""
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
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        stop = end
        while stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
            stop += 1
        raise ExpressionError(f"malformed number {text[pos:stop]!r}", text, pos, stop)
    value: int | float
    if match.group("hex"):
        value = int(match.group("hex"), 16)
    elif match.group("float") is not None:
        value = float(match.group("float"))
    else:
        digits = match.group("int")
        value = float(digits) if match.group("isuf") in ("f", "F") else int(digits)
    return Token("num", text[pos:end], pos, end, value)


__all__ = ["Token", "tokenize"]
