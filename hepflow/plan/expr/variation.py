"""The values of one tag of a `Vary`, from ROOT's forms of the varied-values expression.

ROOT's `Vary(col, expr, tags)` takes any expression returning an RVec with one
entry per tag (`"x * ROOT::RVecD(2, 3.)"`, a declared `variationsFactory(...)`,
or a brace list `"ROOT::RVecD{x * 0.9, x * 1.1}"`), and the varied values have
the column's own type (ROOT refuses an RVec of another type, and a narrowing
conversion of a brace item, and so does hepflow). Each tag becomes an ordinary expression: the brace
items one by one, or the whole expression with its entry `tag` picked, where
the engine checks per event that there are exactly as many entries as tags
and names the Vary when not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from hepflow.core.types import ColumnType, DType, IntDType, int_range, scalar
from hepflow.errors import ExpressionError, PlanError
from hepflow.plan.expr import cxxtypes
from hepflow.plan.expr.typed import Expression, Unary, UnaryStep, VariationCall


@dataclass(frozen=True, slots=True)
class VariationPick:
    """Entry `tag` of each event's RVec of varied values, which must have `ntags`
    entries (the Vary's name is for the error message)."""

    tag: int
    ntags: int
    name: str


def converted(expr: Expression, column: ColumnType) -> Expression:
    """One item of ROOT's `RVec<T>{a, b}` (T the varied column's type), converted to T as
    C++'s list-initialisation converts: a narrowing conversion (`x * 0.9` of a double into
    a float column, any floating value into an integer one, a non-constant integer into a
    float) does not compile in ROOT, so it is refused here, with the fix."""
    numbers = ("bool", "int", "float")
    if expr.type == column or expr.type.kind != column.kind or \
            expr.type.category not in numbers or column.category not in numbers:
        return expr
    if column.kind == "scalar" and _narrowing(expr, column):
        raise ExpressionError(
            f"{expr.type} cannot be narrowed to the varied column's type {column} in "
            f"ROOT's RVec<{scalar(column.dtype)}>{{...}} (C++ refuses narrowing in braces); "
            f"write the value in {column}, e.g. ({scalar(column.dtype)})({expr.text})",
            expr.text, 0, len(expr.text))
    tree = Unary(column, (expr.tree,), (UnaryStep("cast", column),),
                 expr.tree.may_fail)
    return Expression(expr.text, tree, expr.columns)


def _narrowing(expr: Expression, column: ColumnType) -> bool:
    """C++'s narrowing conversion from the item's type to the column's ([dcl.init.list])."""
    src, dst = expr.type, column
    value = expr.tree.value if expr.tree.op == "const" else None
    if dst.category == "float":
        if value is not None:  # a constant that fits
            return False
        return src.category != "float" or (src.dtype == "float64" and dst.dtype == "float32")
    if src.category == "float":
        return True
    lo, hi = _limits(dst.dtype)
    if isinstance(value, (bool, int)):
        return not lo <= int(value) <= hi
    slo, shi = _limits(src.dtype)
    return not (lo <= slo and shi <= hi)


def _limits(dtype: DType) -> tuple[int, int]:
    return (0, 1) if dtype == "bool" else int_range(cast(IntDType, dtype))


def check_element_type(expr: Expression, ctype: ColumnType, name: str, column: str) -> None:
    """ROOT's Vary needs an RVec of exactly the column's type (an `RVecD` for a float column
    is a type mismatch in ROOT)."""
    if expr.type.kind == "jagged" and expr.type.dtype != ctype.dtype and \
            expr.type.category in ("bool", "int", "float"):
        raise ExpressionError(
            f"Vary {name!r}: the expression gives {expr.type}, but `{column}` is {ctype}; "
            f"ROOT's Vary needs an RVec<{scalar(ctype.dtype)}> (a type mismatch in ROOT), e.g. "
            f"ROOT::RVec<{scalar(ctype.dtype)}>{{...}} or a conversion of the values",
            expr.text, 0, len(expr.text))


def check_brace_type(text: str, prefix_type: DType | None, ctype: ColumnType, name: str,
                     column: str) -> None:
    """The `RVecD` of `RVecD{a, b}` must be the column's own type, as in ROOT: for a
    collection column an RVec of collections, `RVec<RVecF>{a, b}` (C++ cannot build
    an `RVecF` from two `RVecF`s)."""
    end = text.find("{")
    if prefix_type is not None and ctype.kind == "jagged":
        inner = f"ROOT::RVec<{scalar(ctype.dtype)}>"
        raise ExpressionError(
            f"Vary {name!r}: `{text[:end].strip()}` holds one {scalar(prefix_type)} per "
            f"item, but `{column}` is {ctype}; ROOT's Vary of a collection needs an RVec of "
            f"collections (C++ cannot build `{text[:end].strip()}` from collections), e.g. "
            f"ROOT::RVec<{inner}>{{...}}", text, 0, max(end, 1))
    if prefix_type is not None and prefix_type != ctype.dtype and ctype.kind == "scalar":
        raise ExpressionError(
            f"Vary {name!r}: `{text[:end].strip()}` holds {scalar(prefix_type)}, but "
            f"`{column}` is {ctype}; ROOT's Vary needs RVec<{scalar(ctype.dtype)}> (a type "
            f"mismatch in ROOT), e.g. ROOT::RVec<{scalar(ctype.dtype)}>{{...}}",
            text, 0, max(end, 1))


def brace_element_type(text: str) -> DType | None:
    """T of a `ROOT::RVecF{...}` / `RVec<float>{...}` prefix (None: bare or nested braces)."""
    prefix = cxxtypes.strip_namespace(text[:text.find("{")].strip())
    if prefix in cxxtypes.RVEC_ALIASES:
        return cxxtypes.RVEC_ALIASES[prefix]
    if prefix.startswith("RVec<") and prefix.endswith(">"):
        inner = cxxtypes.strip_namespace(prefix[5:-1].strip())
        return cxxtypes.single_word_type(inner) or cxxtypes.type_from_words(inner.split())
    return None


def picked(expr: Expression, tag: int, ntags: int, name: str, column: str,
           ctype: ColumnType) -> Expression:
    """Tag `tag`'s value of `column` from an expression giving every tag's values."""
    if ctype.kind != "scalar":
        raise PlanError(f"Vary {name!r}: a collection `{column}` ({ctype}) varies through one "
                        "expression per tag, e.g. 'RVec<RVecF>{" + column + " * 0.9f, "
                        + column + " * 1.1f}' or a list of expression strings")
    if expr.type.kind != "jagged" or expr.type.category not in ("bool", "int", "float"):
        raise PlanError(f"Vary {name!r}: the expression {expr.text!r} must give an RVec "
                        f"with one value of `{column}` per tag, but it gives {expr.type}")
    check_element_type(expr, ctype, name, column)
    tree = VariationCall(scalar(expr.type.dtype), (expr.tree,),
                         VariationPick(tag, ntags, name), True)
    return converted(Expression(f"({expr.text})[{tag}]", tree, expr.columns), ctype)


__all__ = ["VariationPick", "converted", "picked"]
