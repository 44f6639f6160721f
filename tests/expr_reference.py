"""A per-event reference interpreter for hepflow expressions (tests only).

It walks the *untyped* syntax tree from `hepflow.plan.expr.parser.parse`, so it
shares nothing with the type checker or the columnar evaluator, and evaluates
it for ONE event at a time on plain Python values: a per-event scalar is a
Python bool/int/float, a collection (an RVec) is a Python list, and the result
of `Combinations` is a list of index lists. Semantics are those of C++ and
ROOT::VecOps, written out one small function at a time:

* C++'s usual arithmetic conversions, floating point included: a double makes
  double, else a float makes float (`float * int` is float, `float * 2.0`
  double); every float result is rounded to float (one IEEE operation done in
  double and rounded is exactly the float operation);
* <cmath> on floats is the C library's float function (`sinf`, called through
  ctypes), as C++'s `std::sin(float)` overload; ROOT::VecOps computes in
  `Common_t` (float for RVec<float>), in the order its loops do;
* integer `/` truncates toward zero and `%` keeps the sign of the dividend;
  integer division by zero raises `RefFailure`;
* `&&`, `||` and `?:` on per-event values short-circuit as in C++; on
  collections they are the element-wise RVec operators, which evaluate both
  operands;
* indexing past the end of a collection raises `RefFailure` (where C++ would
  throw or crash);
* what C++ leaves undefined (ordering NaNs, signed overflow, bad shifts)
  raises `Undefined`, and the property tests skip such cases.

Transcendental functions come from a pluggable `Libm`: `MATH` (Python's
`math` with C's domain rules) or `NUMPY` (numpy's ufuncs on one value). The two
differ only in the last bit of some results; a test may accept either.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from typing import Any

import numpy as np

from hepflow.core.types import ColumnType
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.cxxtypes import RVEC_ALIASES
from hepflow.plan.expr.parser import parse

INF = math.inf
NAN = math.nan


class RefFailure(Exception):
    """The event makes C++/ROOT throw or crash (index out of range, int division by zero)."""


class Undefined(Exception):
    """C++ leaves the result undefined (NaN ordering, signed overflow, bad shift)."""


# ---------------------------------------------------------------- C maths


def _domain(func: Callable[..., float], special: Callable[..., float | None] | None = None,
            overflow: Callable[..., float] = lambda *args: INF) -> Callable[..., float]:
    """`func` with C's answers (NaN, +-inf) where Python's math raises."""

    def apply(*args: float) -> float:
        if any(math.isnan(a) for a in args):
            return NAN
        if special is not None:
            answer = special(*args)
            if answer is not None:
                return answer
        try:
            return float(func(*args))
        except OverflowError:
            return overflow(*args)
        except ValueError:
            return NAN

    return apply


def _log_special(x: float) -> float | None:
    if x == 0:
        return -INF
    return NAN if x < 0 else None


def _infinite_stays(x: float) -> float | None:
    return x if math.isinf(x) else None


def _pow(x: float, y: float) -> float:
    # C pow: pow(x, 0) is 1 and pow(1, y) is 1 even for NaN, the rest follows math.pow
    if y == 0 or x == 1:
        return 1.0
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == 0 and y < 0:
        odd = y == int(y) and int(y) % 2 == 1
        return math.copysign(INF, x) if odd else INF
    try:
        return math.pow(x, y)
    except OverflowError:
        odd = y == int(y) and int(y) % 2 == 1
        return -INF if x < 0 and odd else INF
    except ValueError:
        return NAN


def _fmod(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or b == 0:
        return NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _c_round(x: float) -> float:
    """std::round: half away from zero (not Python's round-half-even)."""
    if math.isnan(x) or math.isinf(x):
        return x
    whole = math.floor(abs(x))
    up = abs(x) - whole >= 0.5  # exact: whole and abs(x) are close
    return math.copysign(whole + 1.0 if up else whole, x)


@dataclass(frozen=True)
class Libm:
    """The elementary functions, each mapping floats to a float."""

    name: str
    funcs: Mapping[str, Callable[..., float]]


MATH = Libm("math", {
    "sqrt": _domain(math.sqrt, lambda x: NAN if x < 0 else None),
    "exp": _domain(math.exp),
    "log": _domain(math.log, _log_special),
    "log10": _domain(math.log10, _log_special),
    "log2": _domain(math.log2, _log_special),
    "sin": _domain(math.sin), "cos": _domain(math.cos), "tan": _domain(math.tan),
    "asin": _domain(math.asin), "acos": _domain(math.acos), "atan": _domain(math.atan),
    "sinh": _domain(math.sinh, overflow=lambda x: math.copysign(INF, x)),
    "cosh": _domain(math.cosh),
    "tanh": _domain(math.tanh), "asinh": _domain(math.asinh),
    "acosh": _domain(math.acosh),
    "atanh": _domain(math.atanh, lambda x: math.copysign(INF, x) if abs(x) == 1 else None),
    "floor": _domain(math.floor, _infinite_stays), "ceil": _domain(math.ceil, _infinite_stays),
    "round": _c_round, "pow": _pow, "atan2": _domain(math.atan2),
    "hypot": lambda x, y: INF if INF in (abs(x), abs(y)) else _domain(math.hypot)(x, y),
    "fmod": lambda x, y: _fmod(x, y),
})


def _c_float(name: str, nargs: int) -> Callable[..., float]:
    """The C library's float function (`sinf`, ...): what C++'s std::name(float) calls."""
    func = getattr(_LIBC_M, name + "f")
    func.restype = ctypes.c_float
    func.argtypes = [ctypes.c_float] * nargs

    def apply(*args: float) -> float:
        return float(func(*(float(a) for a in args)))
    return apply


_LIBC_M = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
FLOAT_FUNCS: dict[str, Callable[..., float]] = {
    name: _c_float(name, 1) for name in (
        "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
        "cosh", "tanh", "asinh", "acosh", "atanh")}
FLOAT_FUNCS.update({name: _c_float(name, 2) for name in ("pow", "atan2", "hypot", "fmod")})


def f32(x: Any) -> float:
    """A value rounded to float, as a Python float."""
    with np.errstate(over="ignore"):
        return float(np.float32(float(x)))


def _np(ufunc: Callable[..., Any]) -> Callable[..., float]:
    def apply(*args: float) -> float:
        with np.errstate(all="ignore"):
            return float(ufunc(*args))
    return apply


NUMPY = Libm("numpy", {
    **MATH.funcs,
    **{name: _np(getattr(np, npname)) for name, npname in {
        "exp": "exp", "log": "log", "log10": "log10", "log2": "log2", "sin": "sin",
        "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
        "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh",
        "acosh": "arccosh", "atanh": "arctanh", "pow": "power", "atan2": "arctan2",
        "hypot": "hypot"}.items()},
})

# ---------------------------------------------------------------- types

Type = tuple[str, str]  # (kind, dtype): kind scalar/jagged/combos; dtype bool, int32, float64...

_PREFIXES = ("ROOT::VecOps::", "ROOT::Math::", "ROOT::", "std::", "TMath::")
_ALIASES = {".size": "size", "Length": "size", "length": "size", "Abs": "abs",
            "Fabs": "fabs", "StableArgsort": "Argsort", "StableSort": "Sort"}
MATH1 = ("sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
         "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "round")
MATH2 = ("pow", "atan2", "hypot", "fmod")
CONSTANTS = {"M_PI": math.pi, "Pi": math.pi}
# C++ integer types (LP64): bits and signedness, written out independently of hepflow
BITS = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32,
        "int64": 64, "uint64": 64}
FLOATS = ("float32", "float64")


def function_name(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return _ALIASES.get(name, name)


def is_int(dtype: str) -> bool:
    return dtype in BITS


def is_unsigned(dtype: str) -> bool:
    return dtype.startswith("uint")


def promoted(dtype: str) -> str:
    """Integral promotion: bool, char and short become int."""
    if dtype == "bool" or (is_int(dtype) and BITS[dtype] < 32):
        return "int32"
    return dtype


def promote(a: str, b: str) -> str:
    """The usual arithmetic conversions: double wins, then float, then the integer rules."""
    if "float64" in (a, b):
        return "float64"
    if "float32" in (a, b):
        return "float32"
    a, b = promoted(a), promoted(b)
    if a == b:
        return a
    if is_unsigned(a) == is_unsigned(b):
        return a if BITS[a] >= BITS[b] else b
    unsigned, signed = (a, b) if is_unsigned(a) else (b, a)
    return unsigned if BITS[unsigned] >= BITS[signed] else signed


def common(a: str, b: str) -> str:
    """The type of `c ? a : b` (and of Where): the same type stays, else conversion."""
    return a if a == b else promote(a, b)


def int_range(dtype: str) -> tuple[int, int]:
    bits = BITS[dtype]
    return (0, 2**bits - 1) if is_unsigned(dtype) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def convert(value: Any, dtype: str) -> Any:
    """One value converted to a C++ type: unsigned (and narrowing) integers wrap, floats to
    integers truncate (out of range is undefined), float32 rounds."""
    if isinstance(value, list):
        return [convert(v, dtype) for v in value]
    if dtype == "bool":
        return bool(value)
    if dtype == "float64":
        return float(value)
    if dtype == "float32":
        with np.errstate(over="ignore"):
            return float(np.float32(float(value)))
    lo, hi = int_range(dtype)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or not lo <= math.trunc(value) <= hi:
            raise Undefined(f"{value} does not fit in {dtype}")
        return math.trunc(value)
    return (int(value) - lo) % (hi - lo + 1) + lo


def in_range(value: int, dtype: str) -> int:
    """The result of signed arithmetic (overflow is undefined) or unsigned (wraps)."""
    if is_unsigned(dtype):
        return convert(value, dtype)
    lo, hi = int_range(dtype)
    if not lo <= value <= hi:
        raise Undefined(f"signed overflow ({value} in {dtype})")
    return value


def common_t(args: Sequence[Type]) -> str:
    """float when every argument is a float (<cmath>'s float overloads, ROOT::VecOps'
    Common_t), else double (integers make double, as C++11's <cmath> does)."""
    return "float32" if all(t[1] == "float32" for t in args) else "float64"


def _kind(*types: Type) -> str:
    return "jagged" if any(t[0] == "jagged" for t in types) else "scalar"


class Reference:
    """Evaluates expressions event by event for one schema."""

    def __init__(self, schema: Mapping[str, ColumnType], libm: Libm = MATH) -> None:
        self.schema = schema
        self.libm = libm
        self._types: dict[int, Type] = {}

    # ---- static types (the reference's own reading of C++; compared with the checker's)

    def infer(self, node: n.Node) -> Type:
        key = id(node)
        if key not in self._types:
            self._types[key] = self._infer(node)
        return self._types[key]

    def _infer(self, node: n.Node) -> Type:
        if isinstance(node, n.Literal):
            assert node.dtype is not None
            return ("scalar", node.dtype)
        if isinstance(node, n.Name):
            if node.name in self.schema:
                t = self.schema[node.name]
                return (t.kind, t.dtype)
            return ("scalar", "float64")  # M_PI
        if isinstance(node, n.Cast):
            return ("scalar", node.dtype)
        if isinstance(node, n.Unary):
            kind, dtype = self.infer(node.operand)
            if node.op == "!":  # ROOT's `!` of an RVec<T> is an RVec<T>
                return (kind, "bool" if kind == "scalar" else dtype)
            return (kind, dtype if dtype in FLOATS else promoted(dtype))
        if isinstance(node, n.Binary):
            a, b = self.infer(node.left), self.infer(node.right)
            kind = _kind(a, b)
            op = node.op
            if op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):  # ROOT's RVec<int>
                return (kind, "bool" if kind == "scalar" else "int32")
            if op in ("&", "|", "^") and a[1] == b[1] == "bool":
                return (kind, "bool")
            if op in ("<<", ">>"):
                return (kind, promoted(a[1]))
            return (kind, promote(a[1], b[1]))
        if isinstance(node, n.Ternary):
            c, a, b = (self.infer(x) for x in (node.condition, node.if_true, node.if_false))
            return (_kind(c, a, b), common(a[1], b[1]))
        if isinstance(node, n.Index):
            base = self.infer(node.base)
            if base[0] == "combos":
                return ("jagged", "uint64")
            index = self.infer(node.index)
            if index[0] == "scalar":
                return ("scalar", base[1])
            return ("jagged", base[1])
        assert isinstance(node, n.Call), node
        if node.template is not None or function_name(node.func) in RVEC_ALIASES:
            template = node.template or RVEC_ALIASES[function_name(node.func)]
            return ("jagged", template)
        return self._infer_call(function_name(node.func), [self.infer(a) for a in node.args])

    @staticmethod
    def _infer_call(name: str, args: Sequence[Type]) -> Type:
        first = args[0]
        if name in ("Sum", "Product"):
            return ("scalar", promote(first[1], first[1]))
        if name == "Dot":
            return ("scalar", promote(first[1], args[1][1]))
        if name in ("Mean", "StdDev"):
            return ("scalar", "float64")
        if name in ("Max", "Min"):  # ROOT's T (undefined when empty: an error)
            return ("scalar", first[1])
        if name == "InvariantMass":
            return ("scalar", common_t(args))
        if name in ("ArgMax", "ArgMin"):  # size_t
            return ("scalar", "uint64")
        if name == "size":
            return ("scalar", "uint64")
        if name in ("Any", "All"):
            return ("scalar", "bool")
        if name in ("Argsort", "Nonzero", "Enumerate"):
            return ("jagged", "uint64")
        if name == "Range":
            return ("jagged", "uint64" if len(args) == 1 else "int64")
        if name in ("Reverse", "Sort", "Drop", "Intersect"):
            return first
        if name == "Concatenate":
            return ("jagged", common(first[1], args[1][1]))
        if name == "Take":
            return ("jagged", first[1] if len(args) == 2 else common(first[1], args[2][1]))
        if name == "Where":  # Where(c, RVec<T>, RVec<T>::value_type) is RVec<T>
            if (args[1][0] == "jagged") != (args[2][0] == "jagged"):
                return ("jagged", args[1][1] if args[1][0] == "jagged" else args[2][1])
            return ("jagged", common(args[1][1], args[2][1]))
        if name == "abs":
            return (first[0], first[1] if first[1] in FLOATS else promoted(first[1]))
        if name in ("max", "min"):
            return (_kind(*args), promote(args[0][1], args[1][1]))
        if name == "InvariantMasses":
            return ("jagged", common_t(args))
        if name == "Combinations":
            return ("combos", "uint64")
        if name in (*MATH1, *MATH2, "fabs", "DeltaPhi", "DeltaR", "DeltaR2"):
            return (_kind(*args), common_t(args))
        raise AssertionError(f"reference does not know function {name}")

    # ---- evaluation

    def run(self, node: n.Node, event: Mapping[str, Any]) -> Any:
        """The value of `node` for one event, converted to its static type."""
        value = self._run(node, event)
        kind, dtype = self.infer(node)
        if kind == "combos":
            return value
        return convert(value, dtype)

    def _run(self, node: n.Node, ev: Mapping[str, Any]) -> Any:
        if isinstance(node, n.Literal):
            return node.value
        if isinstance(node, n.Name):
            if node.name in self.schema:
                return ev[node.name]
            return CONSTANTS[node.name]
        if isinstance(node, n.Cast):
            return convert(self.run(node.operand, ev), node.dtype)
        if isinstance(node, n.Unary):
            dtype = self.infer(node)[1]
            return elementwise(lambda x: unary(node.op, x, dtype), self.run(node.operand, ev))
        if isinstance(node, n.Binary):
            return self._binary(node, ev)
        if isinstance(node, n.Ternary):
            return self._ternary(node, ev)
        if isinstance(node, n.Index):
            return self._index(node, ev)
        assert isinstance(node, n.Call), node
        return self._call(node, ev)

    def _binary(self, node: n.Binary, ev: Mapping[str, Any]) -> Any:
        op = node.op
        kind = self.infer(node)[0]
        if op in ("&&", "||") and kind == "scalar":
            left = truth(self.run(node.left, ev))
            if left == (op == "||"):  # C++ short-circuit
                return left
            return truth(self.run(node.right, ev))
        left, right = self.infer(node.left)[1], self.infer(node.right)[1]
        dtype = promoted(left) if op in ("<<", ">>") else promote(left, right)
        if op in ("&", "|", "^") and left == right == "bool":
            dtype = "bool"
        a, b = self.run(node.left, ev), self.run(node.right, ev)
        return elementwise(lambda x, y: binary(op, x, y, dtype), a, b)

    def _ternary(self, node: n.Ternary, ev: Mapping[str, Any]) -> Any:
        cond_kind = self.infer(node.condition)[0]
        if cond_kind == "scalar":
            chosen = node.if_true if truth(self.run(node.condition, ev)) else node.if_false
            return self.run(chosen, ev)
        # an element-wise condition: both branches are evaluated, like Where
        cond = self.run(node.condition, ev)
        a, b = self.run(node.if_true, ev), self.run(node.if_false, ev)
        return elementwise(lambda c, x, y: x if truth(c) else y, cond, a, b)

    def _index(self, node: n.Index, ev: Mapping[str, Any]) -> Any:
        base = self.run(node.base, ev)
        index = self.run(node.index, ev)
        if self.infer(node.base)[0] == "combos":
            return base[index]
        if not isinstance(index, list):
            return at(base, index)
        # ROOT: any integer or boolean collection inside [] is a mask (nonzero keeps)
        if len(index) != len(base):
            raise RefFailure("mask of a different length")
        return [x for x, keep in zip(base, index, strict=True) if keep != 0]

    def _call(self, node: n.Call, ev: Mapping[str, Any]) -> Any:
        name = function_name(node.func)
        args = [self.run(a, ev) for a in node.args]
        types = [self.infer(a) for a in node.args]
        f = self.libm.funcs
        single = self.infer(node)[1] == "float32"  # the float overload of <cmath>
        if single and name in FLOAT_FUNCS:
            return elementwise(FLOAT_FUNCS[name], *args)
        if name in MATH1:
            return elementwise(lambda x: f[name](float(x)), args[0])
        if name in MATH2:
            return elementwise(lambda x, y: f[name](float(x), float(y)), *args)
        if name == "fabs":
            return elementwise(lambda x: abs(float(x)), args[0])
        if name == "abs":
            dtype = self.infer(node)[1]
            if dtype in FLOATS:
                return elementwise(lambda x: abs(float(x)), args[0])
            return elementwise(lambda x: in_range(abs(convert(x, dtype)), dtype), args[0])
        if name in ("max", "min"):
            dtype = promote(types[0][1], types[1][1])
            args = [convert(a, dtype) for a in args]
            return elementwise(max2 if name == "max" else min2, *args)
        if name == "DeltaPhi":
            return elementwise(lambda a, b: delta_phi(a, b, single), *args)
        if name == "DeltaR":
            return elementwise(lambda *a: self.delta_r(*a, single=single), *args)
        if name == "DeltaR2":
            return elementwise(lambda *a: delta_r2(*a, single=single), *args)
        if name == "RVec" or name in RVEC_ALIASES:
            count = convert(args[0], "uint64")
            if count > 10**5:
                raise Undefined(f"RVec of {count} elements: too many for the reference")
            return [args[1] if len(args) > 1 else 0] * count
        if name == "Range":
            return range_(*args)
        if name == "Drop":
            gone = {i for i in args[1] if 0 <= i < len(args[0])}
            return [x for i, x in enumerate(args[0]) if i not in gone]
        if name == "Intersect":
            return [x for x in args[0] if x in args[1]]
        if name == "Concatenate":
            return args[0] + args[1]
        if name == "Dot":
            if len(args[0]) != len(args[1]):
                raise RefFailure("Dot of collections of different sizes")
            dtype = promote(types[0][1], types[1][1])
            total: Any = convert(0, dtype)
            for x, y in zip(args[0], args[1], strict=True):
                total = convert(binary("+", total, convert(binary("*", x, y, dtype), dtype),
                                       dtype), dtype)
            return total
        if name == "InvariantMass":
            return self.invariant_mass(*args, single=single)
        if name == "InvariantMasses":
            sizes = {len(a) for a in args}
            if len(sizes) != 1:
                raise RefFailure("InvariantMasses of collections of different sizes")
            return [self.pair_mass([a[i] for a in args], single) for i in range(sizes.pop())]
        if name in ("Sum", "Product", "Mean", "StdDev") and types[0][1] == "float32":
            return FLOAT_REDUCTIONS[name](args[0])
        if name == "Take":
            return take(args[0], args[1], types[1][1] == "bool", *args[2:])
        if name == "Where":
            return elementwise(lambda c, x, y: x if truth(c) else y, *args)
        if name == "Combinations":
            v, second = args
            if isinstance(second, list):
                pairs = list(product(range(len(v)), range(len(second))))
                return [[p[0] for p in pairs], [p[1] for p in pairs]]
            combos = list(combinations(range(len(v)), second))
            return [[c[k] for c in combos] for k in range(second)]
        return REDUCTIONS[name](args[0])

    def delta_r(self, eta1: float, eta2: float, phi1: float, phi2: float,
                single: bool = False) -> float:
        return self.libm.funcs["sqrt"](delta_r2(eta1, eta2, phi1, phi2, single))

    def _ops(self, single: bool
             ) -> tuple[Callable[[Any], float], Mapping[str, Callable[..., float]]]:
        """Rounding after each operation, and the elementary functions, of Common_t."""
        if single:
            return f32, {**FLOAT_FUNCS, "sqrt": lambda x: f32(self.libm.funcs["sqrt"](x))}
        return float, self.libm.funcs

    def invariant_mass(self, pt: list, eta: list, phi: list, mass: list,
                       single: bool = False) -> float:
        """ROOT::VecOps::InvariantMass: mass of the sum of all (pt, eta, phi, m) vectors,
        each operation in Common_t (float for RVec<float>), element by element."""
        if not len(pt) == len(eta) == len(phi) == len(mass):
            raise RefFailure("InvariantMass of collections of different sizes")
        r, f = self._ops(single)
        sx = sy = sz = se = 0.0
        for p, e_, ph, m in zip(pt, eta, phi, mass, strict=True):
            p, e_, ph, m = r(p), r(e_), r(ph), r(m)
            x = r(p * f["cos"](ph))
            y = r(p * f["sin"](ph))
            z = r(p * f["sinh"](e_))
            sx, sy, sz = r(sx + x), r(sy + y), r(sz + z)
            square = r(r(r(r(x * x) + r(y * y)) + r(z * z)) + r(m * m))
            se = r(se + f["sqrt"](square))
        return f["sqrt"](r(r(r(r(se * se) - r(sx * sx)) - r(sy * sy)) - r(sz * sz)))

    def pair_mass(self, values: list, single: bool) -> float:
        """ROOT 6.40's InvariantMasses for one pair: InvariantMasses_PxPyPzM (the
        numerically stable form through the opening angle), in Common_t."""
        r, f = self._ops(single)
        pt1, eta1, phi1, m1, pt2, eta2, phi2, m2 = (r(v) for v in values)
        x1, y1, z1 = r(pt1 * f["cos"](phi1)), r(pt1 * f["sin"](phi1)), r(pt1 * f["sinh"](eta1))
        x2, y2, z2 = r(pt2 * f["cos"](phi2)), r(pt2 * f["sin"](phi2)), r(pt2 * f["sinh"](eta2))

        def dot(a: tuple[float, ...], b: tuple[float, ...]) -> float:
            return r(r(r(a[0] * b[0]) + r(a[1] * b[1])) + r(a[2] * b[2]))

        p1, p2 = dot((x1, y1, z1), (x1, y1, z1)), dot((x2, y2, z2), (x2, y2, z2))
        if p1 <= 0 and p2 <= 0:
            return r(m1 + m2)
        if p1 <= 0 or p2 <= 0:
            m_rest, m, p = (m1, m2, p2) if p1 <= 0 else (m2, m1, p1)
            mm = r(m_rest + f["sqrt"](r(r(m * m) + p)))
            sq = r(r(mm * mm) - p)
            return f["sqrt"](sq if sq >= 0 else -sq)
        m1sq, m2sq = r(m1 * m1), r(m2 * m2)
        r1, r2 = r(m1sq / p1), r(m2sq / p2)
        x = r(r(r1 + r2) + r(r1 * r2))
        cx = r(r(y1 * z2) - r(y2 * z1))
        cy = r(r(x1 * z2) - r(x2 * z1))
        cz = r(r(x1 * y2) - r(x2 * y1))
        angle = f["atan2"](f["sqrt"](dot((cx, cy, cz), (cx, cy, cz))), dot((x1, y1, z1),
                                                                            (x2, y2, z2)))
        cos_a, sin_a = f["cos"](angle), f["sin"](angle)
        root = f["sqrt"](r(x + 1))
        y = r(r(x + r(sin_a * sin_a)) / r(root + cos_a)) if cos_a >= 0 else r(root - cos_a)
        z = r(2 * f["sqrt"](r(p1 * p2)))
        return f["sqrt"](r(r(m1sq + m2sq) + r(y * z)))


# ---------------------------------------------------------------- helpers


def truth(x: Any) -> bool:
    return bool(x)  # NaN is true, as in C++


def elementwise(func: Callable[..., Any], *args: Any) -> Any:
    """Apply `func` per element when any argument is an RVec (sizes must agree)."""
    sizes = {len(a) for a in args if isinstance(a, list)}
    if not sizes:
        return func(*args)
    if len(sizes) > 1:
        raise RefFailure("element-wise operation on collections of different sizes")
    size = sizes.pop()
    spread = [a if isinstance(a, list) else [a] * size for a in args]
    return [func(*items) for items in zip(*spread, strict=True)]


def at(v: list, i: int) -> Any:
    if not 0 <= i < len(v):
        raise RefFailure(f"index {i} out of range for size {len(v)}")
    return v[i]


def unary(op: str, x: Any, dtype: str) -> Any:
    """A prefix operator; `dtype` is the result type (the promoted operand type)."""
    if op == "!":
        return not truth(x)
    x = convert(x, dtype)
    if dtype in FLOATS:
        return -x if op == "-" else x
    if op == "-":
        return in_range(-x, dtype)
    if op == "~":
        return convert(~x, dtype)
    return x


def binary(op: str, a: Any, b: Any, dtype: str) -> Any:
    """One C++ binary operator on two scalars; `dtype` is the common type both convert to
    (for shifts: the promoted left operand's type)."""
    if op in ("&&", "||"):  # element-wise RVec operators
        return (truth(a) and truth(b)) if op == "&&" else (truth(a) or truth(b))
    if op in ("<<", ">>"):
        a, b = convert(a, dtype), int(b)
        if not 0 <= b < BITS[dtype] or (op == "<<" and a < 0):
            raise Undefined("shift out of range")
        return in_range(a << b, dtype) if op == "<<" else a >> b
    a, b = convert(a, dtype), convert(b, dtype)
    if op in ("<", "<=", ">", ">=", "==", "!="):
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
                "==": a == b, "!=": a != b}[op]
    if op in ("&", "|", "^"):
        if dtype == "bool":
            return {"&": a & b, "|": a | b, "^": a ^ b}[op]
        return convert({"&": a & b, "|": a | b, "^": a ^ b}[op], dtype)
    if is_int(dtype):
        return in_range(int_arith(op, a, b), dtype)
    return float_arith(op, float(a), float(b))


