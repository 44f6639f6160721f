"""A per-event reference interpreter for hepflow expressions (tests only).

It walks the *untyped* syntax tree from `hepflow.plan.expr.parser.parse`, so it
shares nothing with the type checker or the columnar evaluator, and evaluates
it for ONE event at a time on plain Python values: a per-event scalar is a
Python bool/int/float, a collection (an RVec) is a Python list, and the result
of `Combinations` is a list of index lists. Semantics are those of C++ and
ROOT::VecOps, written out one small function at a time:

* arithmetic is done in double as soon as a double is involved (the float32
  inputs arrive already converted to Python floats, i.e. promoted exactly);
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

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from typing import Any

import numpy as np

from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.cxxtypes import RVEC_ALIASES
from hepflow.plan.expr.parser import parse
from hepflow.plan.types import ColumnType

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
})


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
MATH2 = ("pow", "atan2", "hypot")
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
    """The usual arithmetic conversions (any floating point: double, hepflow's rule)."""
    if a in FLOATS or b in FLOATS:
        return "float64"
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
            if node.op == "!":
                return (kind, "bool")
            return (kind, dtype if dtype in FLOATS else promoted(dtype))
        if isinstance(node, n.Binary):
            a, b = self.infer(node.left), self.infer(node.right)
            kind = _kind(a, b)
            op = node.op
            if op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):
                return (kind, "bool")
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
        if name in ("Mean", "StdDev", "Max", "Min", "InvariantMass"):
            return ("scalar", "float64")
        if name in ("ArgMax", "ArgMin"):
            return ("scalar", "int64")
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
        if name == "Where":
            return ("jagged", common(args[1][1], args[2][1]))
        if name == "abs":
            return (first[0], "float64" if first[1] in FLOATS else promoted(first[1]))
        if name in ("max", "min"):
            return (_kind(*args), promote(args[0][1], args[1][1]))
        if name == "InvariantMasses":
            return ("jagged", "float64")
        if name == "Combinations":
            return ("combos", "uint64")
        if name in (*MATH1, *MATH2, "fabs", "DeltaPhi", "DeltaR", "DeltaR2"):
            return (_kind(*args), "float64")
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
            return elementwise(delta_phi, *args)
        if name == "DeltaR":
            return elementwise(self.delta_r, *args)
        if name == "DeltaR2":
            return elementwise(delta_r2, *args)
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
                total = binary("+", total, binary("*", x, y, dtype), dtype)
            return total
        if name == "InvariantMass":
            return self.invariant_mass(*args)
        if name == "InvariantMasses":
            sizes = {len(a) for a in args}
            if len(sizes) != 1:
                raise RefFailure("InvariantMasses of collections of different sizes")
            pairs = range(sizes.pop())  # the mass of vector i of the first set + i of the second
            return [self.invariant_mass(*([args[k][i], args[k + 4][i]] for k in range(4)))
                    for i in pairs]
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

    def delta_r(self, eta1: float, eta2: float, phi1: float, phi2: float) -> float:
        dphi = delta_phi(phi1, phi2)
        deta = float(eta1) - float(eta2)
        return self.libm.funcs["sqrt"](deta * deta + dphi * dphi)

    def invariant_mass(self, pt: list, eta: list, phi: list, mass: list) -> float:
        """ROOT::VecOps::InvariantMass: mass of the sum of all (pt, eta, phi, m) vectors."""
        if not len(pt) == len(eta) == len(phi) == len(mass):
            raise RefFailure("InvariantMass of collections of different sizes")
        f = self.libm.funcs
        sx = sy = sz = se = 0.0
        for p, e_, ph, m in zip(pt, eta, phi, mass, strict=True):
            p, e_, ph, m = float(p), float(e_), float(ph), float(m)
            x = p * f["cos"](ph)
            y = p * f["sin"](ph)
            z = p * f["sinh"](e_)
            sx += x
            sy += y
            sz += z
            se += f["sqrt"](x * x + y * y + z * z + m * m)
        return f["sqrt"](se * se - sx * sx - sy * sy - sz * sz)


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


def delta_phi(a: float, b: float) -> float:
    """ROOT::VecOps::DeltaPhi: fmod(b - a, 2 pi), then wrapped into [-pi, pi]."""
    r = _fmod(float(b) - float(a), 2.0 * math.pi)
    if r < -math.pi:
        r += 2.0 * math.pi
    elif r > math.pi:
        r -= 2.0 * math.pi
    return r


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
    if len(v) < 2:
        return 0.0
    mean = _mean(v)
    squares = _sum([(float(x) - mean) * (float(x) - mean) for x in v])
    return math.sqrt(squares / (len(v) - 1))


def _argmax(v: list) -> int:
    best = -1
    for i, x in enumerate(_no_nan(v)):
        if best < 0 or v[best] < x:
            best = i
    return best


def _argmin(v: list) -> int:
    best = -1
    for i, x in enumerate(_no_nan(v)):
        if best < 0 or x < v[best]:
            best = i
    return best


REDUCTIONS: dict[str, Callable[[list], Any]] = {
    "Sum": lambda v: _sum([int(x) if isinstance(x, bool) else x for x in v]),
    "Mean": _mean,
    "StdDev": _stddev,
    "Max": lambda v: float(max(_no_nan(v))) if v else NAN,
    "Min": lambda v: float(min(_no_nan(v))) if v else NAN,
    "ArgMax": _argmax,
    "ArgMin": _argmin,
    "Argsort": lambda v: sorted(range(len(v)), key=lambda i: _no_nan(v)[i]),  # stable
    "Enumerate": lambda v: list(range(len(v))),
    "Product": lambda v: math.prod([float(x) if isinstance(x, float) else int(x) for x in v]),
    "Sort": lambda v: sorted(_no_nan(v)),
    "Reverse": lambda v: v[::-1],
    "Nonzero": lambda v: [i for i, x in enumerate(v) if x != 0],
    "Any": lambda v: any(truth(x) for x in v),
    "All": lambda v: all(truth(x) for x in v),
    "size": len,
}


def delta_r2(eta1: float, eta2: float, phi1: float, phi2: float) -> float:
    dphi = delta_phi(phi1, phi2)
    deta = float(eta1) - float(eta2)
    return deta * deta + dphi * dphi


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


__all__ = ["MATH", "NUMPY", "Libm", "RefFailure", "Reference", "Undefined",
           "evaluate_events", "static_type"]
