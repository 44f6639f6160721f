"""Evaluate a typed expression tree on one chunk, column-wise.

The evaluator never loops over events: every node maps to numpy/awkward
operations on whole columns. C++ short-circuit semantics are kept where they
matter: when the right side of `&&`/`||` (or a branch of `?:`) can fail on
some events, it is evaluated only on the events where C++ would evaluate it.
"""

from __future__ import annotations

import operator
from typing import Any, Protocol

import awkward as ak
import numpy as np

from hepflow.engine import vecops
from hepflow.engine.vecops import EvaluationFailure, Value, f64, float_if_float
from hepflow.plan.expr import sampleinfo
from hepflow.plan.expr.typed import Typed


class Frame(Protocol):
    """A set of events and a way to get any column for exactly those events."""

    n: int

    def column(self, name: str) -> Value: ...

    def subset(self, index: np.ndarray) -> Frame: ...

    def sample_info(self) -> Any: ...


def evaluate(tree: Typed, frame: Frame) -> Value:
    """The per-event value of `tree` on `frame`, broadcast to one entry per event."""
    return _broadcast(_eval(tree, frame), tree, frame.n)


def _broadcast(value: Value, tree: Typed, n: int) -> Value:
    if isinstance(value, (np.ndarray, ak.Array)):
        return value
    dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64}.get(tree.type.dtype)
    return np.full(n, value, dtype=dtype)


def _eval(tree: Typed, frame: Frame) -> Value:
    op = tree.op
    if op == "col":
        return frame.column(str(tree.value))
    if op == "const":
        return tree.value
    if op == "unary":
        return _unary(str(tree.value), _eval(tree.args[0], frame))
    if op == "binary":
        return _binary(str(tree.value), _eval(tree.args[0], frame), _eval(tree.args[1], frame))
    if op in ("and", "or"):
        return _logical(op, tree, frame)
    if op == "ternary":
        return _ternary(tree, frame)
    if op == "index":
        return _index(tree, frame)
    if op == "sampleinfo":
        return sampleinfo.value(frame.sample_info(), tree.value)  # type: ignore[arg-type]
    if op == "call":
        impl = vecops.IMPLEMENTATIONS[str(tree.value)]
        return impl(*(_eval(a, frame) for a in tree.args))
    raise EvaluationFailure(f"no evaluation rule for {op!r}")  # pragma: no cover


def _truth(x: Value) -> Value:
    if isinstance(x, np.ndarray):
        return x if x.dtype == np.bool_ else x != 0
    if isinstance(x, ak.Array):
        return x != 0 if vecops._leaf_dtype(x) != np.bool_ else x
    return bool(x)


def _unary(op: str, x: Value) -> Value:
    if op == "!":
        truth = _truth(x)
        return np.logical_not(truth) if not isinstance(truth, bool) else not truth
    x = _as_int(x)  # C++ integral promotion: -b, ~b and +b of a bool are ints
    if op == "-":
        return -x
    if op == "~":
        return np.invert(x)
    return x


def _is_int(x: Value) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_)
    if isinstance(x, ak.Array):
        dtype = vecops._leaf_dtype(x)
        return dtype is not None and (np.issubdtype(dtype, np.integer) or dtype == np.bool_)
    return isinstance(x, (int, np.integer, np.bool_))  # `true & true` is a numpy bool


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_RING = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_BITWISE = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor,
            "<<": np.left_shift, ">>": np.right_shift}


def _binary(op: str, a: Value, b: Value) -> Value:
    if op in _COMPARE:
        return _COMPARE[op](float_if_float(a), float_if_float(b))
    if op in _BITWISE:
        return _BITWISE[op](a, b)
    if _is_int(a) and _is_int(b):
        return _int_arith(op, a, b)
    a, b = f64(a), f64(b)
    with np.errstate(all="ignore"):
        if op in _RING:
            return _RING[op](a, b)
        if op == "/":
            return a / b
        return np.fmod(a, b)


def _as_int(x: Value) -> Value:
    if isinstance(x, np.ndarray) and x.dtype == np.bool_:
        return x.astype(np.int64)
    if isinstance(x, ak.Array) and vecops._leaf_dtype(x) == np.bool_:
        return ak.values_astype(x, np.int64)
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    return x


