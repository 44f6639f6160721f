"""Columnar implementations of the ROOT::VecOps-style functions.

Per-event semantics follow ROOT: a collection argument is one RVec per event,
reductions give one value per event, and arithmetic is done in float64 even
when the branches are float32 (as C++ does once a double enters). Values are
numpy arrays (one value per event) or awkward arrays (one list per event).

Where ROOT leaves a case undefined, hepflow picks a documented answer:
`Max`/`Min` of an empty collection give NaN and `ArgMax`/`ArgMin` give -1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import awkward as ak
import numpy as np

Value = Any  # np.ndarray, ak.Array or a Python scalar constant


class EvaluationFailure(Exception):
    """A per-event operation failed (e.g. an index past the end of a collection)."""


def is_jagged(x: Value) -> bool:
    return isinstance(x, ak.Array)


def to_numpy(x: Value) -> Any:
    """One value per event as a numpy array (zero-copy where awkward allows it)."""
    if isinstance(x, ak.Array):
        return ak.to_numpy(x)
    return x


def f64(x: Value) -> Value:
    """Promote float32 (and integers) to float64, as C++ does when a double enters."""
    if isinstance(x, ak.Array):
        return ak.values_astype(x, np.float64)
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    return np.float64(x)  # not float(x): 1. / 0. must give inf, not ZeroDivisionError


def float_if_float(x: Value) -> Value:
    """float32 → float64, other dtypes untouched."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float64) if x.dtype == np.float32 else x
    if isinstance(x, ak.Array):
        if _leaf_dtype(x) == np.float32:
            return ak.values_astype(x, np.float64)
        return x
    return x


def _leaf_dtype(x: ak.Array) -> np.dtype | None:
    form = x.layout.form
    while hasattr(form, "content"):
        form = form.content
    dtype = getattr(form, "primitive", None)
    return np.dtype(dtype) if dtype is not None else None


def _reduce_fill(result: Any, fill: float | int, dtype: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.fill_none(result, fill)), dtype=dtype)


def Sum(v: ak.Array) -> np.ndarray:
    if _leaf_dtype(v) == np.bool_:
        return np.asarray(ak.to_numpy(ak.sum(v, axis=1)), dtype=np.int64)
    out = ak.to_numpy(ak.sum(float_if_float(v), axis=1))
    return np.asarray(out)


def Mean(v: ak.Array) -> np.ndarray:
    v = f64(v)
    total = ak.to_numpy(ak.sum(v, axis=1))
    count = ak.to_numpy(ak.num(v, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def StdDev(v: ak.Array) -> np.ndarray:
    v = f64(v)
    count = ak.to_numpy(ak.num(v, axis=1))
    mean = Mean(v)
    with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf: NaN, quietly
        sq = ak.to_numpy(ak.sum((v - mean) ** 2, axis=1))
        return np.where(count > 1, np.sqrt(sq / np.maximum(count - 1, 1)), 0.0)


def Max(v: ak.Array) -> np.ndarray:
    return _reduce_fill(ak.max(f64(v), axis=1), np.nan, np.float64)


def Min(v: ak.Array) -> np.ndarray:
    return _reduce_fill(ak.min(f64(v), axis=1), np.nan, np.float64)


def ArgMax(v: ak.Array) -> np.ndarray:
    return _reduce_fill(ak.argmax(v, axis=1), -1, np.int64)


def ArgMin(v: ak.Array) -> np.ndarray:
    return _reduce_fill(ak.argmin(v, axis=1), -1, np.int64)


def ArgSort(v: ak.Array) -> ak.Array:
    return ak.argsort(v, axis=1, stable=True)


def Sort(v: ak.Array) -> ak.Array:
    return ak.sort(v, axis=1, stable=True)


def Reverse(v: ak.Array) -> ak.Array:
    return v[:, ::-1]


def Nonzero(v: ak.Array) -> ak.Array:
    return ak.local_index(v, axis=1)[v != 0]


def Any_(v: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.any(v != 0, axis=1)), dtype=bool)


def All_(v: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.all(v != 0, axis=1)), dtype=bool)


def size(v: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.num(v, axis=1)), dtype=np.int64)


def Where(cond: ak.Array, a: Value, b: Value) -> ak.Array:
    return ak.where(cond != 0, a, b)


