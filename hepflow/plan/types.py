"""Column types as the planner sees them: known from branch metadata, never from data.

Only the shape that matters for per-event semantics is tracked: one value per
event (`scalar`), a variable-length collection per event (`jagged`), or the
index lists that `Combinations` returns (`combos`). That is enough to reject
`MET_pt[0]` at build time and to know what every function returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

# "scalar", "jagged", "combos" or "unknown"
Kind = str
# "bool", "int", "float" or "other"
DType = str


@dataclass(frozen=True, slots=True)
class ColumnType:
    """The per-event shape and element kind of a column or expression."""

    kind: Kind
    dtype: DType
    ncomb: int = 0

    def __str__(self) -> str:
        if self.kind == "combos":
            return f"Combinations of {self.ncomb} index lists"
        if self.kind == "jagged":
            return f"RVec<{_CXX[self.dtype]}>"
        if self.kind == "unknown":
            return "unknown"
        return _CXX[self.dtype]

    @property
    def is_collection(self) -> bool:
        return self.kind in ("jagged", "combos")


_CXX = {"bool": "bool", "int": "int", "float": "double", "other": "object"}

UNKNOWN = ColumnType("unknown", "other")


@cache
def column_type(kind: Kind, dtype: DType) -> ColumnType:
    """One shared instance per type: a 1,500-branch schema then pickles as 1,500 names
    and a handful of objects, so workers unpickling a plan do not build 1,500 of them."""
    return ColumnType(kind, dtype)


def scalar(dtype: DType) -> ColumnType:
    return column_type("scalar", dtype)


def jagged(dtype: DType) -> ColumnType:
    return column_type("jagged", dtype)


def dtype_kind(dtype: np.dtype) -> DType:
    """Map a numpy dtype to the planner's element kind."""
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    if np.issubdtype(dtype, np.floating):
        return "float"
    return "other"


def promote(a: DType, b: DType) -> DType:
    """C++-like arithmetic promotion: bool < int < float."""
    order = ("bool", "int", "float")
    if a == "other" or b == "other":
        return "other"
    return order[max(order.index(a), order.index(b), 1)]  # bool arithmetic gives int


__all__ = ["UNKNOWN", "ColumnType", "DType", "Kind", "column_type", "dtype_kind", "jagged",
           "promote", "scalar"]
