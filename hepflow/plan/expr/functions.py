"""The whitelist of functions an expression may call, with their type rules.

Names follow ROOT::VecOps (an optional `ROOT::VecOps::` or `std::` prefix is
accepted). The columnar implementations live in `hepflow.engine.vecops`; this
table only says what each function accepts and returns, so that misuse fails
when the plan is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hepflow.plan.types import ColumnType, DType, jagged, promote, scalar

Rule = Callable[[Sequence[ColumnType]], ColumnType]


class SignatureError(Exception):
    """Raised by a type rule; the checker turns it into an ExpressionError."""

    def __init__(self, message: str, arg: int | None = None) -> None:
        super().__init__(message)
        self.arg = arg


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """Arity, type rule and failure behaviour of one whitelisted function."""

    name: str
    min_args: int
    max_args: int
    rule: Rule
    may_fail: bool = False
    doc: str = ""


def _collection(t: ColumnType, i: int, name: str) -> None:
    if t.kind != "jagged":
        raise SignatureError(f"{name} needs a collection (an RVec) as argument {i + 1}, "
                             f"but got {t}", i)


def _numeric(t: ColumnType, i: int, name: str) -> None:
    if t.kind == "combos" or t.dtype == "other":
        raise SignatureError(f"{name} needs numbers as argument {i + 1}, but got {t}", i)


def _broadcast(args: Sequence[ColumnType], dtype: DType, name: str) -> ColumnType:
    for i, t in enumerate(args):
        _numeric(t, i, name)
    kind = "jagged" if any(t.kind == "jagged" for t in args) else "scalar"
    return ColumnType(kind, dtype)


def _reduction(dtype_of: Callable[[DType], DType]) -> Callable[[str], Rule]:
    def make(name: str) -> Rule:
        def rule(args: Sequence[ColumnType]) -> ColumnType:
            _collection(args[0], 0, name)
            _numeric(args[0], 0, name)
            return scalar(dtype_of(args[0].dtype))
        return rule
    return make


def _same_collection(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        return args[0]
    return rule


def _index_collection(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        return jagged("int")
    return rule


def _elementwise(dtype: DType | None) -> Callable[[str], Rule]:
    def make(name: str) -> Rule:
        def rule(args: Sequence[ColumnType]) -> ColumnType:
            out = dtype
            if out is None:
                out = "float" if any(a.dtype == "float" for a in args) else "int"
            return _broadcast(args, out, name)
        return rule
    return make


def _minmax2(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        return _broadcast(args, promote(args[0].dtype, args[1].dtype), name)
    return rule


def _take(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Take")
    idx = args[1]
    if idx.kind == "jagged":
        if idx.dtype not in ("int", "bool"):
            raise SignatureError("Take needs integer indices as argument 2", 1)
    elif idx.kind == "scalar":
        if idx.dtype != "int":
            raise SignatureError("Take(v, n) needs an integer n", 1)
    else:
        raise SignatureError(f"Take cannot use {idx} as indices", 1)
    if len(args) == 3:
        _numeric(args[2], 2, "Take")
        if args[2].kind != "scalar":
            raise SignatureError("the default value of Take must be a single value", 2)
        return jagged(promote(args[0].dtype, args[2].dtype) if args[0].dtype != args[2].dtype
                      else args[0].dtype)
    return args[0]


def _where(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Where")
    for i in (1, 2):
        _numeric(args[i], i, "Where")
    dtype = args[1].dtype if args[1].dtype == args[2].dtype else promote(args[1].dtype,
                                                                         args[2].dtype)
    return jagged(dtype)


def _invariant_mass(args: Sequence[ColumnType]) -> ColumnType:
    for i, t in enumerate(args):
        _collection(t, i, "InvariantMass")
    return scalar("float")


def _invariant_masses(args: Sequence[ColumnType]) -> ColumnType:
    for i, t in enumerate(args):
        _collection(t, i, "InvariantMasses")
    return jagged("float")


def _combinations(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Combinations")
    second = args[1]
    if second.kind == "jagged":
        return ColumnType("combos", "int", 2)
    if second.kind == "scalar" and second.dtype == "int":
        return ColumnType("combos", "int", -1)  # n fixed by the constant, set by the checker
    raise SignatureError("Combinations takes (v, n) or (v1, v2)", 1)


def _size(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        return scalar("int")
    return rule


def _any_all(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        return scalar("bool")
    return rule


def _abs(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        dtype: DType = "float" if name == "fabs" or args[0].dtype == "float" else "int"
        return _broadcast(args, dtype, name)
    return rule


_MATH1 = ("sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
          "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "round")


def _build() -> dict[str, FunctionSpec]:
    table: dict[str, FunctionSpec] = {}

    def add(name: str, lo: int, hi: int, rule: Rule, may_fail: bool = False) -> None:
        table[name] = FunctionSpec(name, lo, hi, rule, may_fail)

    add("Sum", 1, 1, _reduction(lambda d: "float" if d == "float" else "int")("Sum"))
    add("Mean", 1, 1, _reduction(lambda d: "float")("Mean"))
    add("StdDev", 1, 1, _reduction(lambda d: "float")("StdDev"))
    add("Max", 1, 1, _reduction(lambda d: "float")("Max"))
    add("Min", 1, 1, _reduction(lambda d: "float")("Min"))
    add("ArgMax", 1, 1, _reduction(lambda d: "int")("ArgMax"))
    add("ArgMin", 1, 1, _reduction(lambda d: "int")("ArgMin"))
    add("ArgSort", 1, 1, _index_collection("ArgSort"))
    add("Nonzero", 1, 1, _index_collection("Nonzero"))
    add("Reverse", 1, 1, _same_collection("Reverse"))
    add("Sort", 1, 1, _same_collection("Sort"))
    add("Take", 2, 3, _take, may_fail=True)
    add("Any", 1, 1, _any_all("Any"))
    add("All", 1, 1, _any_all("All"))
    add("Where", 3, 3, _where)
    add("size", 1, 1, _size("size"))
    add("Length", 1, 1, _size("Length"))
    add("abs", 1, 1, _abs("abs"))
    add("fabs", 1, 1, _abs("fabs"))
    for name in _MATH1:
        add(name, 1, 1, _elementwise("float")(name))
    add("pow", 2, 2, _elementwise("float")("pow"))
    add("atan2", 2, 2, _elementwise("float")("atan2"))
    add("hypot", 2, 2, _elementwise("float")("hypot"))
    add("max", 2, 2, _minmax2("max"))
    add("min", 2, 2, _minmax2("min"))
    add("DeltaPhi", 2, 2, _elementwise("float")("DeltaPhi"))
    add("DeltaR", 4, 4, _elementwise("float")("DeltaR"))
    add("InvariantMass", 4, 4, _invariant_mass)
    add("InvariantMasses", 8, 8, _invariant_masses)
    add("Combinations", 2, 2, _combinations)
    return table


FUNCTIONS: dict[str, FunctionSpec] = _build()
ALIASES = {".size": "size", "Length": "Length", "length": "Length"}
PREFIXES = ("ROOT::VecOps::", "ROOT::", "std::", "TMath::")
CONSTANTS = {"M_PI": 3.141592653589793, "Pi": 3.141592653589793}


def resolve_function(name: str) -> str | None:
    """The canonical table name for a (possibly prefixed) function name."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    name = ALIASES.get(name, name)
    if name.lower() in ("abs", "fabs") and name not in FUNCTIONS:
        name = name.lower()
    return name if name in FUNCTIONS else None


__all__ = ["CONSTANTS", "FUNCTIONS", "FunctionSpec", "SignatureError", "resolve_function"]
