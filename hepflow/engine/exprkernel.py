"""Ordinary checked expressions compiled into one numba kernel each.

The columnar evaluator (`engine.evaluate`) sweeps memory once per operator
and keeps a temporary for each: `Sum(Jet_pt[Jet_pt > 30 && abs(Jet_eta) < 2.4])`
makes five arrays the size of all jets. Here the same checked tree becomes one
loop over the events of a chunk, reading collections as flat contents and
offsets: a reduction or a `v[i]` is a loop over one event's elements, a
collection result is written once. The kernel is generated as a Python `ast`
tree from the checked IR (never from the user's text) by the C++ body
compiler's generator (`engine.loopkernel`), whose conversions give every value
its C++ type, and it is cached per process by the tree and on disk through
`engine.kernelcache`.

What it takes (`compilable`): numbers (columns, constants, operators, casts,
`?:`, <cmath>, abs, std::max/min, Where), reductions (Sum, Product, Mean, Max,
Min, ArgMax, ArgMin, Any, All, size), masks `v[cond]` (one per collection
expression) and `v[i]`. Results equal the evaluator's bit for bit, with one
exception: a *double* transcendental function (sin, exp, ...) is the C
library's, as in ROOT, where numpy's SIMD loops may differ in the last bit.
Failures raise the evaluator's `EvaluationFailure`; collections combined
element by element must be equally long in every event, as ROOT requires.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Final, cast

import awkward as ak
import numpy as np

from hepflow.core.types import ColumnType, DType
from hepflow.engine import kernelcache, lists, loopkernel
from hepflow.engine.evaluate import Frame
from hepflow.engine.loopkernel import _assign, _call, _name
from hepflow.engine.values import EvaluationFailure, Value
from hepflow.plan.expr.typed import Binary, BinaryStep, Typed

_NUMERIC: Final = frozenset({"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                             "int64", "uint64", "float32", "float64"})
#: <cmath> as numba calls it: the C library's functions (sinf for floats), numpy's exact ones
_MATH: Final = {name: "math." + name for name in (
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
    "atanh", "exp", "log", "log10", "log2", "pow", "atan2", "hypot")} | {
    name: "np." + name for name in ("sqrt", "floor", "ceil", "fmod")}
#: functions of values, taken per event and per element
_PER_VALUE: Final = frozenset(_MATH) | {"round", "abs", "fabs", "max", "min", "Where"}
_REDUCTIONS: Final = frozenset({"Sum", "Product", "Mean", "Max", "Min", "ArgMax", "ArgMin",
                                "Any", "All", "size", "Length"})
_LOGICAL: Final = frozenset({"&&", "||"})
#: the type numpy's cast of a float to a small integer type goes through (x86): a negative
#: float becomes an unsigned integer by wrapping, where LLVM's direct conversion saturates
_VIA_SIGNED: Final[dict[DType, str]] = {"int8": "np.int32", "uint8": "np.int32",
                                        "int16": "np.int32", "uint16": "np.int32",
                                        "uint32": "np.int64", "uint64": "_f2u64"}


class _NotTaken(Exception):
    """The tree holds something the compiler leaves to the evaluator."""


def _numeric(t: Typed) -> bool:
    return t.type.dtype in _NUMERIC and t.type.kind in ("scalar", "jagged")


def _steps_numeric(t: Typed) -> bool:
    return all(s.common in _NUMERIC for s in cast(tuple[BinaryStep, ...], t.value))


def _per_event(t: Typed) -> None:
    """Raise unless `t` is a number per event the kernel computes."""
    if not _numeric(t) or t.type.kind != "scalar":
        raise _NotTaken
    if t.op == "binary" and not _steps_numeric(t):
        raise _NotTaken
    if t.op in ("col", "const"):
        return
    if t.op in ("unary", "binary", "ternary"):
        for a in t.args:
            _per_event(a)
        return
    if t.op == "index" and t.value == "element":
        if _loop(t.args[0]):  # v[i] of positions: no mask
            raise _NotTaken
        _per_event(t.args[1])
        return
    if t.op == "call" and isinstance(t.value, str) and t.value in _REDUCTIONS and \
            len(t.args) == 1:
        _loop(t.args[0])
        return
    if t.op == "call" and isinstance(t.value, str) and t.value in _PER_VALUE and \
            t.value != "Where":
        for a in t.args:
            _per_event(a)
        return
    raise _NotTaken


def _elements(t: Typed) -> tuple[int, int]:
    """(masks, collection columns outside a mask) of a collection expression, or raise."""
    if t.type.kind == "scalar":
        _per_event(t)
        return 0, 0
    if not _numeric(t):
        raise _NotTaken
    if t.op == "col":
        return 0, 1
    if t.op == "index" and t.value == "mask":
        if any(_elements(a)[0] for a in t.args):
            raise _NotTaken
        return 1, 0
    taken = t.op in ("unary", "binary") or \
        (t.op == "ternary" and t.args[0].type.kind == "jagged") or \
        (t.op == "call" and isinstance(t.value, str) and t.value in _PER_VALUE)
    if not taken or (t.op == "binary" and not _steps_numeric(t)):
        raise _NotTaken
    found = [_elements(a) for a in t.args]
    return sum(f[0] for f in found), sum(f[1] for f in found)


def _loop(t: Typed) -> int:
    """The masks (0 or 1) of a collection expression one loop computes, or raise: a mask
    must hold every column of the expression (`Jet_pt[jet_ok] * 2`, not
    `Jet_pt[jet_ok] * Jet_eta`, whose elements do not line up)."""
    if t.type.kind != "jagged":
        raise _NotTaken
    masks, outside = _elements(t)
    if masks > 1 or (masks and outside):
        raise _NotTaken
    return masks


_TAKEN: dict[Typed, bool] = {}


#: Operands of one operator chain the compiler takes: `&&`, `||` and `?:` become nested
#: conditional expressions, and Python's compiler (and numba's) recurse through them; a
#: 490-term cut chain (tests/test_errors_frame.py) exhausts the stack.
MAX_CHAIN = 64


def _too_long(tree: Typed) -> bool:
    todo = [tree]
    while todo:
        t = todo.pop()
        if len(t.args) > MAX_CHAIN:
            return True
        todo.extend(t.args)
    return False


def compilable(tree: Typed) -> bool:
    """Whether the compiler takes the whole expression (else the evaluator runs it)."""
    found = _TAKEN.get(tree)
    if found is None:
        try:
            if _too_long(tree):
                raise _NotTaken("an operator chain too long to nest")
            if tree.type.kind == "scalar":
                _per_event(tree)
            else:
                _loop(tree)
            found = True
        except _NotTaken:
            found = False
        _TAKEN[tree] = found
    return found


def has_collections(tree: Typed) -> bool:
    """Whether `tree` reads a collection (the work the compiled backend is faster at)."""
    todo = [tree]
    while todo:
        t = todo.pop()
        if t.op == "col" and t.type.kind == "jagged":
            return True
        todo.extend(t.args)
    return False


_CHOSEN: dict[tuple[str, Typed], bool] = {}


def chosen(backend: str, tree: Typed) -> bool:
    """Whether `backend` ("auto", "columnar" or "compiled": `Options.backend`) runs `tree`
    compiled.

    "auto" compiles what reads a collection. Measured on 100k events of the AGC sample
    (one core, best of 5): the AGC's collection strings run 1.3-6x faster compiled
    (`Jet_pt > 30 && abs(Jet_eta) < 2.4 && Jet_jetId >= 2` 3.2 -> 0.6 ms,
    `Where(b > 0.5, Jet_pt, -1.0)` 3.0 -> 0.5 ms, `Jet_pt[mask]` 4.7 -> 2.6 ms,
    `ArgMax(Jet_pt)` 4.0 -> 2.4 ms; `Jet_pt * sinh(Jet_eta)` is the C library's sinf in
    both, 11 ms), while an expression of one number per event costs tens of
    microseconds either way and a single comparison (`nJet >= 4`, 0.04 ms) is faster
    columnar: the kernel's call costs more than numpy's one sweep.
    """
    key = (backend, tree)
    found = _CHOSEN.get(key)
    if found is None:
        found = backend != "columnar" and compilable(tree) and \
            (backend == "compiled" or has_collections(tree))
        _CHOSEN[key] = found
    return found


# ------------------------------------------------------------------------- generating


@dataclass
class _Loop:
    """One event's loop over the elements of a collection expression being generated."""

    prelude: list[ast.stmt] = field(default_factory=list)
    #: the column slots read per element: "base" (the values), "cond" (a mask's condition)
    groups: dict[str, list[int]] = field(default_factory=lambda: {"base": [], "cond": []})
    group: str = "base"
    cond: ast.expr | None = None
    hoisted: int = 0


