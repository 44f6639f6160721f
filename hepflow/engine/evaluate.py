"""Evaluate a typed expression tree on one chunk, column-wise.

The evaluator never loops over events: every node maps to numpy/awkward
operations on whole columns. Operands are converted to the C++ common type the
checker computed before each operation, so integer arithmetic wraps, compares
and divides as C++ does (`2u - 3` is 4294967295, `-1 < 0u` is false). C++
short-circuit semantics are kept where they matter: when the right side of
`&&`/`||` (or a branch of `?:`) can fail on some events, it is evaluated only
on the events where C++ would evaluate it. Operator chains are folded in a
loop, so 500 terms cost no recursion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import awkward as ak
import numpy as np

from hepflow.core.types import ColumnType, numpy_dtype
from hepflow.engine import lists, loopkernel, randomdraws, vecops
from hepflow.engine.fourvector import FourVector
from hepflow.engine.values import EvaluationFailure, Value, as_dtype, as_type, leaf_dtype
from hepflow.plan.expr import sampleinfo
from hepflow.plan.expr.declare import CorrectionCall, DeclaredFunction
from hepflow.plan.expr.typed import BinaryStep, Typed, UnaryStep
from hepflow.plan.expr.variation import VariationPick


class Frame(Protocol):
    """A set of events and a way to get any column for exactly those events."""

    n: int

    def column(self, name: str) -> Value: ...

    def subset(self, index: np.ndarray) -> Frame: ...

    def sample_info(self) -> Any: ...


def evaluate(tree: Typed, frame: Frame) -> Value:
    """The per-event value of `tree` on `frame`, broadcast to one entry per event."""
    return _broadcast(_eval(tree, frame), tree.type, frame.n)


def _broadcast(value: Value, t: ColumnType, n: int) -> Value:
    if isinstance(value, FourVector):
        return value.map(lambda c: _broadcast(c, ColumnType(t.kind, "float64"), n))
    if isinstance(value, ak.Array) or (isinstance(value, np.ndarray) and value.ndim):
        return value
    dtype = t.numpy if t.category not in ("other", "vector", "string") else None
    return np.full(n, value, dtype=dtype)


def _eval(tree: Typed, frame: Frame) -> Value:
    return cast(Value, tree.visit(_Rules, frame))


_BUILDERS = frozenset({"Range", "RVec"})


def _builtin(tree: Typed, frame: Frame) -> Value:
    """A VecOps or <cmath> function, by name, on whole columns."""
    name = str(tree.value)
    impl = vecops.IMPLEMENTATIONS[name]
    args = [_eval(a, frame) for a in tree.args]
    if name in _BUILDERS:  # `Range(3)` makes one collection per event, also from constants
        args = [_broadcast(v, a.type, frame.n) for v, a in zip(args, tree.args, strict=True)]
    if name in vecops.TYPED:
        typed, impl = impl, (lambda *values: typed(tree.type, *values))
    if name in vecops.ON_VECTORS and any(isinstance(a, FourVector) for a in args):
        return _on_vectors(name, impl, args)
    out = None
    if name in vecops.ELEMENTWISE and any(isinstance(a, ak.Array) for a in args):
        out = lists.elementwise(impl, *args)
    return as_type(impl(*args) if out is None else out, tree.type)


def _on_vectors(name: str, impl: vecops.Impl, args: list[Value]) -> Value:
    """A collection function on RVecs of 4-vectors: by the shape of one coordinate
    (size, Combinations), or on every coordinate alike (Take, Drop, Reverse, whose
    4-vectors are their first argument: the checker refuses them as indices)."""
    if name in vecops.SHAPE_ONLY:
        return impl(*(a.coords[0] if isinstance(a, FourVector) else a for a in args))
    return args[0].map(lambda c: impl(c, *args[1:]))


def _declared(func: DeclaredFunction, tree: Typed, frame: Frame) -> Value:
    """Call a user function on whole columns, in its declared types, and check its answer."""
    args = [as_type(_broadcast(_eval(a, frame), a.type, frame.n), t)
            for a, t in zip(tree.args, func.arg_types, strict=True)]
    try:
        out = func.func(*args)
    except Exception as exc:  # the user's code may raise anything
        raise EvaluationFailure(f"the declared function {func.name} raised "
                                f"{type(exc).__name__}: {exc}") from exc
    want = func.return_type
    if want.kind == "jagged":
        out = out if isinstance(out, ak.Array) else ak.Array(out)
        if len(out) == 0 and frame.n == 0:  # `ak.Array([])` has no element type to check
            out = ak.unflatten(np.empty(0, dtype=want.numpy), np.zeros(0, dtype=np.int64))
        if out.ndim != 2:
            raise EvaluationFailure(f"{func.name} is declared to return {want} but returned "
                                    f"{out.type}")
    elif not isinstance(out, FourVector):
        out = np.asarray(ak.to_numpy(out) if isinstance(out, ak.Array) else out)
        if out.ndim != 1:
            raise EvaluationFailure(f"{func.name} is declared to return {want}, one value per "
                                    f"event, but returned an array of shape {out.shape}")
    if len(out) != frame.n:
        raise EvaluationFailure(f"{func.name} returned {len(out)} values for {frame.n} events")
    return as_type(out, want)


def _mapped(func: DeclaredFunction, tree: Typed, frame: Frame) -> Value:
    """`Map(v..., f)`: f on the flat contents of equally long collections, regrouped."""
    colls = [_eval(a, frame) for a in tree.args]
    counts = vecops.size(colls[0])
    for c in colls[1:]:
        if not np.array_equal(vecops.size(c), counts):
            raise EvaluationFailure(f"Map with {func.name}: the collections differ in size "
                                    "in some events")
    flat = [as_type(np.asarray(ak.to_numpy(ak.flatten(c, axis=1))), t)
            for c, t in zip(colls, func.arg_types, strict=True)]
    try:
        out = np.asarray(func.func(*flat))
    except Exception as exc:  # the user's code may raise anything
        raise EvaluationFailure(f"the declared function {func.name} raised "
                                f"{type(exc).__name__}: {exc}") from exc
    if out.shape != (int(counts.sum()),):
        raise EvaluationFailure(f"{func.name} returned {out.shape} values for "
                                f"{int(counts.sum())} elements")
    return ak.unflatten(as_type(out, func.return_type), counts)


def _brace_list(tree: Typed, frame: Frame) -> Value:
    """`ROOT::RVecD{a, b}`: the items side by side, one list of `size` per event."""
    dtype = tree.type.numpy
    columns = [np.asarray(_broadcast(as_type(_eval(a, frame), tree.type), a.type, frame.n),
                          dtype=dtype) for a in tree.args]
    grid = np.stack(columns, axis=1) if columns else np.empty((frame.n, 0), dtype=dtype)
    return ak.from_regular(ak.Array(grid), axis=1)


def _variation(pick: VariationPick, tree: Typed, frame: Frame) -> Value:
    """One tag's entry of a Vary expression's per-event RVec, which must hold exactly one
    entry per tag, as ROOT requires."""
    values = _broadcast(_eval(tree.args[0], frame), tree.args[0].type, frame.n)
    counts = vecops.size(values)
    wrong = np.flatnonzero(counts != pick.ntags)
    if wrong.size:
        first = int(wrong[0])
        raise EvaluationFailure(f"Vary {pick.name!r}: its expression gives {int(counts[first])} "
                                f"values in event {first} of this chunk, but the Vary has "
                                f"{pick.ntags} tags")
    return vecops.element(values, np.int64(pick.tag))


def _correction(call: CorrectionCall, tree: Typed, frame: Frame) -> Value:
    """correctionlib on flat numpy arrays: collections are flattened and regrouped."""
    values = [_broadcast(_eval(a, frame), a.type, frame.n) for a in tree.args]
    counts = None
    if any(isinstance(v, ak.Array) for v in values):
        values = list(ak.broadcast_arrays(*[v if isinstance(v, ak.Array) else ak.Array(v)
                                            for v in values]))
        counts = vecops.size(values[0])
        values = [ak.to_numpy(ak.flatten(v, axis=1)) for v in values]
    inputs: list[Any] = []
    numbers = iter(values)
    strings = dict(call.strings)
    for i, (_, kind) in enumerate(call.correction.inputs):
        if i in strings:
            inputs.append(strings[i])
        else:
            inputs.append(np.asarray(next(numbers), dtype=np.int64 if kind == "int"
                                     else np.float64))
    try:
        out = np.asarray(call.correction.correction.evaluate(*inputs), dtype=np.float64)
    except Exception as exc:  # correctionlib raises plain Python errors for bad inputs
        raise EvaluationFailure(f"correction {call.correction.name}: {exc}") from exc
    return out if counts is None else ak.unflatten(out, counts)


def truth(x: Value) -> Value:
    """`x` as bool, element by element (NaN is true, as in C++)."""
    if isinstance(x, ak.Array):
        if leaf_dtype(x) == np.bool_:
            return x
        flat = lists.elementwise(lambda v: v != 0, x)
        return x != 0 if flat is None else flat
    if isinstance(x, (np.ndarray, np.generic)):
        return x if x.dtype == np.bool_ else x != 0
    return bool(x)


def _unary(step: UnaryStep, x: Value) -> Value:
    if isinstance(x, ak.Array):
        flat = lists.elementwise(lambda v: _unary(step, v), x)
        if flat is not None:
            return flat
    if step.op == "!":  # ROOT's `!` of an RVec<T> is an RVec<T>
        return as_type(np.logical_not(truth(x)), step.type)
    if step.op == "cast" and step.type.dtype == "bool":
        return truth(x)
    x = as_type(x, step.type)  # C++ integral promotion: -b, ~b and +b of a bool are ints
    with np.errstate(all="ignore"):
        if step.op == "-":
            return np.negative(x)
        if step.op == "~":
            return np.invert(x)
    return x


def _chain(tree: Typed, frame: Frame) -> Value:
    """`a op1 b op2 c ...`, folded left to right as C++ groups it."""
    acc = _eval(tree.args[0], frame)
    for step, operand in zip(cast(tuple[BinaryStep, ...], tree.value), tree.args[1:],
                             strict=True):
        if step.op in ("&&", "||"):
            acc = _logical(step, acc, operand, frame)
        else:
            acc = _binary(step, acc, _eval(operand, frame))
    return acc


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_OPERATORS = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor,
              "<<": np.left_shift, ">>": np.right_shift, "+": np.add, "-": np.subtract,
              "*": np.multiply}


def _binary(step: BinaryStep, a: Value, b: Value) -> Value:
    if step.common == "string":
        return _COMPARE[step.op](strings(a), strings(b))
    if isinstance(a, FourVector) and isinstance(b, FourVector):
        return a.combine(b, 1.0 if step.op == "+" else -1.0)
    if isinstance(a, ak.Array) or isinstance(b, ak.Array):
        flat = lists.elementwise(lambda x, y: _binary(step, x, y), a, b)
        if flat is not None:
            return flat
    common = numpy_dtype(step.common)
    a, b = as_dtype(a, common), as_dtype(b, common)
    with np.errstate(all="ignore"):
        if step.op in _COMPARE:
            return _COMPARE[step.op](a, b)
        if step.op in _OPERATORS:
            return _OPERATORS[step.op](a, b)
        if common.kind == "f":
            return a / b if step.op == "/" else np.fmod(a, b)
        return _int_division(step.op, a, b)


def strings(x: Value) -> Value:
    """Strings as numpy compares them in C (lexicographically by code point, as
    std::string compares UTF-8 bytes): a constant stays one `str`, so that comparing a
    per-sample column (one value repeated) with a literal is one vectorised pass."""
    if isinstance(x, ak.Array):
        return ak.to_numpy(x)  # awkward's strings as numpy's `<U`, without Python objects
    if isinstance(x, np.ndarray) and x.dtype.kind in ("O", "S"):
        return np.char.decode(x, "utf-8") if x.dtype.kind == "S" else x.astype(np.str_)
    return x


def _int_division(op: str, a: Value, b: Value) -> Value:
    """Integer `/` truncating toward zero and `%` keeping a's sign, as in C++."""
    if _any_zero(a * 0 + b):  # the divisor where it meets an element of a
        raise EvaluationFailure(f"integer {'division' if op == '/' else 'modulo'} by zero")
    if op == "%":
        return np.fmod(a, b)
    quotient = np.floor_divide(a, b)
    fix = (np.fmod(a, b) != 0) & ((a < 0) != (b < 0))
    return quotient + fix  # adding a bool keeps the integer type