def _int_arith(op: str, a: Value, b: Value) -> Value:
    """Integer arithmetic with C++ semantics: `/` truncates toward zero, `%` keeps a's sign."""
    a, b = _as_int(a), _as_int(b)
    if op in _RING:
        return _RING[op](a, b)
    if _any_zero(a * 0 + b):  # the divisor where it meets an element of a
        raise EvaluationFailure(f"integer {'division' if op == '/' else 'modulo'} by zero")
    if op == "%":
        return np.fmod(a, b)
    quotient = np.floor_divide(a, b)
    fix = (np.fmod(a, b) != 0) & ((a < 0) != (b < 0))
    return quotient + fix


def _any_zero(b: Value) -> bool:
    if isinstance(b, ak.Array):
        return bool(ak.any(b == 0))
    return bool(np.any(np.asarray(b) == 0))


def _logical(op: str, tree: Typed, frame: Frame) -> Value:
    left = _truth(_eval(tree.args[0], frame))
    right_tree = tree.args[1]
    if isinstance(left, bool) and tree.type.kind == "scalar":  # RVec && is element-wise
        if (op == "and" and not left) or (op == "or" and left):
            return left
        return _truth(_eval(right_tree, frame))
    if right_tree.may_fail and isinstance(left, np.ndarray) and right_tree.type.kind == "scalar":
        need = left if op == "and" else ~left
        out = left.copy()
        idx = np.flatnonzero(need)
        if idx.size:
            sub = _broadcast(_truth(_eval(right_tree, frame.subset(idx))), right_tree, idx.size)
            out[idx] = np.asarray(sub, dtype=bool)
        return out
    right = _truth(_eval(right_tree, frame))
    return np.logical_and(left, right) if op == "and" else np.logical_or(left, right)


def _ternary(tree: Typed, frame: Frame) -> Value:
    cond_tree, a_tree, b_tree = tree.args
    cond = _truth(_eval(cond_tree, frame))
    if isinstance(cond, bool):
        chosen = _eval(a_tree if cond else b_tree, frame)
        return f64(chosen) if tree.type.dtype == "float" else _as_int(chosen) \
            if tree.type.dtype == "int" else chosen  # `c ? 1.5 : n` is a double
    guarded = (a_tree.may_fail or b_tree.may_fail) and isinstance(cond, np.ndarray)
    if guarded and frame.n and a_tree.type.kind == b_tree.type.kind == "jagged":
        return _ternary_collections(tree, cond, frame)
    if guarded and tree.type.kind == "scalar":
        dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64}[tree.type.dtype]
        out: np.ndarray = np.empty(frame.n, dtype=dtype)
        for branch, mask in ((a_tree, cond), (b_tree, ~cond)):
            idx = np.flatnonzero(mask)
            if idx.size:
                out[idx] = _broadcast(_eval(branch, frame.subset(idx)), branch, idx.size)
        return out
    a = _eval(a_tree, frame)
    b = _eval(b_tree, frame)
    if tree.type.dtype == "float":
        a, b = f64(a), f64(b)
    if any(isinstance(x, ak.Array) for x in (cond, a, b)):
        return ak.where(cond, a, b)
    return np.where(cond, a, b)


def _ternary_collections(tree: Typed, cond: np.ndarray, frame: Frame) -> Value:
    """`c ? v1 : v2` with a per-event c: each branch only on its own events, as in C++."""
    dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64}[tree.type.dtype]
    parts, where = [], []
    for branch, mask in ((tree.args[1], cond), (tree.args[2], ~cond)):
        idx = np.flatnonzero(mask)
        if idx.size:
            parts.append(ak.values_astype(_eval(branch, frame.subset(idx)), dtype))
            where.append(idx)
    merged = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    return merged[np.argsort(np.concatenate(where), kind="stable")]


def _index(tree: Typed, frame: Frame) -> Value:
    base = _eval(tree.args[0], frame)
    index = _eval(tree.args[1], frame)
    kind = tree.value
    if kind == "combo":
        return base[str(index)]
    if kind == "element":
        return vecops.element(base, index)
    if kind == "mask":
        return base[index]
    if kind == "take":
        return vecops.take_elements(base, index)
    return base[index]


__all__ = ["Frame", "evaluate"]


