"""Column types as the planner sees them: known from branch metadata, never from data.

Two things are tracked. The per-event *shape*: one value per event (`scalar`),
a variable-length collection per event (`jagged`), or the index lists that
`Combinations` returns (`combos`). And the exact C++ element type (`dtype`):
`UInt_t nMuon` is `uint32`, `UChar_t Jet_jetId` is `uint8`, a `Float_t` branch
is `float32`. The exact integer type is what makes `nMuon - 2u < 0` never true
and `2u - 3` equal 4294967295, as in ROOT; the shape is what rejects
`MET_pt[0]` at build time.

Arithmetic follows C++'s usual arithmetic conversions for integers (integer
promotion of bool/char/short to int, then signed/unsigned by rank). For
floating point hepflow computes in double: `Float_t` operands are widened to
`double` (ROOT would keep `float` for `float * int`); the result is at least as
precise and it is documented as the one deliberate difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final, Literal, cast, get_args

import numpy as np

Kind = Literal["scalar", "jagged", "combos", "unknown"]
IntDType = Literal["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
FloatDType = Literal["float32", "float64"]
VectorDType = Literal["PtEtaPhiMVector", "PtEtaPhiEVector", "PxPyPzEVector", "PxPyPzMVector"]
DType = Literal["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                "uint64", "float32", "float64", "PtEtaPhiMVector", "PtEtaPhiEVector",
                "PxPyPzEVector", "PxPyPzMVector", "string", "other"]
Category = Literal["bool", "int", "float", "vector", "string", "other"]

DTYPES: Final[tuple[DType, ...]] = get_args(DType)
INT_DTYPES: Final[tuple[IntDType, ...]] = get_args(IntDType)
FLOAT_DTYPES: Final[tuple[FloatDType, ...]] = get_args(FloatDType)
VECTOR_DTYPES: Final[tuple[VectorDType, ...]] = get_args(VectorDType)

# Before element types were exact, "int" meant any integer and "float" any
# floating point number; they still name the widest type, so that nothing
# typed the old way is ever truncated.
LEGACY_ALIASES: Final[dict[str, DType]] = {"int": "int64", "float": "float64"}

CXX_NAMES: Final[dict[DType, str]] = {
    "bool": "bool", "int8": "signed char", "uint8": "unsigned char", "int16": "short",
    "uint16": "unsigned short", "int32": "int", "uint32": "unsigned int", "int64": "long",
    "uint64": "unsigned long", "float32": "float", "float64": "double",
    "PtEtaPhiMVector": "ROOT::Math::PtEtaPhiMVector",
    "PtEtaPhiEVector": "ROOT::Math::PtEtaPhiEVector",
    "PxPyPzEVector": "ROOT::Math::PxPyPzEVector",
    "PxPyPzMVector": "ROOT::Math::PxPyPzMVector", "string": "string", "other": "object",
}

_BITS: Final[dict[str, int]] = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32,
                                "uint32": 32, "int64": 64, "uint64": 64}


@dataclass(frozen=True, slots=True)
class ColumnType:
    """The per-event shape and exact element type of a column or expression."""

    kind: Kind
    dtype: DType
    ncomb: int = 0

    def __post_init__(self) -> None:
        alias = LEGACY_ALIASES.get(self.dtype)
        if alias is not None:
            object.__setattr__(self, "dtype", alias)
        elif self.dtype not in DTYPES:
            raise ValueError(f"unknown element type {self.dtype!r}; one of {', '.join(DTYPES)}")

    def __str__(self) -> str:
        if self.kind == "combos":
            return f"Combinations of {self.ncomb} index lists"
        if self.kind == "jagged":
            return f"RVec<{CXX_NAMES[self.dtype]}>"
        if self.kind == "unknown":
            return "unknown"
        return CXX_NAMES[self.dtype]

    @property
    def is_collection(self) -> bool:
        return self.kind in ("jagged", "combos")

    @property
    def category(self) -> Category:
        """bool, int, float, vector or other: what most type rules care about."""
        return category(self.dtype)

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype the engine holds this type's values in."""
        return numpy_dtype(self.dtype)