def _item(array: str, index: ast.expr) -> ast.Subscript:
    return ast.Subscript(_name(array), index, ast.Load())


def _plus(a: ast.expr, b: ast.expr) -> ast.BinOp:
    return ast.BinOp(a, ast.Add(), b)


def _fail(code: str, first: ast.expr, second: ast.expr,
          error: str = "ValueError") -> list[ast.stmt]:
    """Record two numbers for the message, raise the error named by `code`."""
    return [ast.Assign([ast.Subscript(_name("where"), ast.Constant(1), ast.Store())], first),
            ast.Assign([ast.Subscript(_name("where"), ast.Constant(2), ast.Store())], second),
            ast.Raise(_call(error, ast.Constant(code)), None)]


def _sum_type(dtype: DType) -> DType:
    """The accumulator of Sum/Product/Mean, as the evaluator's: integers as (u)int64."""
    if dtype in ("float32", "float64", "uint64"):
        return dtype
    return "int64"


class _Generator(loopkernel._Generator):
    """The kernel's syntax tree for one expression: the C++ body generator's conversions
    and operators, with collections read element by element inside a loop."""

    def __init__(self, tree: Typed) -> None:  # the body generator's state is not used
        self.tree = tree
        self.counter = 0
        self.loop: _Loop | None = None
        self.functions: list[ast.FunctionDef] = []
        self.slots: list[tuple[str, ...]] = []
        self.columns: dict[str, int] = {}
        self.types: list[ColumnType] = []
        self.driver = -1
        self.flat = False
        self.memo: dict[Typed, str] = {}  # the body generator's shared values: none here
        todo = [tree]
        while todo:
            t = todo.pop()
            if t.op == "col" and str(t.value) not in self.columns:
                k = len(self.types)
                self.columns[str(t.value)] = k
                self.types.append(t.type)
                self.slots.append((f"c{k}", f"o{k}") if t.type.kind == "jagged" else (f"a{k}",))
            todo.extend(reversed(t.args))
        self.params = [p for names in self.slots for p in names]
        self.head = ["ev", "where", *self.params]

    def module(self) -> ast.Module:
        t = self.tree
        mark = ast.Assign([ast.Subscript(_name("where"), ast.Constant(0), ast.Store())],
                          _name("ev"))
        dtype = t.type.dtype
        if t.type.kind == "scalar":
            value = self.convert(self.expr(t), dtype, dtype)
            store = ast.Assign([ast.Subscript(_name("out"), _name("ev"), ast.Store())], value)
            body: list[ast.stmt] = [ast.For(_name("ev", True), _call("range", _name("n")),
                                            [mark, store], [])]
            args = ["n", "where", "out", *self.params]
        else:
            loop, size, value = self.open(t)
            self.driver = loop.groups["base"][0]
            self.flat = loop.cond is None and not loop.hoisted
            body = self.flat_loop(loop, mark, value, dtype) if self.flat else \
                self.event_loop(loop, mark, size, value, dtype)
            args = ["n", "where", "out", "buf", *self.params]
        kernel = self.function("_kernel", args, body)
        return ast.fix_missing_locations(ast.Module([*self.functions, kernel], []))

    def event_loop(self, loop: _Loop, mark: ast.stmt, size: ast.expr, value: ast.expr,
                   dtype: DType) -> list[ast.stmt]:
        """A collection result element by element, event by event: `out` gets the offsets,
        `buf` the kept elements, the kernel returns their number."""
        keep: list[ast.stmt] = [
            ast.Assign([ast.Subscript(_name("buf"), _name("total"), ast.Store())],
                       self.convert(value, dtype, dtype)),
            ast.AugAssign(_name("total", True), ast.Add(), ast.Constant(1))]
        inner: list[ast.stmt] = keep if loop.cond is None else [ast.If(loop.cond, keep, [])]
        return [_assign("total", ast.Constant(0)), ast.For(
            _name("ev", True), _call("range", _name("n")), [
                mark, *loop.prelude,
                ast.For(_name("j", True), _call("range", size), inner, []),
                ast.Assign([ast.Subscript(_name("out"), _plus(_name("ev"), ast.Constant(1)),
                                          ast.Store())], _name("total"))], []),
            ast.Return(_name("total"))]

    def flat_loop(self, loop: _Loop, mark: ast.stmt, value: ast.expr,
                  dtype: DType) -> list[ast.stmt]:
        """A collection result of equally long collections and constants, without a mask:
        the sizes checked event by event, then one loop over all elements (the result has
        the first collection's offsets)."""
        body: list[ast.stmt] = []
        columns = loop.groups["base"]
        if len(columns) > 1:
            body.append(ast.For(_name("ev", True), _call("range", _name("n")),
                                [mark, *loop.prelude], []))
        body += [_assign(f"s{k}", ast.Constant(0)) for k in columns]
        store = ast.Assign([ast.Subscript(_name("buf"), _name("j"), ast.Store())],
                           self.convert(value, dtype, dtype))
        body += [ast.For(_name("j", True), _call("range", _call("len", _name("buf"))),
                         [store], []),
                 ast.Return(_call("len", _name("buf")))]
        return body

    # ---- loops over one event's elements

    def open(self, t: Typed) -> tuple[_Loop, ast.expr, ast.expr]:
        """The loop over `t`'s elements: its prelude (sizes checked, per-event values
        computed), its size and the element's value at position `j`."""
        saved, self.loop = self.loop, _Loop()
        try:
            value = cast(ast.expr, t.visit(self))
            loop = self.loop
        finally:
            self.loop = saved
        checks: list[ast.stmt] = []
        for k in dict.fromkeys(loop.groups["base"] + loop.groups["cond"]):
            offsets = self.slots[k][1]
            checks += [_assign(f"s{k}", _item(offsets, _name("ev"))),
                       _assign(f"n{k}", ast.BinOp(_item(offsets, _plus(_name("ev"),
                                                                      ast.Constant(1))),
                                                  ast.Sub(), _name(f"s{k}")))]
        for group in loop.groups.values():
            for k in group[1:]:
                checks.append(self.differ(group[0], k, "hepflow:elementwise"))
        base = loop.groups["base"][0]
        if loop.groups["cond"]:
            checks.append(self.differ(base, loop.groups["cond"][0], "hepflow:mask"))
        loop.prelude[:0] = checks
        return loop, _name(f"n{base}"), value

    @staticmethod
    def differ(first: int, other: int, code: str) -> ast.stmt:
        return ast.If(ast.Compare(_name(f"n{other}"), [ast.NotEq()], [_name(f"n{first}")]),
                      _fail(code, _name(f"n{first}"), _name(f"n{other}")), [])

    def per_event(self, name: str, statements: list[ast.stmt]) -> ast.expr:
        """A function of the event holding `statements`, and the call of it."""
        fname = self.fresh(f"_{name}")
        self.functions.append(self.function(fname, self.head, statements))
        return _call(fname, *(_name(a) for a in self.head))

    def hoist(self, t: Typed) -> ast.expr:
        """A number per event inside a loop: computed once per event, before the loop
        (as C++ computes an RVec operator's scalar argument, whatever the size)."""
        loop = self.loop
        assert loop is not None
        if t.op == "const":
            return self.visit_Constant(t)
        self.loop = None
        try:
            value = self.expr(t)
        finally:
            self.loop = loop
        name = self.fresh("h")
        loop.prelude.append(_assign(name, value))
        loop.hoisted += 1
        return _name(name)

    # ---- expressions

    def convert(self, x: ast.expr, src: DType, dst: DType) -> ast.expr:
        """As the body generator converts, but a float becomes a small or unsigned integer
        as numpy's cast does (C++ leaves a value out of range undefined)."""
        if src in ("float32", "float64") and dst in _VIA_SIGNED:
            x = _call(_VIA_SIGNED[dst], x)
        return super().convert(x, src, dst)

    def expr(self, t: Typed) -> ast.expr:
        if self.loop is not None and t.type.kind == "scalar":
            return self.hoist(t)
        return cast(ast.expr, t.visit(self))

    def visit_Column(self, t: Typed) -> ast.expr:
        k = self.columns[str(t.value)]
        if t.type.kind == "scalar":
            return _item(self.slots[k][0], _name("ev"))
        assert self.loop is not None
        group = self.loop.groups[self.loop.group]
        if k not in group:
            group.append(k)
        return _item(self.slots[k][0], _plus(_name(f"s{k}"), _name("j")))

    def visit_Binary(self, t: Typed) -> ast.expr:
        if self.loop is None:
            return super().visit_Binary(t)
        steps = cast(tuple[BinaryStep, ...], t.value)
        first = 0  # a leading run of per-event steps is one per-event value
        while first < len(steps) and steps[first].type.kind == "scalar":
            first += 1
        if first:
            acc = self.hoist(Binary(steps[first - 1].type, t.args[:first + 1],
                                   steps[:first]))
            current = steps[first - 1].type.dtype
        else:
            acc = self.expr(t.args[0])
            current = t.args[0].type.dtype
        for step, operand in zip(steps[first:], t.args[first + 1:], strict=True):
            right = self.expr(operand)
            if step.op in _LOGICAL:  # RVec's && evaluates both sides: no short circuit
                op: ast.operator = ast.BitAnd() if step.op == "&&" else ast.BitOr()
                acc = ast.BinOp(self.truthy(acc, current), op,
                                self.truthy(right, operand.type.dtype))
            else:
                acc = self.arithmetic(step, self.convert(acc, current, step.common),
                                      self.convert(right, operand.type.dtype, step.common))
            current = step.type.dtype
        return acc

    def visit_Ternary(self, t: Typed) -> ast.expr:
        if self.loop is None:
            return super().visit_Ternary(t)
        cond, a, b = t.args  # element-wise, as ROOT's Where: both sides are computed
        dst = t.type.dtype
        return _call("_pick", self.truth(cond), self.convert(self.expr(a), a.type.dtype, dst),
                     self.convert(self.expr(b), b.type.dtype, dst))

    def visit_MaskIndex(self, t: Typed) -> ast.expr:
        base, index = t.args
        loop = self.loop
        assert loop is not None
        loop.group = "cond"
        loop.cond = self.truth(index)
        loop.group = "base"
        return self.convert(self.expr(base), base.type.dtype, t.type.dtype)

    def visit_ElementIndex(self, t: Typed) -> ast.expr:
        base, index = t.args
        loop, size, value = self.open(base)
        position = self.expr(index)
        position = _call("_u64_index", position) if index.type.dtype == "uint64" else \
            _call("np.int64", position)
        body = [*loop.prelude, _assign("j", _call("_checked", position, size, _name("where"))),
                ast.Return(self.convert(value, base.type.dtype, t.type.dtype))]
        return self.per_event("element", body)

    def visit_Call(self, t: Typed) -> ast.expr:
        name = str(t.value)
        if name in _REDUCTIONS:
            return self.reduction(name, t)
        dst = t.type.dtype
        if name == "Where":
            c, a, b = t.args
            return _call("_pick", self.truth(c), self.convert(self.expr(a), a.type.dtype, dst),
                         self.convert(self.expr(b), b.type.dtype, dst))
        if name in ("max", "min"):  # libstdc++'s (a < b) ? b : a, as the evaluator
            first, second = [self.convert(self.expr(x), x.type.dtype, dst) for x in t.args]
            less = ast.Compare(first, [ast.Lt()], [second]) if name == "max" else \
                ast.Compare(second, [ast.Lt()], [first])
            return ast.IfExp(less, second, first)
        if name == "round":
            (x,) = t.args
            return self.convert(_call("_round", self.convert(self.expr(x), x.type.dtype,
                                                             "float64")), "float64", dst)
        if name == "abs":  # numpy's abs in the argument's type, then the result's
            (x,) = t.args
            value = self.expr(x)
            if x.type.dtype != "bool":
                value = _call("np.abs", value)
            return self.convert(value, x.type.dtype, dst)
        work: DType = "float32" if all(a.type.dtype == "float32" for a in t.args) else \
            "float64"  # C++'s float overload only when every argument is a float
        args = [self.convert(self.expr(a), a.type.dtype, work) for a in t.args]
        value = _call("np.abs", *args) if name == "fabs" else _call(_MATH[name], *args)
        return self.convert(value, work, dst)

    def reduction(self, name: str, t: Typed) -> ast.expr:
        """A reduction as a function of the event: one loop over the elements."""
        loop, size, value = self.open(t.args[0])
        src, dst = t.args[0].type.dtype, t.type.dtype
        if name in ("size", "Length") and loop.cond is None:
            return self.per_event("size", [*loop.prelude, ast.Return(
                self.convert(size, "int64", dst))])
        acc, count = _name("acc"), _name("k")
        step: list[ast.stmt]
        if name in ("Sum", "Product", "Mean"):
            kind = _sum_type(src)
            start = self.const(1 if name == "Product" else 0, kind)
            op: ast.operator = ast.Mult() if name == "Product" else ast.Add()
            step = [_assign("acc", _call("np." + kind, ast.BinOp(
                acc, op, _call("np." + kind, _name("v")))))]
            result: ast.expr = self.convert(acc, kind, dst)
            if name == "Mean":
                result = ast.IfExp(ast.Compare(count, [ast.Gt()], [ast.Constant(0)]), ast.BinOp(
                    _call("np.float64", acc), ast.Div(), _call("np.float64", count)),
                    _call("np.float64", ast.Constant(0.0)))
        elif name in ("Max", "Min"):
            start = self.extreme(src, name == "Max")
            better: ast.expr = ast.Compare(_name("v"), [ast.Gt() if name == "Max" else ast.Lt()],
                                           [acc])
            step = [ast.If(better, [_assign("acc", _name("v"))], [])]
            result = self.convert(acc, src, dst)
        elif name in ("ArgMax", "ArgMin"):
            start = self.const(0, src)
            better = ast.BoolOp(ast.Or(), [
                ast.Compare(count, [ast.Eq()], [ast.Constant(0)]),
                ast.Compare(_name("v"), [ast.Gt() if name == "ArgMax" else ast.Lt()], [acc])])
            step = [ast.If(better, [_assign("acc", _name("v")), _assign("best", count)], [])]
            result = self.convert(_name("best"), "int64", dst)
        elif name in ("Any", "All"):
            start = ast.Constant(name == "All")
            op = ast.BitOr() if name == "Any" else ast.BitAnd()
            step = [_assign("acc", ast.BinOp(acc, op, self.truthy(_name("v"), src)))]
            result = self.convert(acc, "bool", dst)
        else:  # size of a masked collection: the elements kept
            start, step, result = ast.Constant(0), [], self.convert(count, "int64", dst)
        each = [_assign("v", value), *step, ast.AugAssign(_name("k", True), ast.Add(),
                                                         ast.Constant(1))]
        inner: list[ast.stmt] = each if loop.cond is None else \
            [ast.If(loop.cond, each, [])]
        body = [*loop.prelude, _assign("acc", start), _assign("k", ast.Constant(0)),
                _assign("best", ast.Constant(0)),
                ast.For(_name("j", True), _call("range", size), inner, [])]
        if name in ("Max", "Min"):
            body.append(ast.If(ast.Compare(count, [ast.Eq()], [ast.Constant(0)]),
                               _fail("hepflow:" + name, ast.Constant(0), ast.Constant(0)), []))
        body.append(ast.Return(result))
        return self.per_event(name.lower(), body)

    def extreme(self, dtype: DType, largest: bool) -> ast.expr:
        """The start of awkward's max/min: the lowest (highest) value of the type."""
        if dtype == "bool":
            return ast.Constant(not largest)
        if dtype in ("float32", "float64"):
            return self.const(-np.inf if largest else np.inf, dtype)
        info = np.iinfo(np.dtype(dtype))
        return self.const(int(info.min if largest else info.max), dtype)


