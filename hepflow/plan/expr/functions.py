"""The one table of functions an expression may call: names, arities and type rules.

Names are ROOT's, spelled as ROOT spells them (`Argsort`, not `ArgSort`); an
optional `ROOT::VecOps::`, `ROOT::`, `std::` or `TMath::` prefix is accepted.
Methods (`v.size()`, `p.Pt()`) are entries whose name starts with a dot.

This table is the single source of what exists. The engine's columnar
implementations (`hepflow.engine.vecops`) register themselves against these
names and that module refuses to import unless both sets are equal, so a
function cannot be type-checked here and be missing at run time (or the
reverse). The plan never imports the engine: the table holds only what the
planner needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from hepflow.core.types import (
    VECTOR_DTYPES,
    ColumnType,
    DType,
    Kind,
    arithmetic,
    category,
    column_type,
    conditional,
    integral_promotion,
    jagged,
    scalar,
)

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
    if t.kind == "combos" or t.category in ("other", "vector"):
        raise SignatureError(f"{name} needs numbers as argument {i + 1}, but got {t}", i)


def _integer(t: ColumnType, i: int, name: str) -> None:
    if t.kind == "combos" or t.category not in ("int", "bool"):
        raise SignatureError(f"{name} needs integers as argument {i + 1}, but got {t}", i)


def _no_vectors(t: ColumnType, i: int, name: str) -> None:
    """ROOT cannot order, compare or test 4-vectors (no operator<, no conversion to bool)."""
    if t.category == "vector":
        raise SignatureError(f"{name} cannot be applied to 4-vectors ({t}); apply it to a "
                             "component, e.g. " + name + "(v.Pt())", i)


def _per_event(t: ColumnType, i: int, name: str) -> None:
    if t.kind != "scalar":
        raise SignatureError(f"{name} needs one value per event as argument {i + 1}, "
                             f"but got {t}", i)


def _shape(args: Sequence[ColumnType]) -> Kind:
    return "jagged" if any(t.kind == "jagged" for t in args) else "scalar"


def _broadcast(args: Sequence[ColumnType], dtype: DType, name: str) -> ColumnType:
    for i, t in enumerate(args):
        _numeric(t, i, name)
    return column_type(_shape(args), dtype)


def _reduction(result: Callable[[DType], DType]) -> Callable[[str], Rule]:
    def make(name: str) -> Rule:
        def rule(args: Sequence[ColumnType]) -> ColumnType:
            _collection(args[0], 0, name)
            _numeric(args[0], 0, name)
            return scalar(result(args[0].dtype))
        return rule
    return make


def _same_collection(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        if name != "Reverse":
            _no_vectors(args[0], 0, name)
        return args[0]
    return rule


def _indices_of(name: str) -> Rule:
    """A collection of `size_t` positions (Argsort, Nonzero, Enumerate)."""
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        if name != "Enumerate":
            _no_vectors(args[0], 0, name)
        return jagged("uint64")
    return rule


def _floating(args: Sequence[ColumnType]) -> DType:
    """The floating type C++ computes in: float when every argument is a float (the
    `float` overloads of <cmath>, ROOT::VecOps' `Common_t`), else double (an integer
    argument makes double, as C++11's extra <cmath> overloads do)."""
    return "float32" if all(t.dtype == "float32" for t in args) else "float64"


def _elementwise_float(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        return _broadcast(args, _floating(args), name)
    return rule


def _min_max(args: Sequence[ColumnType]) -> DType:
    """ROOT's Max/Min return the element type T (`*std::max_element`); an empty
    collection, where ROOT's result is undefined, is an error unless guarded."""
    return args[0].dtype


def _common(name: str) -> Rule:
    """std::max/std::min: one template parameter, so C++ refuses two different types.

    ROOT's VecOps have no element-wise max/min: on an RVec the name is std::max,
    which compares whole RVecs and does not compile, so hepflow refuses it too."""
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        if any(t.kind == "jagged" for t in args):
            where = "Where(a > b, a, b)" if name == "max" else "Where(a < b, a, b)"
            which = "largest" if name == "max" else "smallest"
            raise SignatureError(
                f"ROOT has no element-wise {name}(a, b) of collections (std::{name} of an "
                f"RVec does not compile in ROOT); write {where}, or {name.capitalize()}(v) "
                f"for the {which} element of one collection")
        a, b = args[0].dtype, args[1].dtype
        if a != b and "unknown" not in (args[0].kind, args[1].kind):
            raise SignatureError(
                f"std::{name}(a, b) takes two values of one type (C++ cannot deduce its "
                f"template from {scalar(a)} and {scalar(b)}); convert one to the other's "
                f"type, e.g. std::{name}(a, ({scalar(a)})b)")
        return _broadcast(args, arithmetic(a, b), name)
    return rule


def _take(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Take")
    idx = args[1]
    if idx.kind not in ("jagged", "scalar"):
        raise SignatureError(f"Take cannot use {idx} as indices", 1)
    _integer(idx, 1, "Take")
    if idx.kind == "scalar" and idx.dtype == "bool":
        raise SignatureError("Take(v, n) needs an integer n", 1)
    if len(args) == 3:
        _no_vectors(args[0], 0, "Take with a default")
        _numeric(args[2], 2, "Take")
        if args[2].kind != "scalar":
            raise SignatureError("the default value of Take must be a single value", 2)
        return jagged(conditional(args[0].dtype, args[2].dtype))
    return args[0]


def _where(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Where")
    _no_vectors(args[0], 0, "Where")
    for i in (1, 2):
        _numeric(args[i], i, "Where")
    a, b = args[1], args[2]
    if (a.kind == "jagged") != (b.kind == "jagged"):  # ROOT's Where(c, RVec<T>, value_type)
        return jagged(a.dtype if a.kind == "jagged" else b.dtype)
    return jagged(conditional(a.dtype, b.dtype))


def _collections(name: str, kind: Kind) -> Rule:
    """Collections of numbers in, ROOT's `Common_t` of their element types out."""
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        for i, t in enumerate(args):
            _collection(t, i, name)
            _numeric(t, i, name)
        return column_type(kind, _floating(args))
    return rule


def _combinations(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Combinations")
    second = args[1]
    if second.kind == "jagged":
        return ColumnType("combos", "uint64", 2)
    if second.kind == "scalar" and second.category == "int":
        return ColumnType("combos", "uint64", -1)  # n fixed by the constant, set by the checker
    raise SignatureError("Combinations takes (v, n) or (v1, v2)", 1)


def _size(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        return scalar("uint64")
    return rule


def _any_all(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        _collection(args[0], 0, name)
        _no_vectors(args[0], 0, name)
        return scalar("bool")
    return rule


def _abs(args: Sequence[ColumnType]) -> ColumnType:
    """std::abs keeps a (promoted) integer type and a floating type."""
    dtype = args[0].dtype
    return _broadcast(args, dtype if category(dtype) == "float" else
                      integral_promotion(dtype), "abs")


def _two_collections(name: str, result: Callable[[DType, DType], DType], kind: Kind
                     ) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        for i in (0, 1):
            _collection(args[i], i, name)
            _numeric(args[i], i, name)
        return column_type(kind, result(args[0].dtype, args[1].dtype))
    return rule


def _drop(args: Sequence[ColumnType]) -> ColumnType:
    _collection(args[0], 0, "Drop")
    _collection(args[1], 1, "Drop")
    _integer(args[1], 1, "Drop")
    return args[0]


def _range(args: Sequence[ColumnType]) -> ColumnType:
    for i, t in enumerate(args):
        _per_event(t, i, "Range")
        _integer(t, i, "Range")
    return jagged("uint64" if len(args) == 1 else "int64")  # size_t, or long long


def _rvec(args: Sequence[ColumnType]) -> ColumnType:
    """`RVec<T>(n, value)`: the element type comes from the template; see the checker."""
    _per_event(args[0], 0, "RVec")
    _integer(args[0], 0, "RVec")
    if len(args) == 2:
        _per_event(args[1], 1, "RVec")
        _numeric(args[1], 1, "RVec")
    return jagged("other")


def _construct(args: Sequence[ColumnType]) -> ColumnType:
    """`Construct<V>(pt, eta, phi, m)`, or `Construct<V>(w)` of a collection of 4-vectors
    (converted element by element): the vector type comes from the template."""
    if len(args) == 1:
        if args[0].kind != "jagged" or args[0].category != "vector":
            raise SignatureError(f"Construct<V>(w) converts a collection of 4-vectors, not "
                                 f"{args[0]}; or give four collections (pt, eta, phi, m)", 0)
        return jagged("other")
    if len(args) != 4:
        raise SignatureError(f"Construct takes four collections (or one of 4-vectors), got "
                             f"{len(args)}")
    for i, t in enumerate(args):
        _collection(t, i, "Construct")
        _numeric(t, i, "Construct")
    return jagged("other")


def _vector_component(name: str) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        if args[0].category != "vector" or args[0].kind not in ("scalar", "jagged"):
            raise SignatureError(f"`{name}()` is a method of a 4-vector "
                                 f"(ROOT::Math::PtEtaPhiMVector, ...), not of {args[0]}", 0)
        if args[0].kind == "jagged":  # ROOT's RVec has no such method
            raise SignatureError(
                f"`.{name}()` is a method of one 4-vector, and ROOT's RVec of 4-vectors has "
                f"none; ROOT users write Map(p4, [](const auto &p) {{ return p.{name}(); }}) "
                f"or use the component collections the vectors are built from; here take "
                f"one vector (`p4[0].{name}()`) or compute on the components", 0)
        return column_type(args[0].kind, "float64")
    return rule


def _vector_new(dtype: DType) -> Rule:
    def rule(args: Sequence[ColumnType]) -> ColumnType:
        return _broadcast(args, dtype, dtype)
    return rule


_MATH1 = ("sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
          "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "round")
VECTOR_METHODS: Final = ("Pt", "Eta", "Phi", "M", "E", "Px", "Py", "Pz", "P", "Rapidity",
                         "Theta", "Et", "Mt", "Beta", "Gamma")


def _build() -> dict[str, FunctionSpec]:
    table: dict[str, FunctionSpec] = {}

    def add(name: str, lo: int, hi: int, rule: Rule, may_fail: bool = False) -> None:
        table[name] = FunctionSpec(name, lo, hi, rule, may_fail)

    add("Sum", 1, 1, _reduction(lambda d: arithmetic(d, d))("Sum"))
    add("Product", 1, 1, _reduction(lambda d: arithmetic(d, d))("Product"))
    add("Mean", 1, 1, _reduction(lambda d: "float64")("Mean"))
    add("StdDev", 1, 1, _reduction(lambda d: "float64")("StdDev"))
    add("Max", 1, 1, _reduction(lambda d: _min_max([scalar(d)]))("Max"), may_fail=True)
    add("Min", 1, 1, _reduction(lambda d: _min_max([scalar(d)]))("Min"), may_fail=True)
    # size_t, as ROOT's std::distance to max_element (0 for an empty collection)
    add("ArgMax", 1, 1, _reduction(lambda d: "uint64")("ArgMax"))
    add("ArgMin", 1, 1, _reduction(lambda d: "uint64")("ArgMin"))
    add("Argsort", 1, 1, _indices_of("Argsort"))
    add("StableArgsort", 1, 1, _indices_of("StableArgsort"))
    add("Nonzero", 1, 1, _indices_of("Nonzero"))
    add("Enumerate", 1, 1, _indices_of("Enumerate"))
    add("Reverse", 1, 1, _same_collection("Reverse"))
    add("Sort", 1, 1, _same_collection("Sort"))
    add("StableSort", 1, 1, _same_collection("StableSort"))
    add("Take", 2, 3, _take, may_fail=True)
    add("Drop", 2, 2, _drop)
    add("Concatenate", 2, 2, _two_collections("Concatenate", conditional, "jagged"))
    add("Intersect", 2, 2, _two_collections("Intersect", lambda a, b: a, "jagged"))
    add("Dot", 2, 2, _two_collections("Dot", arithmetic, "scalar"), may_fail=True)
    add("Any", 1, 1, _any_all("Any"))
    add("All", 1, 1, _any_all("All"))
    add("Where", 3, 3, _where)
    add("size", 1, 1, _size("size"))
    add("Length", 1, 1, _size("Length"))
    add("Range", 1, 3, _range, may_fail=True)
    add("RVec", 1, 2, _rvec, may_fail=True)
    add("abs", 1, 1, _abs)
    add("fabs", 1, 1, _elementwise_float("fabs"))
    for name in _MATH1:
        add(name, 1, 1, _elementwise_float(name))
    for name in ("pow", "atan2", "hypot", "fmod"):
        add(name, 2, 2, _elementwise_float(name))
    add("max", 2, 2, _common("max"))
    add("min", 2, 2, _common("min"))
    add("DeltaPhi", 2, 2, _elementwise_float("DeltaPhi"))
    add("DeltaR", 4, 4, _elementwise_float("DeltaR"))
    add("DeltaR2", 4, 4, _elementwise_float("DeltaR2"))
    add("InvariantMass", 4, 4, _collections("InvariantMass", "scalar"), may_fail=True)
    add("InvariantMasses", 8, 8, _collections("InvariantMasses", "jagged"), may_fail=True)
    add("Combinations", 2, 2, _combinations)
    add("Construct", 1, 4, _construct, may_fail=True)
    for system in VECTOR_DTYPES:
        add(system, 4, 4, _vector_new(system))
    for method in VECTOR_METHODS:
        add("." + method, 1, 1, _vector_component(method))
    return table


FUNCTIONS: dict[str, FunctionSpec] = _build()
# LorentzVector's other names of its accessors (x(), mass(), Rho(), ...: ROOT's own
# one-line forwards to the same coordinate function)
_VECTOR_ALIASES: Final = {
    "X": "Px", "Y": "Py", "Z": "Pz", "T": "E", "R": "P", "Rho": "Pt", "Perp": "Pt",
    "Mag": "M", "x": "Px", "y": "Py", "z": "Pz", "t": "E", "px": "Px", "py": "Py",
    "pz": "Pz", "e": "E", "energy": "E", "r": "P", "theta": "Theta", "phi": "Phi",
    "rho": "Pt", "eta": "Eta", "pt": "Pt", "mag": "M", "mass": "M", "mt": "Mt"}
ALIASES: Final[dict[str, str]] = {".size": "size", "length": "Length",
                                  "XYZTVector": "PxPyPzEVector",
                                  **{"." + k: "." + v for k, v in _VECTOR_ALIASES.items()}}
PREFIXES: Final = ("ROOT::VecOps::", "ROOT::Math::", "ROOT::", "std::", "TMath::")
CONSTANTS: Final[dict[str, float]] = {"M_PI": 3.141592653589793, "Pi": 3.141592653589793}
# Names hepflow once accepted, or other libraries use, that ROOT spells differently
NOT_ROOT_NAMES: Final[dict[str, str]] = {"ArgSort": "Argsort", "argsort": "Argsort",
                                         "StableArgSort": "StableArgsort", "len": "size",
                                         "Concat": "Concatenate"}


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


__all__ = ["ALIASES", "CONSTANTS", "FUNCTIONS", "NOT_ROOT_NAMES", "PREFIXES", "VECTOR_METHODS",
           "FunctionSpec", "SignatureError", "resolve_function"]
