"""User functions callable from expression strings: hepflow's `gInterpreter.Declare`.

    hepflow.Declare("scaled_pt", lambda pt, eta: pt * (1 + 0.01 * abs(eta)),
                    ["RVec<float>", "RVec<float>"], "RVec<double>")
    df.Define("x", "Sum(scaled_pt(Jet_pt, Jet_eta)) * 2")

The function receives whole columns (numpy arrays for one value per event,
awkward arrays for collections, already converted to the declared types) and
returns one column. Calls are type-checked when the plan is built, from the
declared signature. The checked tree holds the `DeclaredFunction` itself, so
it travels to the workers inside the pickled plan (cloudpickle carries
lambdas and closures): workers never look a name up in a registry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from hepflow.core.types import ColumnType, column_type
from hepflow.errors import PlanError
from hepflow.plan.expr import cxxtypes
from hepflow.plan.expr.cxx_source import CxxFunction, parse_source
from hepflow.plan.expr.functions import FUNCTIONS, resolve_function


@dataclass(frozen=True, slots=True, eq=False)
class DeclaredFunction:
    """A Python function with a C++-style signature, callable from expressions."""

    name: str
    func: Callable[..., Any]
    arg_types: tuple[ColumnType, ...]
    return_type: ColumnType

    def __repr__(self) -> str:
        args = ", ".join(str(t) for t in self.arg_types)
        return f"{self.return_type} {self.name}({args})"


@dataclass(frozen=True, slots=True, eq=False)
class Mapped:
    """`Map(v1, ..., f)`: a declared function of single values applied to every element."""

    func: DeclaredFunction


@dataclass(frozen=True, slots=True, eq=False)
class DeclaredCorrection:
    """A correctionlib correction callable as `name(Muon_eta, Muon_pt, "nominal")`.

    `inputs` are the correction's (name, type) pairs, type "real", "int" or
    "string"; string inputs must be string literals in the expression.
    `correction` is correctionlib's high-level Correction (it pickles).
    """

    name: str
    correction: Any
    inputs: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        args = ", ".join(f"{t} {n}" for n, t in self.inputs)
        return f"correction {self.name}({args})"


@dataclass(frozen=True, slots=True, eq=False)
class CorrectionCall:
    """One call of a correction: the string arguments, fixed when the plan is built."""

    correction: DeclaredCorrection
    strings: tuple[tuple[int, str], ...]  # (input position, value)


@dataclass(frozen=True, slots=True, eq=False)
class DeclaredCxx:
    """A C++ function definition from `Declare(source)`: a call is checked and run as
    its body with the parameters bound to the arguments (hepflow.plan.expr.cxx_calls)."""

    function: CxxFunction

    @property
    def name(self) -> str:
        return self.function.name

    def __repr__(self) -> str:
        args = ", ".join(f"{t} {p}" for p, t in self.function.params)
        return f"{self.function.return_type} {self.name}({args})"


_DECLARED: dict[str, DeclaredFunction | DeclaredCorrection | DeclaredCxx] = {}
_LOCK = threading.Lock()


def parse_type(spelled: str | ColumnType) -> ColumnType:
    """`"RVec<float>"`, `"ROOT::VecOps::RVec<unsigned int>"`, `"double"` or a ColumnType."""
    if isinstance(spelled, ColumnType):
        return spelled
    text = " ".join(str(spelled).split())
    kind: str = "scalar"
    base = cxxtypes.strip_namespace(text)
    if base in cxxtypes.RVEC_ALIASES:
        return column_type("jagged", cxxtypes.RVEC_ALIASES[base])
    if base.startswith("RVec<") and base.endswith(">"):
        kind, text = "jagged", base[len("RVec<"):-1].strip()
    dtype = cxxtypes.type_from_words(text.split())
    if dtype is None:
        raise PlanError(f"`{spelled}` is not a type hepflow knows; use e.g. \"double\", "
                        "\"int\", \"RVec<float>\"")
    return column_type("jagged" if kind == "jagged" else "scalar", dtype)


def _check_name(name: str) -> None:
    if not name.isidentifier() or not name.isascii():
        raise PlanError(f"cannot declare {name!r}: a function name is a C++ identifier")
    if resolve_function(name) is not None or name in FUNCTIONS:
        raise PlanError(f"cannot declare `{name}`: it is a built-in function of the "
                        "expression language")
    if cxxtypes.is_type_word(name) or name in ("static_cast", "Construct", "RVec", "Map"):
        raise PlanError(f"cannot declare `{name}`: it is a C++ type or keyword")


@overload
def Declare(name: str, func: Callable[..., Any], arg_types: Sequence[str | ColumnType],
            return_type: str | ColumnType) -> DeclaredFunction: ...


@overload
def Declare(name: str | os.PathLike[str]) -> list[DeclaredCxx]: ...


def Declare(name: str | os.PathLike[str], func: Callable[..., Any] | None = None,
            arg_types: Sequence[str | ColumnType] | None = None,
            return_type: str | ColumnType | None = None
            ) -> DeclaredFunction | list[DeclaredCxx]:
    """Make `func` callable as `name(...)` in Define and Filter strings; or, given only
    C++ source (or a header file's path), its function definitions, as ROOT's
    `gInterpreter.Declare` does.

    Parameters
    ----------
    name : str or path
        The name used in expressions (a C++ identifier, not a built-in function); or
        C++ function definitions (`"double f(float x) { return x * 2; }"`), or the
        path of a file holding them.
    func : callable
        Takes one column per argument and returns one column of `return_type`.
    arg_types, return_type : str or ColumnType
        C++ spellings: "double", "int", "unsigned int", "RVec<float>", ...

    Returns
    -------
    DeclaredFunction, or the list of DeclaredCxx for C++ source
        Declaring the same name again replaces it for plans built afterwards.
    """
    if func is None and arg_types is None and return_type is None:
        return _declare_source(name)
    if not isinstance(name, str) or arg_types is None or return_type is None:
        raise PlanError("Declare(name, func, arg_types, return_type) declares a Python "
                        "function; Declare(cpp_source) alone declares C++ functions")
    _check_name(name)
    if not callable(func):
        raise PlanError(f"Declare({name!r}, ...) needs a callable, not {type(func).__name__}")
    declared = DeclaredFunction(name, func, tuple(parse_type(t) for t in arg_types),
                                parse_type(return_type))
    with _LOCK:
        _DECLARED[name] = declared
    return declared


def _correction(cset: Any, key: str, source: Any) -> Any:
    """`cset[key]`, or the compound correction `key` (a CMS JEC stack: L1, L2, L3 applied
    in turn), which correctionlib keeps apart in `cset.compound`."""
    compound = getattr(cset, "compound", {})
    for table in (cset, compound):
        try:
            return table[key]
        except (KeyError, IndexError, TypeError):
            continue
    keys = sorted(cset.keys()) if hasattr(cset, "keys") else []
    keys += [f"{k} (compound)" for k in sorted(compound.keys())] if hasattr(compound, "keys") \
        else []
    raise PlanError(f"no correction {key!r} in {source!r}; it has: "
                    f"{', '.join(keys) or '?'}")


def _declare_source(source: str | os.PathLike[str]) -> list[DeclaredCxx]:
    """C++ definitions from text or a file: parsed, each body checked on its own
    parameters (errors point into the source), then made callable."""
    from hepflow.plan.expr import cxx_calls  # it builds on the checker, which imports us

    text = str(source)
    if isinstance(source, os.PathLike) or ("\n" not in text and "{" not in text and
                                           os.path.isfile(text)):
        try:
            with open(source, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise PlanError(f"cannot read the C++ source {str(source)!r}: {exc}") from exc
    functions = parse_source(text)
    for function in functions:
        _check_name(function.name)
    declared = []
    for function in functions:  # in order: a body may call the functions defined above it
        cxx = DeclaredCxx(function)
        with _LOCK:
            before = _DECLARED.get(cxx.name)
            _DECLARED[cxx.name] = cxx
        try:
            cxx_calls.validate(cxx)
        except BaseException:
            with _LOCK:
                if before is None:
                    del _DECLARED[cxx.name]
                else:
                    _DECLARED[cxx.name] = before
            raise
        declared.append(cxx)
    return declared


def declare_correction(name: str, source: Any, key: str) -> DeclaredCorrection:
    """Make correction `key` of a correctionlib file (path, .json or .json.gz) or
    `correctionlib.CorrectionSet` callable as `name(...)` in expressions; `key` may
    name a compound correction (a JEC stack) too.

    Numeric inputs may be per-event values or collections (then the result is one
    value per element); string inputs (e.g. the systematic) are string literals.
    """
    _check_name(name)
    try:
        import correctionlib
    except ImportError as exc:  # pragma: no cover - correctionlib is installed with hepflow
        raise PlanError("declare_correction needs the correctionlib package") from exc
    cset = correctionlib.CorrectionSet.from_file(str(source)) \
        if isinstance(source, (str, os.PathLike)) else source
    correction = _correction(cset, key, source)
    inputs = tuple((str(i.name), str(i.type)) for i in correction.inputs)
    declared = DeclaredCorrection(name, correction, inputs)
    with _LOCK:
        _DECLARED[name] = declared
    return declared


def lookup(name: str) -> DeclaredFunction | DeclaredCorrection | DeclaredCxx | None:
    """The function declared under `name`, when the plan is built (never on workers)."""
    with _LOCK:
        return _DECLARED.get(name)


def declared_names() -> list[str]:
    with _LOCK:
        return sorted(_DECLARED)


__all__ = ["CorrectionCall", "Declare", "DeclaredCorrection", "DeclaredCxx", "DeclaredFunction",
           "Mapped",
           "declare_correction", "declared_names", "lookup", "parse_type"]