# ------------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class _Compiled:
    """One expression's kernel and what it reads."""

    kernel: Any
    columns: tuple[tuple[str, ColumnType], ...]
    driver: int
    #: one loop over all elements: the result has the driver's offsets
    flat: bool


_KERNELS: dict[Typed, _Compiled] = {}
_OWN: dict[str, Any] = {}


def _helpers() -> dict[str, Any]:
    """The body compiler's helpers and this compiler's own, compiled once per process."""
    if not _OWN:
        helpers = loopkernel._helpers()
        numba = helpers["_numba"]
        jit = numba.njit(error_model="numpy")
        remainder = helpers["_cmod"]

        def cmod(a: Any, b: Any) -> Any:
            if b == 0:
                raise ZeroDivisionError("integer modulo by zero")
            return remainder(a, b)

        def pick(c: Any, a: Any, b: Any) -> Any:
            return a if c else b

        def round_(x: Any) -> Any:  # std::round as vecops computes it, in double
            whole = np.floor(np.abs(x))
            return np.copysign(whole + np.float64(np.abs(x) - whole >= 0.5), x)

        def u64_index(i: Any) -> Any:  # a size_t past 2^62 is past the end of anything
            return np.int64(min(i, np.uint64(2**62)))

        def f2u64(x: Any) -> Any:  # numpy's: what is not in range wraps from int64
            if x >= 0 and x < 18446744073709551616.0:
                return np.uint64(x)
            return np.uint64(np.int64(x))

        def checked(i: Any, size: Any, where: Any) -> Any:
            if i < 0 or i >= size:
                where[1] = i
                where[2] = size
                raise IndexError("hepflow:index")
            return i

        _OWN.update(helpers)
        _OWN.update({"_cmod": jit(cmod), "_pick": jit(pick), "_round": jit(round_),
                     "_u64_index": jit(u64_index), "_f2u64": jit(f2u64), "_checked": jit(checked)})
    return _OWN


