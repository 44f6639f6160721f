"""The values of one tag of a `Vary`, from ROOT's forms of the varied-values expression.

ROOT's `Vary(col, expr, tags)` takes any expression returning an RVec with one
entry per tag (`"x * ROOT::RVecD(2, 3.)"`, a declared `variationsFactory(...)`,
or a brace list `"ROOT::RVecD{x * 0.9, x * 1.1}"`), and the varied values have
the column's own type. Each tag becomes an ordinary expression: the brace
items one by one, or the whole expression with its entry `tag` picked, where
the engine checks per event that there are exactly as many entries as tags
and names the Vary when not.
"""

from __future__ import annotations

from dataclasses import dataclass

from hepflow.core.types import ColumnType, scalar
from hepflow.errors import PlanError
from hepflow.plan.expr.typed import Expression, Typed, UnaryStep


@dataclass(frozen=True, slots=True)
class VariationPick:
    """Entry `tag` of each event's RVec of varied values, which must have `ntags`
    entries (the Vary's name is for the error message)."""

    tag: int
    ntags: int
    name: str


def converted(expr: Expression, column: ColumnType) -> Expression:
    """`expr` converted to the varied column's type, as C++ converts the values of an
    `RVecF{...}` (a float column varies as float, whatever the arithmetic gave)."""
    numbers = ("bool", "int", "float")
    if expr.type == column or expr.type.kind != column.kind or \
            expr.type.category not in numbers or column.category not in numbers:
        return expr
    tree = Typed("unary", column, (expr.tree,), (UnaryStep("cast", column),),
                 expr.tree.may_fail)
    return Expression(expr.text, tree, expr.columns)


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
    tree = Typed("call", scalar(expr.type.dtype), (expr.tree,),
                 VariationPick(tag, ntags, name), True)
    return converted(Expression(f"({expr.text})[{tag}]", tree, expr.columns), ctype)


__all__ = ["VariationPick", "converted", "picked"]
