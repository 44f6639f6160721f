"""Type checking: resolve names against the schema and functions against the whitelist.

This is where a typo in a column name, indexing a flat branch, or calling an
unknown function fails, at graph-build time, with the user's text and a caret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hepflow.errors import ExpressionError, did_you_mean
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import sampleinfo
from hepflow.plan.expr.functions import (
    CONSTANTS,
    FUNCTIONS,
    SignatureError,
    resolve_function,
)
from hepflow.plan.expr.parser import parse
from hepflow.plan.expr.typed import Expression, Typed
from hepflow.plan.types import UNKNOWN, ColumnType, jagged, promote, scalar

_ARITH = {"+", "-", "*", "/", "%"}
_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_BITWISE = {"&", "|", "^", "<<", ">>"}


class _Checker:
    def __init__(self, text: str, schema: Mapping[str, ColumnType],
                 samples: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.text = text
        self.schema = schema
        self.samples = samples
        self.columns: set[str] = set()

    def fail(self, message: str, node: n.Node, hint: str = "") -> ExpressionError:
        return ExpressionError(message, self.text, node.start, node.end, hint)

    def check(self, node: n.Node) -> Typed:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:  # pragma: no cover - every node class has a visitor
            raise self.fail(f"unsupported syntax {type(node).__name__}", node)
        typed: Typed = method(node)
        return typed

    def visit_Literal(self, node: n.Literal) -> Typed:
        value = node.value
        if isinstance(value, str):
            raise self.fail("strings are only allowed as arguments of rdfsampleinfo_ methods",
                            node)
        dtype = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
        return Typed("const", scalar(dtype), value=value)

    def visit_Name(self, node: n.Name) -> Typed:
        name = node.name
        if name == sampleinfo.NAME:
            raise self.fail('use a method of rdfsampleinfo_, e.g. rdfsampleinfo_.GetD("xsec")',
                            node)
        if name in self.schema:
            self.columns.add(name)
            return Typed("col", self.schema[name], value=name)
        if name in CONSTANTS:
            return Typed("const", scalar("float"), value=CONSTANTS[name])
        if resolve_function(name) is not None:
            raise self.fail(f"`{name}` is a function; call it with parentheses", node)
        hint = did_you_mean(name, self.schema)
        raise self.fail(f"unknown column `{name}`", node, hint)

    def visit_Attribute(self, node: n.Attribute) -> Typed:
        raise self.fail(f"`.{node.attr}` is not supported here; use functions such as "
                        "size(v) instead of methods", node)

    def visit_Unary(self, node: n.Unary) -> Typed:
        arg = self.check(node.operand)
        self.numeric(arg, node.operand, node.op)
        if node.op == "!":
            return Typed("unary", ColumnType(arg.type.kind, "bool"), (arg,), "!", arg.may_fail)
        if node.op == "~" and arg.type.dtype == "float":
            raise self.fail("`~` needs an integer operand", node)
        dtype = "int" if arg.type.dtype == "bool" else arg.type.dtype
        if isinstance(arg.value, (int, float)) and arg.op == "const" and node.op == "-":
            # -true is the int -1: the folded constant takes the promoted type
            return Typed("const", ColumnType(arg.type.kind, dtype), value=-arg.value)
        return Typed("unary", ColumnType(arg.type.kind, dtype), (arg,), node.op, arg.may_fail)

    def visit_Binary(self, node: n.Binary) -> Typed:
        by_name = sampleinfo.name_equals(node, self.text)
        if by_name is not None:
            return by_name
        left = self.check(node.left)
        right = self.check(node.right)
        self.numeric(left, node.left, node.op)
        self.numeric(right, node.right, node.op)
        kind = "jagged" if "jagged" in (left.type.kind, right.type.kind) else "scalar"
        may_fail = left.may_fail or right.may_fail
        if node.op in ("&&", "||"):
            op = "and" if node.op == "&&" else "or"
            return Typed(op, ColumnType(kind, "bool"), (left, right), may_fail=may_fail)
        if node.op in _COMPARE:
            return Typed("binary", ColumnType(kind, "bool"), (left, right), node.op, may_fail)
        if node.op in _BITWISE:
            if "float" in (left.type.dtype, right.type.dtype):
                raise self.fail(f"`{node.op}` needs integer or boolean operands", node)
            dtype = "bool" if left.type.dtype == right.type.dtype == "bool" and \
                node.op in ("&", "|", "^") else "int"
            return Typed("binary", ColumnType(kind, dtype), (left, right), node.op, may_fail)
        dtype = promote(left.type.dtype, right.type.dtype)
        if node.op in ("/", "%") and dtype == "int" and \
                not (right.op == "const" and right.value != 0):
            may_fail = True  # integer division by zero: guard it like an index
        return Typed("binary", ColumnType(kind, dtype), (left, right), node.op, may_fail)

    def visit_Ternary(self, node: n.Ternary) -> Typed:
        cond = self.check(node.condition)
        if_true = self.check(node.if_true)
        if_false = self.check(node.if_false)
        for sub, raw in ((cond, node.condition), (if_true, node.if_true),
                         (if_false, node.if_false)):
            self.numeric(sub, raw, "?:")
        kinds = {cond.type.kind, if_true.type.kind, if_false.type.kind}
        kind = "jagged" if "jagged" in kinds else "scalar"
        a, b = if_true.type.dtype, if_false.type.dtype
        dtype = a if a == b else promote(a, b)
        may_fail = cond.may_fail or if_true.may_fail or if_false.may_fail
        return Typed("ternary", ColumnType(kind, dtype), (cond, if_true, if_false),
                     may_fail=may_fail)

    def visit_Index(self, node: n.Index) -> Typed:
        base = self.check(node.base)
        index = self.check(node.index)
        btype, itype = base.type, index.type
        may_fail = base.may_fail or index.may_fail
        if btype.kind == "scalar":
            what = f"`{self.text[node.base.start:node.base.end]}`"
            raise self.fail(f"cannot index {what} ({btype}): it holds one value per event, "
                            "not a collection", node)
        if btype.kind == "combos":
            if index.op != "const" or not isinstance(index.value, int) or \
                    isinstance(index.value, bool) or not 0 <= index.value < btype.ncomb:
                raise self.fail(f"Combinations give {btype.ncomb} index lists; index them with "
                                f"a constant 0..{btype.ncomb - 1}", node.index)
            return Typed("index", jagged("int"), (base, index), "combo", may_fail)
        if btype.kind == "unknown" or itype.kind == "unknown":
            return Typed("index", UNKNOWN, (base, index), "unknown", True)
        if itype.kind == "scalar":
            if itype.dtype != "int":
                raise self.fail(f"an index must be an integer, not {itype}", node.index)
            if index.op == "const" and isinstance(index.value, int) and index.value < 0:
                raise self.fail("negative indices are not allowed (as in C++)", node.index)
            return Typed("index", scalar(btype.dtype), (base, index), "element", True)
        if itype.kind == "jagged" and itype.dtype == "bool":
            return Typed("index", btype, (base, index), "mask", may_fail)
        if itype.kind == "jagged" and itype.dtype == "int":
            return Typed("index", btype, (base, index), "take", True)
        raise self.fail(f"cannot index a collection with {itype}", node.index)

    def visit_Call(self, node: n.Call) -> Typed:
        if sampleinfo.is_sampleinfo_call(node):
            return sampleinfo.check_call(node, self.text, self.samples)
        canonical = resolve_function(node.func)
        if canonical is None:
            name = node.func.lstrip(".")
            hint = did_you_mean(name.split("::")[-1], FUNCTIONS)
            raise ExpressionError(f"unknown function `{name}`", self.text, node.func_start,
                                  node.func_end, hint)
        spec = FUNCTIONS[canonical]
        if not spec.min_args <= len(node.args) <= spec.max_args:
            want = str(spec.min_args) if spec.min_args == spec.max_args else \
                f"{spec.min_args} to {spec.max_args}"
            raise self.fail(f"{canonical} takes {want} argument(s), got {len(node.args)}", node)
        args = tuple(self.check(a) for a in node.args)
        try:
            rtype = spec.rule([a.type for a in args])
        except SignatureError as exc:
            where = node.args[exc.arg] if exc.arg is not None else node
            raise self.fail(str(exc), where) from None
        value: object = canonical
        if canonical == "Combinations" and rtype.ncomb == -1:
            k = args[1]
            if k.op != "const" or not isinstance(k.value, int) or k.value < 1:
                raise self.fail("Combinations(v, n) needs a positive constant n", node.args[1])
            rtype = ColumnType("combos", "int", int(k.value))
        may_fail = spec.may_fail or any(a.may_fail for a in args)
        return Typed("call", rtype, args, value, may_fail)

    def numeric(self, typed: Typed, node: n.Node, op: str) -> None:
        if typed.type.kind == "combos":
            raise self.fail(f"`{op}` cannot be applied to Combinations; index them first", node)
        if typed.type.dtype == "other" and typed.type.kind != "unknown":
            raise self.fail(f"`{op}` cannot be applied to a column of type {typed.type}", node)


def compile_expression(text: str, schema: Mapping[str, ColumnType],
                       samples: Mapping[str, Mapping[str, Any]] | None = None) -> Expression:
    """Parse and type-check `text` against the columns in `schema`.

    `samples` (sample name → metadata), when known, lets `rdfsampleinfo_`
    lookups be checked at build time.
    """
    tree = parse(text)
    checker = _Checker(text, schema, samples)
    typed = checker.check(tree)
    return Expression(text, typed, frozenset(checker.columns))


__all__ = ["compile_expression"]