def _compile(tree: Typed) -> _Compiled:
    gen = _Generator(tree)
    namespace = kernelcache.jit_module(gen.module(), dict(_helpers()),
                                       "<hepflow compiled expression>")
    columns = tuple((name, gen.types[k]) for name, k in gen.columns.items())
    return _Compiled(namespace["_kernel"], columns, gen.driver, gen.flat)


def _kernel(tree: Typed) -> _Compiled:
    return kernelcache.built_once(_KERNELS, tree, _compile)


def _flat(value: Value, t: ColumnType, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A collection column's int64 offsets (from 0) and contents in its C++ type."""
    found = lists.parts(value)
    if found is not None:
        offsets, contents = found
    else:
        array = value if isinstance(value, ak.Array) else ak.Array(value)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.asarray(ak.num(array, axis=1), dtype=np.int64), out=offsets[1:])
        contents = np.asarray(ak.to_numpy(ak.flatten(array, axis=1)))
    return offsets, np.ascontiguousarray(contents, dtype=t.numpy)


def evaluate(tree: Typed, frame: Frame) -> Value:
    """The per-event value of `tree` on `frame`, computed by the expression's compiled
    kernel; `compilable(tree)` must hold."""
    compiled = _kernel(tree)
    n = frame.n
    arguments: list[Any] = []
    for name, t in compiled.columns:
        value = frame.column(name)
        if t.kind == "jagged":
            arguments += _flat(value, t, n)[::-1]  # contents, then offsets
        else:
            column = ak.to_numpy(value) if isinstance(value, ak.Array) else value
            arguments.append(np.ascontiguousarray(np.broadcast_to(
                np.asarray(column, dtype=t.numpy), (n,))))
    where = np.zeros(3, dtype=np.int64)
    if tree.type.kind == "scalar":
        out = np.empty(n, dtype=tree.type.numpy)
        call = (n, where, out, *arguments)
    else:
        driver = _driver(compiled, arguments)
        offsets = driver if compiled.flat else np.zeros(n + 1, dtype=np.int64)
        buf = np.empty(int(driver[-1]), dtype=tree.type.numpy)
        call = (n, where, offsets, buf, *arguments)
    loopkernel._compiled_for(compiled.kernel, call)
    try:
        result = compiled.kernel(*call)
    except (IndexError, ZeroDivisionError, ValueError, RuntimeError) as exc:
        raise EvaluationFailure(_message(str(exc), where, tree)) from exc
    if tree.type.kind == "scalar":
        return out
    return lists.wrap(offsets, buf[:int(result)])