def int_arith(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise RefFailure("integer division by zero")
    quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # truncates toward 0
    return quotient if op == "/" else a - b * quotient


def float_arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "%":
        return _fmod(a, b)
    if b == 0:  # IEEE division
        if a == 0 or math.isnan(a) or math.isnan(b):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _unordered(a: Any, b: Any) -> bool:
    """NaN, or +0 against -0: hepflow's max/min (numpy's) need not pick as std::max does."""
    signed_zeros = a == b == 0 and math.copysign(1, a) != math.copysign(1, b)
    return _is_nan(a) or _is_nan(b) or signed_zeros


def max2(a: Any, b: Any) -> Any:
    if _unordered(a, b):
        raise Undefined("std::max of NaN or of +0 and -0")
    return b if a < b else a


def min2(a: Any, b: Any) -> Any:
    if _unordered(a, b):
        raise Undefined("std::min of NaN or of +0 and -0")
    return b if b < a else a


def delta_phi(a: float, b: float, single: bool = False) -> float:
    """ROOT::VecOps::DeltaPhi: fmod(b - a, 2.0 * c) with c = Common_t(M_PI), wrapped into
    [-c, c]; `2.0 * c` is a double, so for floats only `b - a` and the result are float."""
    c = f32(math.pi) if single else math.pi
    diff = f32(float(b) - float(a)) if single else float(b) - float(a)
    r = _fmod(diff, 2.0 * c)
    if r < -c:
        r += 2.0 * c
    elif r > c:
        r -= 2.0 * c
    return f32(r) if single else r


def _not_empty(v: list, name: str) -> list:
    if not v:
        raise RefFailure(f"{name} of an empty collection (ROOT dereferences end())")
    return v


def _no_nan(v: list) -> list:
    if any(_is_nan(x) for x in v):
        raise Undefined("ordering a collection that holds NaN")
    return v


def _sum(v: list) -> Any:
    total: Any = 0.0 if any(isinstance(x, float) for x in v) else 0
    for x in v:
        total += x
    return total


def _mean(v: list) -> float:
    return _sum([float(x) for x in v]) / len(v) if v else 0.0


def _stddev(v: list) -> float:
    """ROOT's sqrt(Var(v)): (sum of x*x - (sum of x)^2 / n) / (n - 1), sums in T."""
    if len(v) < 2:
        return 0.0
    squares = _sum([x * x for x in v])
    total = _sum(v)
    n = float(len(v))
    return math.sqrt(1.0 / (n - 1.0) * (float(squares) - float(total * total) / n))


def _argmax(v: list) -> int:  # 0 when empty, as std::distance(begin, end) is
    best = -1
    for i, x in enumerate(_no_nan(v)):
        if best < 0 or v[best] < x:
            best = i
    return max(best, 0)


def _argmin(v: list) -> int:
    best = -1
    for i, x in enumerate(_no_nan(v)):
        if best < 0 or x < v[best]:
            best = i
    return max(best, 0)


REDUCTIONS: dict[str, Callable[[list], Any]] = {
    "Sum": lambda v: _sum([int(x) if isinstance(x, bool) else x for x in v]),
    "Mean": _mean,
    "StdDev": _stddev,
    "Max": lambda v: max(_no_nan(_not_empty(v, "Max"))),
    "Min": lambda v: min(_no_nan(_not_empty(v, "Min"))),
    "ArgMax": _argmax,
    "ArgMin": _argmin,
    # std::sort (ROOT's order) is stable below 17 elements; the generated events are shorter
    "Argsort": lambda v: sorted(range(len(v)), key=lambda i: _no_nan(v)[i]),
    "Enumerate": lambda v: list(range(len(v))),
    "Product": lambda v: math.prod([float(x) if isinstance(x, float) else int(x) for x in v]),
    "Sort": lambda v: sorted(_no_nan(v)),
    "Reverse": lambda v: v[::-1],
    "Nonzero": lambda v: [i for i, x in enumerate(v) if x != 0],
    "Any": lambda v: any(truth(x) for x in v),
    "All": lambda v: all(truth(x) for x in v),
    "size": len,
}


def delta_r2(eta1: float, eta2: float, phi1: float, phi2: float, single: bool = False
             ) -> float:
    r = f32 if single else float
    dphi = delta_phi(phi1, phi2, single)
    deta = r(float(eta1) - float(eta2))
    return r(r(deta * deta) + r(dphi * dphi))


def _sum_float(v: list) -> float:
    """std::accumulate in float, in order."""
    total = 0.0
    for x in v:
        total = f32(total + x)
    return total


def _product_float(v: list) -> float:
    total = 1.0
    for x in v:
        total = f32(total * x)
    return total


def _stddev_float(v: list) -> float:
    """ROOT's sqrt(Var(v)): the sums of x*x and x in float, the rest in double."""
    if len(v) < 2:
        return 0.0
    squares = _sum_float([f32(x * x) for x in v])
    total = _sum_float(v)
    total = f32(total * total)
    n = float(len(v))
    return math.sqrt(1.0 / (n - 1.0) * (squares - total / n))


FLOAT_REDUCTIONS: dict[str, Callable[[list], Any]] = {
    "Sum": _sum_float, "Product": _product_float,
    "Mean": lambda v: _sum_float(v) / len(v) if v else 0.0, "StdDev": _stddev_float,
}


def range_(*args: int) -> list[int]:
    """ROOT::VecOps::Range(n), Range(begin, end), Range(begin, end, stride)."""
    if len(args) == 1:
        begin, end, stride = 0, convert(args[0], "uint64"), 1
    else:
        begin, end = convert(args[0], "int64"), convert(args[1], "int64")
        stride = convert(args[2], "int64") if len(args) == 3 else 1
    if stride == 0:
        raise RefFailure("Range with stride 0")
    count = max(0, -(-(end - begin) // stride))
    if count > 10**5:
        raise Undefined(f"Range of {count} elements: too many for the reference")
    return [begin + stride * k for k in range(count)]


def take(v: list, idx: Any, is_mask: bool, *default: Any) -> list:
    """ROOT::VecOps::Take: by indices, or the first (n >= 0) / last (n < 0) |n| elements.

    With a default, indices out of range and missing elements give the default
    (for n < 0 the defaults come first).
    """
    if is_mask:  # hepflow extension: Take(v, mask) is v[mask]
        if len(idx) != len(v):
            raise RefFailure("mask of a different length")
        return [x for x, keep in zip(v, idx, strict=True) if keep]
    if isinstance(idx, list):
        if default:
            return [v[i] if 0 <= i < len(v) else default[0] for i in idx]
        return [at(v, i) for i in idx]
    idx = convert(idx, "int32")  # ROOT's Take(v, const int n)
    count = abs(idx)
    if count > 10**5:
        raise Undefined(f"Take of {count} elements: too many for the reference")
    if count > len(v) and not default:
        raise RefFailure(f"Take of {count} elements from a collection of {len(v)}")
    fill = [default[0]] * (count - len(v)) if count > len(v) else []
    if idx >= 0:
        return v[:count] + fill
    return fill + v[len(v) - min(count, len(v)):]


def evaluate_events(text: str, schema: Mapping[str, ColumnType],
                    events: Sequence[Mapping[str, Any]], libm: Libm = MATH) -> list[Any]:
    """The reference value of `text` for each event (raises RefFailure/Undefined)."""
    tree = parse(text)
    ref = Reference(schema, libm)
    return [ref.run(tree, ev) for ev in events]


def static_type(text: str, schema: Mapping[str, ColumnType]) -> Type:
    return Reference(schema).infer(parse(text))


__all__ = ["FLOAT_FUNCS", "MATH", "NUMPY", "Libm", "RefFailure", "Reference", "Undefined",
           "evaluate_events", "static_type"]
