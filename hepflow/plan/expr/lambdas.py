"""`Map(v1, ..., [&](float x, ...) { ... })`: a C++ lambda applied to every element.

ROOT takes such lambdas in Define bodies (`return Map(Jet_pt, [](float x) { return
x * 2; });`). The lambda is checked twice: once on single values (its parameters
are scalars of their declared type, so `Sum(x)` or `x[0]` fail as in C++ and the
return type is C++'s), then with each parameter bound to its whole collection,
converted element by element, which computes the same values for every element at
once with the columnar evaluator. Bodies with loops are not compiled here yet.
"""

from __future__ import annotations

from typing import cast

from hepflow.core.types import ColumnType, column_type, jagged, scalar
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.check import _Checker
from hepflow.plan.expr.lowering import lower
from hepflow.plan.expr.typed import Typed

_NUMBERS = ("bool", "int", "float")


def map_lambda(checker: _Checker, node: n.Call, lam: n.Lambda) -> Typed:
    """The checked `Map` of `lam` over the collections before it in `node`."""
    body = cast(s.Body, lam.body)
    colls = node.args[:-1]
    if len(colls) != len(lam.params):
        raise checker.fail(f"Map with this lambda needs {len(lam.params)} collection(s), got "
                           f"{len(colls)}", node)
    if any(s.needs_kernel(st) for st in body.statements):
        raise checker.fail("loops inside a Map lambda are not compiled yet; write the loop "
                           "in the Define body itself", lam)
    types: list[ColumnType] = []
    for raw, (_, declared) in zip(colls, lam.params, strict=True):
        got = checker.check(raw).type
        if got.kind != "jagged" or got.category not in (*_NUMBERS, "vector"):
            raise checker.fail(f"Map needs collections of numbers or 4-vectors, not {got}",
                               raw)
        types.append(declared or scalar(got.dtype))
    result = _return_type(checker, lam, body, types)
    params = [(name, column_type("jagged", t.dtype),
               n.Convert(raw.start, raw.end, jagged(t.dtype), raw))
              for (name, _), t, raw in zip(lam.params, types, colls, strict=True)]

    def type_of(value: n.Node) -> ColumnType:
        inner = _Checker(checker.text, checker.schema, checker.samples)
        inner.elementwise = True
        return inner.check(value).type

    value, _, _ = lower(checker.text, body, type_of, frozenset(), params, elementwise=True)
    before = checker.elementwise
    checker.elementwise = True
    try:
        return checker.check(n.Convert(lam.start, lam.end, jagged(result.dtype), value))
    finally:
        checker.elementwise = before


def _return_type(checker: _Checker, lam: n.Lambda, body: s.Body,
                 types: list[ColumnType]) -> ColumnType:
    """The lambda's return type, from checking it on single values."""
    schema = {**checker.schema, **{name: t for (name, _), t in zip(lam.params, types,
                                                                    strict=True)}}
    single = _Checker(checker.text, schema, checker.samples)

    def type_of(value: n.Node) -> ColumnType:
        return _Checker(checker.text, schema, checker.samples).check(value).type

    node, returns, dropped = lower(checker.text, body, type_of, frozenset())
    for value in (*dropped, node):
        single.check(value)
    params = {name for name, _ in lam.params}
    captured = sorted(c for c in single.columns if c not in params)
    if captured and not lam.capture:
        raise checker.fail(f"the lambda reads the column `{captured[0]}` but captures "
                           "nothing; write [&] as C++ requires", lam)
    found: ColumnType | None = None
    for statement, value in returns:
        rtype = single.check(value).type
        if found is not None and rtype != found and lam.return_type is None:
            raise ExpressionError(f"this `return` gives {rtype} but an earlier one gives "
                                  f"{found}; a lambda returns one type, as C++ deduces it",
                                  checker.text, statement.start, statement.end)
        found = rtype
    result = lam.return_type or found
    if result is None or result.kind != "scalar" or result.category not in _NUMBERS:
        raise checker.fail(f"a Map lambda returns one number per element, not {result}", lam)
    return result


__all__ = ["map_lambda"]