def Take(v: ak.Array, idx: Value, default: Value = None) -> ak.Array:
    """ROOT's Take: by indices, or the first (n > 0) / last (n < 0) n elements.

    Without a default, asking for more elements than an event has fails. With
    one, missing elements are the default (placed first for n < 0, as in ROOT).
    `n` and the default may differ from event to event.
    """
    if isinstance(idx, ak.Array):
        if _leaf_dtype(idx) == np.bool_:
            return v[idx]
        if default is None:
            return take_elements(v, idx)
        return _take_or_default(v, idx, default)
    if not isinstance(idx, (int, np.integer, np.ndarray)):
        raise EvaluationFailure(f"Take(v, n) needs an integer n, not {idx!r}")
    n = np.broadcast_to(np.asarray(idx, dtype=np.int64), (len(v),))
    counts = size(v)
    absn = np.abs(n)
    if default is None:
        short = counts < absn
        if short.any():
            first = int(np.flatnonzero(short)[0])
            raise EvaluationFailure(
                f"Take asked for {int(absn[first])} elements of a collection with "
                f"{int(counts[first])} (event {first} of this chunk)")
    # element k of the result is element k (n >= 0) or size - |n| + k (n < 0) of v
    k = ak.local_index(ak.unflatten(np.zeros(int(absn.sum()), np.int8), absn), axis=1)
    src = ak.where(n >= 0, k, k + (counts - absn))
    if default is None:
        return v[src]
    return _take_or_default(v, src, default)


def _take_or_default(v: ak.Array, src: ak.Array, default: Value) -> ak.Array:
    """`v[src]` per event, with `default` where an index is out of range."""
    valid = (src >= 0) & (src < size(v))
    v_bool = _leaf_dtype(v) == np.bool_
    d_bool = np.asarray(default).dtype == np.bool_
    if v_bool != d_bool:  # bool meets a number: both become numbers, as in C++
        v = ak.values_astype(v, np.int64) if v_bool else v
        default = np.asarray(default, dtype=np.int64) if d_bool else default
    picked = ak.fill_none(v[ak.mask(src, valid)], False if v_bool and d_bool else 0)
    return ak.where(valid, picked, default)


def take_elements(v: ak.Array, idx: ak.Array) -> ak.Array:
    """`v[idx]` per event with C++-style bounds checking (no negative wrap-around)."""
    counts = size(v)
    bad = ak.any((idx < 0) | (idx >= counts[:, np.newaxis]), axis=1)
    bad_np = np.asarray(ak.to_numpy(ak.fill_none(bad, False)))
    if bad_np.any():
        first = int(np.flatnonzero(bad_np)[0])
        raise EvaluationFailure(
            f"index {ak.to_list(idx[first])} out of range for a collection of "
            f"{int(counts[first])} elements (event {first} of this chunk)")
    return v[idx]


def element(v: ak.Array, idx: Value) -> np.ndarray:
    """`v[i]` per event: one element each, failing loudly when an event is too short."""
    counts = size(v)
    index = np.broadcast_to(np.asarray(idx, dtype=np.int64), counts.shape)
    bad = (index < 0) | (index >= counts)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvaluationFailure(
            f"index {int(index[first])} out of range in an event with {int(counts[first])} "
            f"elements (event {first} of this chunk); guard it, e.g. `n > i && v[i] ...`")
    # position in the flattened content; valid for any list layout, also after a subset
    content = ak.to_numpy(ak.flatten(v, axis=1))
    return np.asarray(content[np.cumsum(counts) - counts + index])


def abs_(x: Value) -> Value:
    return np.abs(x)


def fabs(x: Value) -> Value:
    return np.abs(f64(x))


def _round(x: Value) -> Value:
    """std::round: halfway cases away from zero (floor(|x| + 0.5) is wrong near 0.5)."""
    x = f64(x)
    whole = np.floor(np.abs(x))
    with np.errstate(invalid="ignore"):  # round(inf) is inf, quietly
        return np.copysign(whole + (np.abs(x) - whole >= 0.5), x)


def DeltaPhi(a: Value, b: Value) -> Value:
    """The signed angle from a to b in [-pi, pi], as ROOT::VecOps::DeltaPhi."""
    with np.errstate(invalid="ignore"):  # an infinite angle gives NaN, quietly
        r = np.fmod(f64(b) - f64(a), 2.0 * np.pi)
    return r + (r < -np.pi) * (2.0 * np.pi) - (r > np.pi) * (2.0 * np.pi)


def DeltaR(eta1: Value, eta2: Value, phi1: Value, phi2: Value) -> Value:
    dphi = DeltaPhi(phi1, phi2)
    deta = f64(eta1) - f64(eta2)
    return np.sqrt(deta * deta + dphi * dphi)