def category(dtype: DType) -> Category:
    if dtype == "bool":
        return "bool"
    if dtype in _BITS:
        return "int"
    if dtype in FLOAT_DTYPES:
        return "float"
    if dtype in VECTOR_DTYPES:
        return "vector"
    if dtype == "string":
        return "string"
    return "other"


def numpy_dtype(dtype: DType) -> np.dtype:
    """numpy's dtype for an element type (4-vectors are float64; strings and objects are
    object: the engine keeps strings in whatever numpy string dtype they come in)."""
    if dtype in VECTOR_DTYPES:
        return np.dtype(np.float64)
    if dtype in ("string", "other"):
        return np.dtype(object)
    return np.dtype(dtype)


UNKNOWN = ColumnType("unknown", "other")


@cache
def column_type(kind: Kind, dtype: DType | Literal["int", "float"]) -> ColumnType:
    """One shared instance per type: a 1,500-branch schema then pickles as 1,500 names
    and a handful of objects, so workers unpickling a plan do not build 1,500 of them."""
    return ColumnType(kind, cast(DType, dtype))


def scalar(dtype: DType | Literal["int", "float"]) -> ColumnType:
    return column_type("scalar", dtype)


def jagged(dtype: DType | Literal["int", "float"]) -> ColumnType:
    return column_type("jagged", dtype)


def dtype_kind(dtype: np.dtype) -> DType:
    """The planner's exact element type for a numpy dtype (byte order ignored)."""
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating):
        name: str = np.dtype(dtype).newbyteorder("=").name
        for known in DTYPES:
            if known == name:
                return known
        return "float64" if np.issubdtype(dtype, np.floating) else "other"
    if np.dtype(dtype).kind in ("U", "S", "T"):  # str, bytes, numpy 2's StringDType
        return "string"
    return "other"


# ---------------------------------------------------------------- C++ conversions


def int_range(dtype: IntDType) -> tuple[int, int]:
    """The smallest and largest value of an integer type."""
    bits = _BITS[dtype]
    if dtype.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def wrap(value: int, dtype: IntDType) -> int:
    """`value` converted to an integer type modulo 2^bits, as C++ converts to unsigned
    (and, since C++20, to signed)."""
    lo, _ = int_range(dtype)
    span: int = 2 ** _BITS[dtype]
    return (value - lo) % span + lo


def integral_promotion(dtype: DType) -> DType:
    """bool, char and short become int before any arithmetic (C++ [conv.prom])."""
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return "int32"
    return dtype


def _rank(dtype: IntDType) -> int:
    return _BITS[dtype]


def arithmetic(a: DType, b: DType) -> DType:
    """The common type of a binary arithmetic or comparison operator (C++'s usual
    arithmetic conversions: a double makes double, else a float makes float, so
    `float * int` and `float * 2.f` stay float and `float * 2.0` is double)."""
    ca, cb = category(a), category(b)
    if ca == cb == "string":  # std::string's comparisons
        return "string"
    if {"other", "vector", "string"} & {ca, cb}:
        return "other"
    if "float" in (ca, cb):
        return "float64" if "float64" in (a, b) else "float32"
    pa = cast(IntDType, integral_promotion(a))
    pb = cast(IntDType, integral_promotion(b))
    if pa == pb:
        return pa
    ua, ub = pa.startswith("u"), pb.startswith("u")
    if ua == ub:
        return pa if _rank(pa) >= _rank(pb) else pb
    unsigned, signed = (pa, pb) if ua else (pb, pa)
    if _rank(unsigned) >= _rank(signed):
        return unsigned
    # the signed type is wider: it holds every value of the unsigned one
    return signed


def conditional(a: DType, b: DType) -> DType:
    """The type of `c ? a : b`: the same type stays, arithmetic types convert."""
    if a == b:
        return a
    return arithmetic(a, b)


def promote(a: DType, b: DType) -> DType:
    """Kept for callers of the coarse rule: the same as `arithmetic`."""
    return arithmetic(a, b)


__all__ = ["CXX_NAMES", "DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "LEGACY_ALIASES", "UNKNOWN",
           "VECTOR_DTYPES", "Category", "ColumnType", "DType", "FloatDType", "IntDType", "Kind",
           "VectorDType", "arithmetic", "category", "column_type", "conditional", "dtype_kind",
           "int_range", "integral_promotion", "jagged", "numpy_dtype", "promote", "scalar",
           "wrap"]
