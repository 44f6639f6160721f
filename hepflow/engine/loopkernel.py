"""Run a checked C++ body with loops (`plan.expr.loops.LoopBody`) as a numba kernel.

The kernel is generated as a Python `ast` tree from the checked statements —
never from the user's text — compiled, and handed to numba: one compiled loop
over the events of a chunk, reading collections as flat contents and offsets.
Every value is converted to its C++ type after each operation, so integers wrap,
divide and compare as in C++ and `float` stays `float`. Kernels are cached per
process by the body itself (equal bodies share one). A loop that runs more than
`MAX_ITERATIONS` times in one event stops with an error naming the event.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

import awkward as ak
import numpy as np

from hepflow.core.types import DType
from hepflow.engine import kernelcache, randomdraws
from hepflow.engine.values import EvaluationFailure, Value
from hepflow.plan.expr import loops as lp
from hepflow.plan.expr.random_objects import Distribution, Draw, Engine
from hepflow.plan.expr.typed import BinaryStep, Typed, UnaryStep

_KERNELS: dict[lp.LoopBody, Callable[..., Any]] = {}
_LOCK = threading.Lock()
_HELPERS: dict[str, Any] = {}
_RUNAWAY = f"loops ran more than {lp.MAX_ITERATIONS} iterations in one event"

#: Operations whose repeated values one statement computes once (`_Generator.shared`).
_SHARED_OPS = frozenset({"unary", "binary", "ternary", "call"})
_ARITH: dict[str, type[ast.operator]] = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "&": ast.BitAnd, "|": ast.BitOr,
    "^": ast.BitXor, "<<": ast.LShift, ">>": ast.RShift}
_COMPARE: dict[str, type[ast.cmpop]] = {
    "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq}


def run(body: lp.LoopBody, args: Sequence[Value], n: int) -> Value:
    """The body's value for each of `n` events, its inputs `args` (the call's args)."""
    kernel = _kernel(body)
    flat: list[np.ndarray] = []
    for value, t in zip(args, body.inputs, strict=True):
        if t.kind == "jagged":
            array = value if isinstance(value, ak.Array) else ak.Array(value)
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.asarray(ak.num(array, axis=1), dtype=np.int64), out=offsets[1:])
            contents = np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=t.numpy)
            flat += [np.ascontiguousarray(contents), offsets]
        else:
            column = np.broadcast_to(np.asarray(value, dtype=t.numpy), (n,))
            flat.append(np.ascontiguousarray(column))
    engines, distributions = random_objects(body)
    flat += [randomdraws.engine_state(e) for e in engines]
    flat += [randomdraws.distribution_state(d) for d in distributions]
    where = np.zeros(1, dtype=np.int64)
    jagged = body.return_type.kind == "jagged"
    out = np.zeros(n + 1, dtype=np.int64) if jagged else \
        np.empty(n, dtype=body.return_type.numpy)
    arguments = (n, where, out, *flat)
    _compiled_for(kernel, arguments)
    try:
        contents = kernel(*arguments)
    except (IndexError, ZeroDivisionError, RuntimeError, ValueError) as exc:
        raise EvaluationFailure(f"{exc} (in event {int(where[0])} of this chunk)") from exc
    if jagged:  # `out` holds the offsets of the collections in `contents`
        return ak.unflatten(np.asarray(contents), np.diff(out))
    return out


def random_objects(body: lp.LoopBody) -> tuple[tuple[Engine, ...], tuple[Distribution, ...]]:
    """The engines and distributions `body` draws from, in order of first use: their
    per-thread states are the kernel's last arguments."""
    engines: dict[Engine, None] = {}
    kept: dict[Distribution, None] = {}
    todo: list[object] = list(reversed(body.statements))
    while todo:
        item = todo.pop()
        if isinstance(item, Typed):
            if isinstance(item.value, Draw):
                engines[item.value.engine] = None
                if item.value.distribution is not None:
                    kept[item.value.distribution] = None
            todo.extend(reversed(item.args))
        elif isinstance(item, tuple):
            todo.extend(reversed(item))
        elif dataclasses.is_dataclass(item):
            todo.extend(reversed([getattr(item, f.name) for f in dataclasses.fields(item)]))
    return tuple(engines), tuple(kept)


def _kernel(body: lp.LoopBody) -> Callable[..., Any]:
    return kernelcache.built_once(_KERNELS, body, _compile)