def _cartesian(pt: Value, eta: Value, phi: Value, mass: Value) -> tuple[Value, ...]:
    pt, eta, phi, mass = f64(pt), f64(eta), f64(phi), f64(mass)
    x = pt * np.cos(phi)
    y = pt * np.sin(phi)
    z = pt * np.sinh(eta)
    e = np.sqrt(x * x + y * y + z * z + mass * mass)
    return x, y, z, e


def _flat_collections(arrays: Sequence[ak.Array], name: str) -> tuple[list[np.ndarray],
                                                                         np.ndarray]:
    """Flat float64 contents of equally sized collections, and the per-event sizes."""
    counts = size(arrays[0])
    flats = []
    for array in arrays:
        if not np.array_equal(size(array), counts):
            raise EvaluationFailure(f"{name}: the collections differ in size in some events")
        flats.append(np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=np.float64))
    return flats, counts


def InvariantMass(pt: ak.Array, eta: ak.Array, phi: ak.Array, mass: ak.Array) -> np.ndarray:
    """Mass of the sum of all four-vectors of each event's collection.

    Computed on the flat contents (one pass of numpy ufuncs) and summed per
    event with `bincount`, which adds each event's elements in order, as
    ROOT's loop does; ragged awkward arithmetic would realign the collections
    at every step.
    """
    (fpt, feta, fphi, fmass), counts = _flat_collections((pt, eta, phi, mass), "InvariantMass")
    x, y, z, e = _cartesian(fpt, feta, fphi, fmass)
    event = np.repeat(np.arange(counts.size), counts)
    sx, sy, sz, se = (np.bincount(event, weights=c, minlength=counts.size)
                      for c in (x, y, z, e))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.sqrt(se * se - sx * sx - sy * sy - sz * sz))


def InvariantMasses(pt1: Value, eta1: Value, phi1: Value, mass1: Value,
                    pt2: Value, eta2: Value, phi2: Value, mass2: Value) -> ak.Array:
    """Element-wise pair masses of two equally long collections."""
    x1, y1, z1, e1 = _cartesian(pt1, eta1, phi1, mass1)
    x2, y2, z2, e2 = _cartesian(pt2, eta2, phi2, mass2)
    x, y, z, e = x1 + x2, y1 + y2, z1 + z2, e1 + e2
    with np.errstate(invalid="ignore"):
        return np.sqrt(e * e - x * x - y * y - z * z)


def Combinations(v: ak.Array, second: Value) -> ak.Array:
    if isinstance(second, ak.Array):
        return ak.argcartesian([v, second], axis=1)
    return ak.argcombinations(v, int(second), axis=1)


def _math(func: Callable[[Any], Any]) -> Callable[[Value], Value]:
    def apply(x: Value) -> Value:
        with np.errstate(all="ignore"):
            return func(f64(x))
    return apply


def _math2(func: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        with np.errstate(all="ignore"):
            return func(f64(a), f64(b))
    return apply


def _minmax(func: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        return func(float_if_float(a), float_if_float(b))
    return apply


IMPLEMENTATIONS: dict[str, Callable[..., Value]] = {
    "Sum": Sum, "Mean": Mean, "StdDev": StdDev, "Max": Max, "Min": Min,
    "ArgMax": ArgMax, "ArgMin": ArgMin, "ArgSort": ArgSort, "Sort": Sort,
    "Reverse": Reverse, "Nonzero": Nonzero, "Take": Take, "Any": Any_, "All": All_,
    "Where": Where, "size": size, "Length": size, "abs": abs_, "fabs": fabs,
    "sqrt": _math(np.sqrt), "exp": _math(np.exp), "log": _math(np.log),
    "log10": _math(np.log10), "log2": _math(np.log2), "sin": _math(np.sin),
    "cos": _math(np.cos), "tan": _math(np.tan), "asin": _math(np.arcsin),
    "acos": _math(np.arccos), "atan": _math(np.arctan), "sinh": _math(np.sinh),
    "cosh": _math(np.cosh), "tanh": _math(np.tanh), "asinh": _math(np.arcsinh),
    "acosh": _math(np.arccosh), "atanh": _math(np.arctanh), "floor": _math(np.floor),
    "ceil": _math(np.ceil), "round": _round,
    "pow": _math2(np.power), "atan2": _math2(np.arctan2), "hypot": _math2(np.hypot),
    "max": _minmax(np.maximum), "min": _minmax(np.minimum),
    "DeltaPhi": DeltaPhi, "DeltaR": DeltaR, "InvariantMass": InvariantMass,
    "InvariantMasses": InvariantMasses, "Combinations": Combinations,
}

__all__ = ["IMPLEMENTATIONS", "EvaluationFailure", "element", "f64", "take_elements"]