def _driver(compiled: _Compiled, arguments: list[Any]) -> np.ndarray:
    """The offsets of the collection whose sizes the result's loops run over (its elements
    bound the result's)."""
    position = 0
    for k, (_, t) in enumerate(compiled.columns):
        if k == compiled.driver:
            return cast(np.ndarray, arguments[position + 1])
        position += 2 if t.kind == "jagged" else 1
    raise AssertionError("the collection result reads no collection")  # pragma: no cover


def _message(code: str, where: np.ndarray, tree: Typed) -> str:
    """The evaluator's message for the failure the kernel recorded in `where`."""
    event, first, second = (int(x) for x in where)
    if code == "hepflow:index":
        return (f"index {first} out of range in an event with {second} elements (event "
                f"{event} of this chunk); guard it, e.g. `n > i && v[i] ...`")
    if code == "hepflow:mask":
        return (f"cannot index a collection of {first} elements with a mask of {second} "
                f"(event {event} of this chunk): ROOT's v[mask] needs equally long "
                "collections (Take(v, indices) takes positions)")
    if code == "hepflow:elementwise":
        return (f"collections of {first} and {second} elements combined element by element "
                f"(event {event} of this chunk): ROOT needs equally long collections")
    if code in ("hepflow:Max", "hepflow:Min"):
        name = code.partition(":")[2]
        return (f"{name} of an empty collection (event {event} of this chunk), which ROOT "
                f"leaves undefined; guard it, e.g. `v.size() > 0 ? {name}(v) : 0` or "
                f"`v.size() > 0 && {name}(v) > x`")
    return code


__all__ = ["chosen", "compilable", "evaluate", "has_collections"]