def _any_zero(b: Value) -> bool:
    if isinstance(b, ak.Array):
        return bool(ak.any(b == 0))
    return bool(np.any(np.asarray(b) == 0))


def _logical(step: BinaryStep, acc: Value, right_tree: Typed, frame: Frame) -> Value:
    is_and = step.op == "&&"
    left = truth(acc)
    if _single(left) and step.type.kind == "scalar":
        if bool(left) != is_and:  # decided by the left side: C++ skips the right
            return np.bool_(left)
        return truth(_eval(right_tree, frame))
    if right_tree.may_fail and isinstance(left, np.ndarray) and right_tree.type.kind == "scalar":
        need = left if is_and else ~left
        out = left.copy()
        idx = np.flatnonzero(need)
        if idx.size:
            sub = _broadcast(truth(_eval(right_tree, frame.subset(idx))), right_tree.type,
                             idx.size)
            out[idx] = np.asarray(sub, dtype=bool)
        return out
    right = truth(_eval(right_tree, frame))
    combine = np.logical_and if is_and else np.logical_or
    if isinstance(left, ak.Array) or isinstance(right, ak.Array):
        flat = lists.elementwise(combine, left, right)
        if flat is not None:
            return flat
    return combine(left, right)


def _single(x: Value) -> bool:
    """One value for all events (a folded constant), not one per event."""
    return not isinstance(x, (ak.Array, FourVector)) and np.ndim(x) == 0


