"""The values the evaluator passes around, and C++-style conversions between their types.

A value is a numpy array (one value per event), an awkward array (one list
per event), a numpy scalar (a constant, broadcast at the end) or a
`FourVector` of such values.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepflow.core.types import ColumnType
from hepflow.engine.lists import elementwise

Value = Any  # np.ndarray, ak.Array, a numpy scalar constant or a FourVector


class EvaluationFailure(Exception):
    """A per-event operation failed (e.g. an index past the end of a collection)."""


def to_numpy(x: Value) -> Any:
    """One value per event as a numpy array (zero-copy where awkward allows it)."""
    if isinstance(x, ak.Array):
        return ak.to_numpy(x)
    return x


def f64(x: Value) -> Value:
    """Promote float32 (and integers) to float64, as C++ does when a double enters."""
    return as_dtype(x, np.dtype(np.float64))


def float_if_float(x: Value) -> Value:
    """float32 → float64, other dtypes untouched."""
    if isinstance(x, ak.Array):
        return ak.values_astype(x, np.float64) if leaf_dtype(x) == np.float32 else x
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float32:
        return x.astype(np.float64)
    return x


def as_dtype(x: Value, dtype: np.dtype) -> Value:
    """`x` converted to `dtype` as C++ converts: integers wrap, floats truncate toward zero
    (a NaN or out-of-range float gives whatever the hardware gives: C++ leaves it open)."""
    with np.errstate(all="ignore"):
        if isinstance(x, ak.Array):
            if leaf_dtype(x) == dtype:
                return x
            flat = elementwise(lambda v: v.astype(dtype), x)
            return ak.values_astype(x, dtype) if flat is None else flat
        if isinstance(x, (np.ndarray, np.generic)):
            return x if x.dtype == dtype else x.astype(dtype)
        return np.asarray(x).astype(dtype)[()]


def as_type(x: Value, t: ColumnType) -> Value:
    """`x` in the exact numpy dtype of the checker's type `t` (4-vectors, index lists and
    objects as they are)."""
    if t.category in ("vector", "other", "string") or t.kind in ("combos", "unknown"):
        return x
    return as_dtype(x, t.numpy)


def leaf_dtype(x: ak.Array) -> np.dtype | None:
    form = x.layout.form
    while hasattr(form, "content"):
        form = form.content
    dtype = getattr(form, "primitive", None)
    return np.dtype(dtype) if dtype is not None else None



__all__ = ["EvaluationFailure", "Value", "as_dtype", "as_type", "f64", "float_if_float",
           "leaf_dtype", "to_numpy"]