def _compiled_for(kernel: Any, arguments: Sequence[Any]) -> None:
    """Compile (or load from the disk cache) the kernel for these arguments' types
    before the call, so that the seconds it takes are counted as compiling."""
    import numba

    signature = tuple(numba.typeof(a) for a in arguments)
    if signature not in kernel.overloads:
        with _LOCK, kernelcache.compiling():
            kernel.compile(signature)


def _helpers() -> dict[str, Any]:
    """The fixed helpers every kernel may call, compiled once per process."""
    if not _HELPERS:
        import numba  # imported here: only bodies with loops need it

        jit = numba.njit(error_model="numpy")

        def cdiv(a: Any, b: Any) -> Any:
            if b == 0:
                raise ZeroDivisionError("integer division by zero")
            q = a // b
            if a % b != 0 and (a < 0) != (b < 0):
                q += 1
            return q

        cdiv_compiled = jit(cdiv)

        def cmod(a: Any, b: Any) -> Any:
            return a - b * cdiv_compiled(a, b)

        def at(contents: Any, offsets: Any, ev: int, i: Any) -> Any:
            k = np.int64(i)
            start = offsets[ev]
            if k < 0 or k >= offsets[ev + 1] - start:
                raise IndexError("index out of range of a collection")
            return contents[start + k]

        def index(size: Any, i: Any) -> Any:
            k = np.int64(i)
            if k < 0 or k >= size:
                raise IndexError("index out of range of a collection")
            return k

        def grow(values: Any, need: Any) -> Any:
            bigger = np.empty(max(need, 8, 2 * len(values)), values.dtype)
            bigger[:len(values)] = values
            return bigger

        def resize(values: Any, size: Any, want: Any, fill: Any) -> Any:
            if want < 0:
                raise ValueError("a collection cannot be resized to a negative size")
            out = np.empty(want, values.dtype)
            keep = min(size, want)
            out[:keep] = values[:keep]
            out[keep:] = fill
            return out

        def take(values: Any, n: Any) -> Any:
            # ROOT's Take(v, const int n): the first n (n >= 0) or last |n| elements
            size = len(values)
            absn = -np.int64(n) if n < 0 else np.int64(n)
            if absn > size:
                raise IndexError("Take asked for more elements than the collection has")
            if n < 0:
                return values[size - absn:].copy()
            return values[:absn].copy()

        take_compiled = jit(take)

        def take_or_fill(values: Any, n: Any, fill: Any) -> Any:
            # Take(v, n, default): as Take(v, n), padded with the default past v's end
            # (n > 0) or before its start (n < 0) when v is too short
            size = len(values)
            absn = -np.int64(n) if n < 0 else np.int64(n)
            if absn <= size:
                return take_compiled(values, n)
            out = np.empty(absn, values.dtype)
            if n > 0:
                out[:size] = values
                out[size:] = fill
            else:
                out[:absn - size] = fill
                out[absn - size:] = values
            return out

        def gather(values: Any, indices: Any) -> Any:
            # Take(v, indices): v[indices[k]] for each k, each index checked
            out = np.empty(len(indices), values.dtype)
            for k in range(len(indices)):
                i = np.int64(indices[k])
                if i < 0 or i >= len(values):
                    raise IndexError("index out of range of a collection")
                out[k] = values[i]
            return out

        from hepflow.engine import fourvector_scalar  # it imports numba

        _HELPERS.update({_vector_helper(name): func
                         for name, func in fourvector_scalar.FUNCTIONS.items()})
        _HELPERS.update({"np": np, "math": math, "_cdiv": cdiv_compiled, "_cmod": jit(cmod),
                         "_at": jit(at), "_index": jit(index), "_grow": jit(grow),
                         "_resize": jit(resize), "_take": take_compiled,
                         "_take_or_fill": jit(take_or_fill), "_gather": jit(gather),
                         "_numba": numba})
        _HELPERS.update(randomdraws.functions())
    return _HELPERS


def _vector_helper(name: str) -> str:
    """The kernel's name for `fourvector_scalar.FUNCTIONS[name]` ("System.Method")."""
    return "_fv_" + name.replace(".", "_")


def _compile(body: lp.LoopBody) -> Callable[..., Any]:
    namespace = kernelcache.jit_module(_Generator(body).module(), dict(_helpers()),
                                       "<hepflow compiled body>")
    return cast(Callable[..., Any], namespace["_kernel"])