def _ternary(tree: Typed, frame: Frame) -> Value:
    cond_tree, a_tree, b_tree = tree.args
    cond = truth(_eval(cond_tree, frame))
    if _single(cond):
        return as_type(_eval(a_tree if bool(cond) else b_tree, frame), tree.type)
    guarded = (a_tree.may_fail or b_tree.may_fail) and isinstance(cond, np.ndarray)
    if guarded and frame.n and a_tree.type.kind == b_tree.type.kind == "jagged":
        return _ternary_collections(tree, cond, frame)
    if guarded and tree.type.kind == "scalar":
        out: np.ndarray = np.empty(frame.n, dtype=tree.type.numpy)
        for branch, mask in ((a_tree, cond), (b_tree, ~cond)):
            idx = np.flatnonzero(mask)
            if idx.size:
                out[idx] = _broadcast(as_type(_eval(branch, frame.subset(idx)), tree.type),
                                      tree.type, idx.size)
        return out
    a = as_type(_eval(a_tree, frame), tree.type)
    b = as_type(_eval(b_tree, frame), tree.type)
    if any(isinstance(x, ak.Array) for x in (cond, a, b)):
        return ak.where(cond, a, b)
    return np.where(cond, a, b)


def _ternary_collections(tree: Typed, cond: np.ndarray, frame: Frame) -> Value:
    """`c ? v1 : v2` with a per-event c: each branch only on its own events, as in C++."""
    parts, where = [], []
    for branch, mask in ((tree.args[1], cond), (tree.args[2], ~cond)):
        idx = np.flatnonzero(mask)
        if idx.size:
            parts.append(as_type(_eval(branch, frame.subset(idx)), tree.type))
            where.append(idx)
    merged = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    return merged[np.argsort(np.concatenate(where), kind="stable")]


