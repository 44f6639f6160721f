"""Calls of C++ functions declared with `hepflow.Declare(cpp_source)`.

A call `f(a, b)` is checked and run as f's body with each parameter a local
holding its argument, converted to the parameter's type as C++ passes it, and
the returned value converted to f's return type. A body without loops becomes
part of the caller's expression; a body with loops becomes one compiled
kernel, its arguments the kernel's inputs. Each definition is checked on its own
parameters when declared, so that mistakes point into the C++ source.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from hepflow.core.types import ColumnType
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.check import _Checker
from hepflow.plan.expr.declare import DeclaredCxx
from hepflow.plan.expr.loop_check import compile_loops
from hepflow.plan.expr.lowering import lower
from hepflow.plan.expr.statements import needs_kernel
from hepflow.plan.expr.typed import Typed

_ACTIVE = threading.local()  # the functions being expanded, to refuse recursion


def inline_call(checker: _Checker, node: n.Call, cxx: DeclaredCxx) -> Typed:
    """The checked value of `node`, a call of `cxx`, in `checker`'s context."""
    func = cxx.function
    if len(node.args) != len(func.params):
        raise checker.fail(f"{func.name} takes {len(func.params)} argument(s), got "
                           f"{len(node.args)} (declared as {cxx!r})", node)
    active: list[str] = getattr(_ACTIVE, "names", [])
    if func.name in active:
        raise checker.fail(f"{func.name} calls itself; recursive C++ functions are not "
                           "supported", node)
    args: list[n.Node] = []
    for raw, (pname, ptype) in zip(node.args, func.params, strict=True):
        got = checker.check(raw).type
        if got.kind != ptype.kind or (got.category == "vector") != (ptype.category == "vector") \
                or got.category in ("string", "other"):
            raise checker.fail(f"{func.name} expects {ptype} for `{pname}`, not {got} "
                               f"(declared as {cxx!r})", raw)
        args.append(n.Convert(raw.start, raw.end, ptype, raw))
    _ACTIVE.names = [*active, func.name]
    try:
        if any(needs_kernel(st) for st in func.body.statements):
            params = [(p, t, checker.check(a)) for (p, t), a in
                      zip(func.params, args, strict=True)]
            return compile_loops(func.source, func.body, {}, None, params,
                                 func.return_type).tree
        return checker.check(_lowered(checker, cxx, args))
    finally:
        _ACTIVE.names = active


def _lowered(checker: _Checker, cxx: DeclaredCxx, args: Sequence[n.Node]) -> n.Node:
    func = cxx.function
    schema, samples = checker.schema, checker.samples

    def type_of(node: n.Node) -> ColumnType:
        return _Checker(checker.text, schema, samples).check(node).type

    params = [(p, t, a) for (p, t), a in zip(func.params, args, strict=True)]
    try:
        node, _, dropped = lower(func.source, func.body, type_of, frozenset(), params)
        for value in dropped:
            checker.check(value)
    except ExpressionError as exc:
        if checker.text == func.source:
            raise
        raise ExpressionError(f"in {func.name}: {exc}", checker.text) from exc
    return n.Convert(node.start, node.end, func.return_type, node)


def validate(cxx: DeclaredCxx) -> None:
    """Check `cxx`'s body on its own parameters, so that errors point into its source."""
    func = cxx.function
    schema = dict(func.params)
    call = n.Call(func.start, func.end, func.name, func.start, func.end,
                  tuple(n.Name(func.start, func.end, p) for p, _ in func.params))
    inline_call(_Checker(func.source, schema), call, cxx)


__all__ = ["inline_call", "validate"]