def _name(name: str, store: bool = False) -> ast.Name:
    return ast.Name(name, ast.Store() if store else ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    module, _, attr = func.rpartition(".")
    target: ast.expr = ast.Attribute(_name(module), attr, ast.Load()) if module else _name(func)
    return ast.Call(target, list(args), [])


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([_name(name, True)], value)


def _np(dtype: DType) -> str:
    """numpy's name of a C++ number type (`bool_` for bool)."""
    return "bool_" if dtype == "bool" else dtype


def _numpy(dtype: DType) -> ast.expr:
    """`np.float32` and the like, as an expression."""
    return ast.Attribute(_name("np"), _np(dtype), ast.Load())


def _list_types(statements: Sequence[lp.LStatement]) -> dict[int, DType]:
    """The element type of every local collection declared in `statements`."""
    found: dict[int, DType] = {}
    todo = list(statements)
    while todo:
        st = todo.pop()
        if isinstance(st, lp.LDeclareList):
            found[st.uid] = st.type.dtype
        for name in ("then", "otherwise", "body", "init", "step"):
            inner = getattr(st, name, ())
            if isinstance(inner, tuple):  # LFor's init and step, the blocks
                todo.extend(inner)
    return found


class _Generator:
    """The kernel's Python syntax tree for one body."""

    def __init__(self, body: lp.LoopBody) -> None:
        self.body = body
        self.params: list[str] = []
        self.slots: list[tuple[str, ...]] = []
        for k, t in enumerate(body.inputs):
            names = (f"c{k}", f"o{k}") if t.kind == "jagged" else (f"a{k}",)
            self.slots.append(names)
            self.params += names
        engines, distributions = random_objects(body)
        self.engines = {e: f"r{k}" for k, e in enumerate(engines)}
        self.kept = {d: f"q{k}" for k, d in enumerate(distributions)}
        self.params += [*self.engines.values(), *self.kept.values()]
        self.counter = 0
        self.list_types = _list_types(body.statements)
        self.memo: dict[Typed, str] = {}  # this statement's shared values (`shared`)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def module(self) -> ast.Module:
        jagged = self.body.return_type.kind == "jagged"
        args = ["ev", *self.params] if jagged else ["ev", "out", *self.params]
        # one count of loop iterations per event, over all of its while and for loops
        statements = [_assign("_it", ast.Constant(0)), *self.block(self.body.statements)]
        statements.append(ast.Raise(_call("RuntimeError", ast.Constant(
            "the body reached its end without `return`")), None))
        body_def = self.function("_body", args, statements)
        mark = ast.Assign([ast.Subscript(_name("where"), ast.Constant(0), ast.Store())],
                          _name("ev"))
        call = _call("_body", *(_name(a) for a in args))
        if not jagged:
            loop = ast.For(_name("ev", True), _call("range", _name("n")),
                           [mark, ast.Expr(call)], [])
            kernel: list[ast.stmt] = [loop]
        else:
            kernel = self.collecting_kernel(mark, call)
        kernel_def = self.function("_kernel", ["n", "where", "out", *self.params], kernel)
        return ast.fix_missing_locations(ast.Module([body_def, kernel_def], []))

    def collecting_kernel(self, mark: ast.stmt, call: ast.expr) -> list[ast.stmt]:
        """Each event's collection appended to one growing buffer; `out` gets the
        offsets and the buffer's filled part is returned."""
        dtype = self.body.return_type.dtype
        end = ast.BinOp(_name("total"), ast.Add(), _call("len", _name("r")))
        span = ast.Slice(_name("total"), end)
        loop = ast.For(_name("ev", True), _call("range", _name("n")), [
            mark,
            _assign("r", call),
            ast.If(ast.Compare(end, [ast.Gt()], [_call("len", _name("buf"))]),
                   [_assign("buf", _call("_grow", _name("buf"), end))], []),
            ast.Assign([ast.Subscript(_name("buf"), span, ast.Store())], _name("r")),
            _assign("total", end),
            ast.Assign([ast.Subscript(_name("out"), ast.BinOp(_name("ev"), ast.Add(),
                                                              ast.Constant(1)), ast.Store())],
                       _name("total"))], [])
        result = ast.Subscript(_name("buf"), ast.Slice(None, _name("total")), ast.Load())
        return [_assign("buf", _call("np.empty", ast.Constant(16), _numpy(dtype))),
                _assign("total", ast.Constant(0)), loop, ast.Return(result)]

    @staticmethod
    def function(name: str, args: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
        arguments = ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in args], vararg=None,
                                  kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        return ast.FunctionDef(name=name, args=arguments, body=body, decorator_list=[],
                               returns=None, type_comment=None)

    # ---- statements

    def block(self, statements: Sequence[lp.LStatement]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for st in statements:
            self.memo = {}  # locals may change between statements
            out += getattr(self, "stmt_" + type(st).__name__)(st)
        self.memo = {}
        return out

    def shared(self, *trees: Typed | None) -> list[ast.stmt]:
        """Assignments, before a statement, of the values its expressions repeat.

        A declared function without loops is one expression in which each local is
        replaced by its value at every use: `z = x + k; z = (z ^ (z >> 30)) * m; ...`
        doubles `x + k` at each line, and numba's compile time with it. A subtree that
        occurs twice, is a number and cannot fail is computed once here (computing it
        even where a `?:` or `&&` would skip it changes nothing, as it cannot fail).
        """
        counts: dict[Typed, int] = {}
        order: list[Typed] = []
        pending = [t for t in trees if t is not None]
        while pending:  # iterative: long `a + b + ...` chains must not hit the stack
            t = pending.pop()
            counts[t] = counts.get(t, 0) + 1
            if counts[t] == 1:
                order.append(t)
                pending.extend(t.args)
        out: list[ast.stmt] = []
        for t in reversed(order):  # the children of a subtree before it
            if counts[t] > 1 and t.op in _SHARED_OPS and not t.may_fail and \
                    t.type.kind == "scalar" and t not in self.memo:
                name = self.fresh("s")
                out.append(_assign(name, self.expr(t)))
                self.memo[t] = name
        return out

    @staticmethod
    def nonempty(statements: list[ast.stmt]) -> list[ast.stmt]:
        return statements or [ast.Pass()]

    def stmt_LDeclare(self, st: lp.LDeclare) -> list[ast.stmt]:
        before = self.shared(st.init)
        value = self.const(0, st.type.dtype) if st.init is None else \
            self.convert(self.expr(st.init), st.init.type.dtype, st.type.dtype)
        return [*before, _assign(f"l{st.uid}", value)]

    def stmt_LDeclareList(self, st: lp.LDeclareList) -> list[ast.stmt]:
        values, size = f"v{st.uid}", f"n{st.uid}"
        built = self.collection(st.init, st.type.dtype) if st.init is not None else \
            ([], _call("np.empty", ast.Constant(0), _numpy(st.type.dtype)))
        return [*built[0], _assign(values, built[1]), _assign(size, _call("len", _name(values)))]

    def collection(self, t: Typed, dtype: DType) -> tuple[list[ast.stmt], ast.expr]:
        """Statements and the expression giving a fresh array of `dtype` for `t`."""
        kind = _numpy(dtype)
        if t.op in ("local", "input"):
            return [], ast.Call(ast.Attribute(self.part(t), "astype", ast.Load()), [kind], [])
        temp = self.fresh("t")
        if t.value == "Take":  # Take(v, n), Take(v, n, default), Take(v, indices)
            base, which, *fill = t.args
            values = ast.Call(ast.Attribute(self.part(base), "astype", ast.Load()), [kind], [])
            if which.type.kind == "jagged":
                return [], _call("_gather", values, self.part(which))
            n = self.convert(self.expr(which), which.type.dtype, "int32")
            if fill:
                default = self.convert(self.expr(fill[0]), fill[0].type.dtype, dtype)
                return [], _call("_take_or_fill", values, n, default)
            return [], _call("_take", values, n)
        if t.value == "RVec":  # RVec<T>(n) (zeros) or RVec<T>(n, value)
            size, *fill = t.args
            length = self.convert(self.expr(size), size.type.dtype, "int64")
            value = self.convert(self.expr(fill[0]), fill[0].type.dtype, dtype) if fill \
                else self.const(0, dtype)
            return [_assign(temp, _call("np.empty", length, kind)),
                    ast.Assign([ast.Subscript(_name(temp), ast.Slice(), ast.Store())], value)], \
                _name(temp)
        out: list[ast.stmt] = [_assign(temp, _call("np.empty", ast.Constant(len(t.args)),
                                                   kind))]
        for i, item in enumerate(t.args):
            out.append(ast.Assign([ast.Subscript(_name(temp), ast.Constant(i), ast.Store())],
                                  self.convert(self.expr(item), item.type.dtype, dtype)))
        return out, _name(temp)

    def part(self, t: Typed) -> ast.expr:
        """The elements of a local collection or of an input collection in this event (a
        view, not a copy)."""
        if t.op == "local":
            uid = t.value
            return ast.Subscript(_name(f"v{uid}"), ast.Slice(None, _name(f"n{uid}")), ast.Load())
        contents, offsets = self.slots[cast(int, t.value)]
        return ast.Subscript(_name(contents), ast.Slice(
            ast.Subscript(_name(offsets), _name("ev"), ast.Load()),
            ast.Subscript(_name(offsets), ast.BinOp(_name("ev"), ast.Add(), ast.Constant(1)),
                          ast.Load())), ast.Load())

    def stmt_LPush(self, st: lp.LPush) -> list[ast.stmt]:
        values, size = f"v{st.uid}", f"n{st.uid}"
        full = ast.Compare(_name(size), [ast.Eq()], [_call("len", _name(values))])
        grow = _assign(values, _call("_grow", _name(values), ast.BinOp(
            _name(size), ast.Add(), ast.Constant(1))))
        return [*self.shared(st.value), ast.If(full, [grow], []),
                ast.Assign([ast.Subscript(_name(values), _name(size), ast.Store())],
                           self.expr(st.value)),
                ast.AugAssign(_name(size, True), ast.Add(), ast.Constant(1))]

    def stmt_LResize(self, st: lp.LResize) -> list[ast.stmt]:
        values, size = f"v{st.uid}", f"n{st.uid}"
        want = self.convert(self.expr(st.size), st.size.type.dtype, "int64")
        fill = self.expr(st.fill) if st.fill is not None else self.const(0, st.type.dtype)
        temp = self.fresh("s")
        return [_assign(temp, want),
                _assign(values, _call("_resize", _name(values), _name(size), _name(temp), fill)),
                _assign(size, _name(temp))]

    def stmt_LSetItem(self, st: lp.LSetItem) -> list[ast.stmt]:
        values, size = f"v{st.uid}", f"n{st.uid}"
        before = self.shared(st.index, st.value)
        position = _call("_index", _name(size), self.expr(st.index))
        return [*before, ast.Assign([ast.Subscript(_name(values), position, ast.Store())],
                           self.expr(st.value))]

    def stmt_LAssign(self, st: lp.LAssign) -> list[ast.stmt]:
        before = self.shared(st.value)
        value = self.convert(self.expr(st.value), st.value.type.dtype, st.type.dtype)
        return [*before, _assign(f"l{st.uid}", value)]

    def stmt_LIf(self, st: lp.LIf) -> list[ast.stmt]:
        return [ast.If(self.truth(st.condition), self.nonempty(self.block(st.then)),
                       self.block(st.otherwise))]

    @staticmethod
    def guard() -> list[ast.stmt]:
        """Count an iteration of the event; stop the kernel past the limit."""
        return [ast.AugAssign(_name("_it", True), ast.Add(), ast.Constant(1)),
                ast.If(ast.Compare(_name("_it"), [ast.Gt()], [ast.Constant(lp.MAX_ITERATIONS)]),
                       [ast.Raise(_call("RuntimeError", ast.Constant(_RUNAWAY)), None)], [])]

    def stmt_LWhile(self, st: lp.LWhile) -> list[ast.stmt]:
        return [ast.While(self.truth(st.condition), self.guard() + self.block(st.body), [])]

    def stmt_LFor(self, st: lp.LFor) -> list[ast.stmt]:
        first = self.fresh("f")
        head: list[ast.stmt] = [
            ast.If(ast.UnaryOp(ast.Not(), _name(first)), self.nonempty(self.block(st.step)),
                   []),
            _assign(first, ast.Constant(False))]
        if st.condition is not None:
            head.append(ast.If(ast.UnaryOp(ast.Not(), self.truth(st.condition)), [ast.Break()],
                               []))
        loop = ast.While(ast.Constant(True), head + self.guard() + self.block(st.body), [])
        return [*self.block(st.init), _assign(first, ast.Constant(True)), loop]

    def stmt_LRangeFor(self, st: lp.LRangeFor) -> list[ast.stmt]:
        j = self.fresh("j")
        if st.local:
            span = _call("range", _name(f"n{st.collection}"))
            element = ast.Subscript(_name(f"v{st.collection}"), _name(j), ast.Load())
            dtype = self.list_types[st.collection]
            first = _assign(f"l{st.uid}", self.convert(element, dtype, st.type.dtype))
            return [ast.For(_name(j, True), span, [first, *self.block(st.body)], [])]
        contents, offsets = self.slots[st.collection]
        span = _call("range", ast.Subscript(_name(offsets), _name("ev"), ast.Load()),
                     ast.Subscript(_name(offsets), ast.BinOp(_name("ev"), ast.Add(),
                                                              ast.Constant(1)), ast.Load()))
        element = ast.Subscript(_name(contents), _name(j), ast.Load())
        dtype = self.body.inputs[st.collection].dtype
        first = _assign(f"l{st.uid}", self.convert(element, dtype, st.type.dtype))
        return [ast.For(_name(j, True), span, [first, *self.block(st.body)], [])]

    def stmt_LBreak(self, st: lp.LBreak) -> list[ast.stmt]:
        return [ast.Break()]

    def stmt_LContinue(self, st: lp.LContinue) -> list[ast.stmt]:
        return [ast.Continue()]

    def stmt_LReturn(self, st: lp.LReturn) -> list[ast.stmt]:
        if self.body.return_type.kind == "jagged":
            built, value = self.collection(st.value, self.body.return_type.dtype)
            return [*built, ast.Return(value)]
        before = self.shared(st.value)
        value = self.convert(self.expr(st.value), st.value.type.dtype,
                             self.body.return_type.dtype)
        # the event's value goes straight to `out`: a body whose every `return` is
        # unreachable (`while (true) ...`) still compiles, and then stops at the limit
        return [*before, ast.Assign([ast.Subscript(_name("out"), _name("ev"), ast.Store())],
                                    value),
                ast.Return(None)]

    # ---- expressions

    def const(self, value: object, dtype: DType) -> ast.expr:
        if dtype == "bool":
            return ast.Constant(bool(value))
        number = float(cast(float, value)) if dtype in ("float32", "float64") else \
            int(cast(int, value))
        return _call("np." + dtype, ast.Constant(number))

    def truth(self, t: Typed) -> ast.expr:
        return self.truthy(self.expr(t), t.type.dtype)

    @staticmethod
    def truthy(x: ast.expr, dtype: DType) -> ast.expr:
        return x if dtype == "bool" else ast.Compare(x, [ast.NotEq()], [ast.Constant(0)])

    def convert(self, x: ast.expr, src: DType, dst: DType) -> ast.expr:
        if dst == "bool":
            return self.truthy(x, src)
        return _call("np." + dst, x)

    def expr(self, t: Typed) -> ast.expr:
        name = self.memo.get(t)
        if name is not None:
            return _name(name)
        return cast(ast.expr, t.visit(self))

    def visit_Constant(self, t: Typed) -> ast.expr:
        return self.const(t.value, t.type.dtype)

    def visit_Local(self, t: Typed) -> ast.expr:
        return _name(f"l{t.value}")

    def visit_Input(self, t: Typed) -> ast.expr:
        (column,) = self.slots[cast(int, t.value)]
        return ast.Subscript(_name(column), _name("ev"), ast.Load())

    def visit_Unary(self, t: Typed) -> ast.expr:
        x = self.expr(t.args[0])
        current = t.args[0].type.dtype
        for step in cast(tuple[UnaryStep, ...], t.value):
            dst = step.type.dtype
            if step.op == "!":
                x = ast.UnaryOp(ast.Not(), self.truthy(x, current))
            elif step.op == "cast" or step.op == "+":
                x = self.convert(x, current, dst)
            else:
                op = ast.USub() if step.op == "-" else ast.Invert()
                x = self.convert(ast.UnaryOp(op, self.convert(x, current, dst)), dst, dst)
            current = dst
        return x

    def visit_Binary(self, t: Typed) -> ast.expr:
        acc = self.expr(t.args[0])
        current = t.args[0].type.dtype
        for step, operand in zip(cast(tuple[BinaryStep, ...], t.value), t.args[1:],
                                 strict=True):
            right = self.expr(operand)
            if step.op in ("&&", "||"):
                op = ast.And() if step.op == "&&" else ast.Or()
                acc = ast.BoolOp(op, [self.truthy(acc, current),
                                      self.truthy(right, operand.type.dtype)])
            else:
                a = self.convert(acc, current, step.common)
                b = self.convert(right, operand.type.dtype, step.common)
                acc = self.arithmetic(step, a, b)
            current = step.type.dtype
        return acc

    def arithmetic(self, step: BinaryStep, a: ast.expr, b: ast.expr) -> ast.expr:
        if step.op in _COMPARE:
            return ast.Compare(a, [_COMPARE[step.op]()], [b])
        floating = step.common in ("float32", "float64")
        if step.op in _ARITH:
            raw: ast.expr = ast.BinOp(a, _ARITH[step.op](), b)
        elif step.op == "/":
            raw = ast.BinOp(a, ast.Div(), b) if floating else _call("_cdiv", a, b)
        else:
            raw = _call("np.fmod", a, b) if floating else _call("_cmod", a, b)
        return self.convert(raw, step.common, step.type.dtype)

    def visit_Ternary(self, t: Typed) -> ast.expr:
        cond, a, b = t.args
        dst = t.type.dtype
        return ast.IfExp(self.truth(cond), self.convert(self.expr(a), a.type.dtype, dst),
                         self.convert(self.expr(b), b.type.dtype, dst))

    def visit_ElementIndex(self, t: Typed) -> ast.expr:
        base, index = t.args
        if base.op == "local":
            position = _call("_index", _name(f"n{base.value}"), self.expr(index))
            element: ast.expr = ast.Subscript(_name(f"v{base.value}"), position, ast.Load())
            return self.convert(element, base.type.dtype, t.type.dtype)
        contents, offsets = self.slots[cast(int, base.value)]
        element = _call("_at", _name(contents), _name(offsets), _name("ev"),
                        self.expr(index))
        return self.convert(element, base.type.dtype, t.type.dtype)

    def visit_VectorAccess(self, t: Typed) -> ast.expr:
        """An accessor (or the constructor's correction) of a 4-vector local's coordinates."""
        return _call(_vector_helper(str(t.value)), *(self.expr(a) for a in t.args))

    def visit_DrawCall(self, t: Typed) -> ast.expr:
        return self.draw(cast(Draw, t.value))

    def visit_Call(self, t: Typed) -> ast.expr:
        name = str(t.value)
        dst = t.type.dtype
        if name in ("size", "Length") and t.args[0].op == "local":
            return self.convert(_name(f"n{t.args[0].value}"), "int64", dst)
        if name in ("size", "Length"):
            _, offsets = self.slots[cast(int, t.args[0].value)]
            size = ast.BinOp(
                ast.Subscript(_name(offsets), ast.BinOp(_name("ev"), ast.Add(),
                                                        ast.Constant(1)), ast.Load()),
                ast.Sub(), ast.Subscript(_name(offsets), _name("ev"), ast.Load()))
            return self.convert(size, "int64", dst)
        args = [self.convert(self.expr(a), a.type.dtype, dst) for a in t.args]
        if name in ("fabs", "abs") and dst in ("float32", "float64"):
            return self.convert(_call("math.fabs", args[0]), dst, dst)
        if name == "abs":
            negative = ast.Compare(args[0], [ast.Lt()], [ast.Constant(0)])
            flipped = self.convert(ast.UnaryOp(ast.USub(), args[0]), dst, dst)
            return ast.IfExp(negative, flipped, args[0])
        if name in ("min", "max"):  # std::max(a, b) is (a < b) ? b : a; min: (b < a) ? b : a
            a, b = args
            less = ast.Compare(a, [ast.Lt()], [b]) if name == "max" else \
                ast.Compare(b, [ast.Lt()], [a])
            return ast.IfExp(less, b, a)
        if name in ("floor", "ceil"):  # numba's math.floor is Python's: an int64
            return self.convert(_call("np." + name, *args), dst, dst)
        return self.convert(_call("math." + name, *args), dst, dst)

    def draw(self, draw: Draw) -> ast.expr:
        """One draw from this thread's engine (hepflow.engine.randomdraws)."""
        engine = _name(self.engines[draw.engine])
        dist = draw.distribution
        if dist is None:
            return _call("_rnd_next", engine)
        return _call(f"_rnd_{dist.kind}_{dist.dtype}", engine, _name(self.kept[dist]),
                     self.const(dist.a, dist.dtype), self.const(dist.b, dist.dtype))


__all__ = ["random_objects", "run"]