def _index(tree: Typed, frame: Frame, pick: Callable[[Value, Value], Value],
           boolean: bool = False) -> Value:
    """`base[index]`, `pick` being the element or the mask rule; a `boolean` index that is
    a comparison stays boolean: no RVec<int> to build and test."""
    base = _eval(tree.args[0], frame)
    index = _chain(tree.args[1], frame) if boolean and tree.args[1].op == "binary" else \
        _eval(tree.args[1], frame)
    if isinstance(base, FourVector):
        return base.map(lambda c: pick(c, index))
    return pick(base, index)


def _combo_index(tree: Typed, frame: Frame) -> Value:
    """`Combinations(...)[k]`: one of a combination's index collections."""
    base, index = _eval(tree.args[0], frame), _eval(tree.args[1], frame)
    return as_type(base[str(index)], tree.type)


def _unary_chain(tree: Typed, frame: Frame) -> Value:
    value = _eval(tree.args[0], frame)
    for step in cast(tuple[UnaryStep, ...], tree.value):
        value = _unary(step, value)
    return value


def _binary_chain(tree: Typed, frame: Frame) -> Value:
    """A chain of binary operators; a comparison of collections is ROOT's RVec<int>, not
    a mask."""
    return as_type(_chain(tree, frame), tree.type) if tree.type.kind == "jagged" else \
        _chain(tree, frame)


class _Rules:
    """How each operation is computed on whole columns, by its class (`Typed.visit`)."""

    visit_Column = staticmethod(lambda tree, frame: frame.column(str(tree.value)))
    visit_Constant = staticmethod(lambda tree, frame: as_type(tree.value, tree.type))
    visit_Unary = staticmethod(_unary_chain)
    visit_Binary = staticmethod(_binary_chain)
    visit_Ternary = staticmethod(lambda tree, frame: _ternary(tree, frame))
    visit_ElementIndex = staticmethod(lambda tree, frame: _index(tree, frame, vecops.element))
    visit_MaskIndex = staticmethod(lambda tree, frame: _index(tree, frame, vecops.mask, True))
    visit_UnknownIndex = staticmethod(lambda tree, frame: _index(tree, frame, vecops.mask))
    visit_ComboIndex = staticmethod(_combo_index)
    visit_SampleInfoLookup = staticmethod(lambda tree, frame: sampleinfo.value(
        frame.sample_info(), cast(tuple[str, ...], tree.value)))
    visit_Call = staticmethod(_builtin)
    visit_DeclaredCall = staticmethod(lambda tree, frame: _declared(tree.value, tree, frame))
    visit_MapCall = staticmethod(lambda tree, frame: _mapped(tree.value.func, tree, frame))
    visit_CorrectionLookup = staticmethod(lambda tree, frame: _correction(tree.value, tree, frame))
    visit_VariationCall = staticmethod(lambda tree, frame: _variation(tree.value, tree, frame))
    visit_BraceCall = staticmethod(lambda tree, frame: _brace_list(tree, frame))
    visit_LoopCall = staticmethod(lambda tree, frame: loopkernel.run(
        tree.value, [_eval(a, frame) for a in tree.args], frame.n))
    visit_DrawCall = staticmethod(lambda tree, frame: randomdraws.draw_column(tree.value, frame.n))



__all__ = ["Frame", "evaluate", "truth"]
