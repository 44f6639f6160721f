"""The expression language: tokens, parser, function whitelist and type checker."""

from hepflow.plan.expr.check import compile_expression
from hepflow.plan.expr.parser import parse
from hepflow.plan.expr.typed import Expression, Typed

__all__ = ["Expression", "Typed", "compile_expression", "parse"]
