"""Columnar implementations of the ROOT::VecOps functions, registered against the plan's table.

Per-event semantics follow ROOT: a collection argument is one RVec per event,
reductions give one value per event. Values are numpy arrays (one value per
event), awkward arrays (one list per event), numpy scalars (constants) or
`FourVector`s. Each implementation returns values of a convenient dtype; the
evaluator converts them to the exact C++ type the checker gave the call.

Every function of `hepflow.plan.expr.functions.FUNCTIONS` has exactly one
implementation here, registered with `@implements(name)`; importing this
module fails if the two sets differ.

`ArgMax`/`ArgMin` of an empty collection are 0, as ROOT's `std::distance` gives;
`Max`/`Min` of one (where ROOT dereferences `end()`) are an error naming the
event, unless `&&`/`?:` guard it.
Functions that build collections (`Take` with a default, `RVec<T>(n, v)`,
`Range`) refuse to create more than `MAX_ELEMENTS` elements in one chunk,
with an error naming the request, rather than exhausting memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import awkward as ak
import numpy as np

from hepflow.core.types import VECTOR_DTYPES, ColumnType, DType
from hepflow.engine import cmath, fourvector, lists, stdsort
from hepflow.engine.values import (
    EvaluationFailure,
    Value,
    as_dtype,
    as_type,
    f64,
    float_if_float,
    leaf_dtype,
)
from hepflow.plan.expr.functions import FUNCTIONS, VECTOR_METHODS

Impl = Callable[..., Value]
F = TypeVar("F", bound=Impl)
MAX_ELEMENTS: Final = 2**27  # elements one function may create in one chunk (1 GiB of doubles)


IMPLEMENTATIONS: dict[str, Impl] = {}
#: Functions that only look at a collection's shape: on 4-vectors, one coordinate stands in.
SHAPE_ONLY: Final = frozenset({"size", "Length", "Enumerate", "Combinations"})
#: Functions that move a collection's elements: on 4-vectors, applied to each coordinate.
PER_COORDINATE: Final = frozenset({"Take", "Drop", "Reverse"})
ON_VECTORS: Final = SHAPE_ONLY | PER_COORDINATE
TYPED: set[str] = set()  # implementations called with the result type first
#: Implementations that work element by element (on numpy as on awkward arrays): the
#: evaluator runs them on the flat contents of aligned collections (`engine/lists.py`).
ELEMENTWISE: set[str] = set()


def implements(*names: str, typed: bool = False,
               elementwise: bool = False) -> Callable[[F], F]:
    """Register `func` as the implementation of the table's `names`."""
    def register(func: F) -> F:
        for name in names:
            if name not in FUNCTIONS:
                raise RuntimeError(f"vecops implements {name!r}, which the function table "
                                   "(hepflow.plan.expr.functions) does not declare")
            if name in IMPLEMENTATIONS:
                raise RuntimeError(f"vecops implements {name!r} twice")
            IMPLEMENTATIONS[name] = func
            if typed:
                TYPED.add(name)
            if elementwise:
                ELEMENTWISE.add(name)
        return func
    return register


def guard_elements(total: int, what: str) -> None:
    """Refuse to build more than MAX_ELEMENTS elements in one chunk."""
    if total > MAX_ELEMENTS:
        raise EvaluationFailure(f"{what} would create {total:,} elements in this chunk, more "
                                f"than the limit of {MAX_ELEMENTS:,}; check its size argument")


def _reduce_fill(result: Any, fill: float | int, dtype: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.fill_none(result, fill)), dtype=dtype)


def _sum_ready(v: ak.Array) -> ak.Array:
    """Elements as the accumulator type: bool/short to int64; floats stay as they are
    (ROOT's Sum of RVec<float> adds in float, in order, as awkward's reducer does)."""
    dtype = leaf_dtype(v)
    if dtype is not None and (dtype == np.bool_ or np.issubdtype(dtype, np.integer)):
        return ak.values_astype(v, np.uint64 if dtype == np.uint64 else np.int64)
    return v


@implements("Sum")
def Sum(v: ak.Array) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(ak.to_numpy(ak.sum(_sum_ready(v), axis=1)))


@implements("Product")
def Product(v: ak.Array) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(ak.to_numpy(ak.prod(_sum_ready(v), axis=1)))


@implements("Mean")
def Mean(v: ak.Array) -> np.ndarray:
    """ROOT's `double(Sum(v)) / v.size()`: the sum in the element type, then double."""
    total = f64(Sum(v))
    count = size(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


@implements("StdDev")
def StdDev(v: ak.Array) -> np.ndarray:
    """ROOT's `sqrt(Var(v))`: sums of x and x*x in the element type, then in double
    `(sum_squares - sum*sum / n) / (n - 1)`; 0 below two elements."""
    v = _sum_ready(v)
    count = size(v).astype(np.float64)
    with np.errstate(all="ignore"):  # inf - inf: NaN, quietly
        squares = f64(Sum(v * v))
        total = Sum(v)
        total = f64(total * total)
        var = 1.0 / (count - 1.0) * (squares - total / count)
        return np.where(count > 1, np.sqrt(var), 0.0)


def _extreme(reducer: Callable[..., Any], v: ak.Array, name: str) -> np.ndarray:
    """Max/Min in the element type (ROOT returns T). ROOT dereferences `end()` for an
    empty collection, so that is an error here (`&&` and `?:` guard it)."""
    counts = size(v)
    if not counts.all():
        first = int(np.flatnonzero(counts == 0)[0])
        raise EvaluationFailure(
            f"{name} of an empty collection (event {first} of this chunk), which ROOT leaves "
            f"undefined; guard it, e.g. `v.size() > 0 ? {name}(v) : 0` or "
            f"`v.size() > 0 && {name}(v) > x`")
    dtype = leaf_dtype(v) or np.dtype(np.float64)
    return _reduce_fill(reducer(v, axis=1), 0, dtype)


@implements("Max")
def Max(v: ak.Array) -> np.ndarray:
    return _extreme(ak.max, v, "Max")


@implements("Min")
def Min(v: ak.Array) -> np.ndarray:
    return _extreme(ak.min, v, "Min")


@implements("ArgMax")
def ArgMax(v: ak.Array) -> np.ndarray:
    """ROOT's `std::distance(begin, max_element(...))`: the first largest, 0 when empty."""
    return _reduce_fill(ak.argmax(v, axis=1), 0, np.uint64)


@implements("ArgMin")
def ArgMin(v: ak.Array) -> np.ndarray:
    return _reduce_fill(ak.argmin(v, axis=1), 0, np.uint64)


@implements("Argsort")
def Argsort(v: ak.Array) -> ak.Array:
    """ROOT's Argsort: `std::sort` of the positions by `v[i] < v[j]`, in libstdc++'s order
    of ties (not stable beyond 16 elements; `engine/stdsort.py`)."""
    offsets, flat = _flat_of(v)
    return lists.wrap(offsets, stdsort.argsort(offsets, flat))


@implements("StableArgsort")
def StableArgsort(v: ak.Array) -> ak.Array:
    return ak.argsort(v, axis=1, stable=True)


@implements("Sort")
def Sort(v: ak.Array) -> ak.Array:
    """ROOT's Sort: `std::sort` of the values, the same permutation as Argsort's."""
    offsets, flat = _flat_of(v)
    order = stdsort.argsort(offsets, flat).astype(np.int64)
    return lists.wrap(offsets, flat[order + np.repeat(offsets[:-1], np.diff(offsets))])


@implements("StableSort")
def StableSort(v: ak.Array) -> ak.Array:
    return ak.sort(v, axis=1, stable=True)


def _flat_of(v: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """The int64 offsets (from 0) and flat numpy contents of a collection of numbers."""
    found = lists.parts(v)
    if found is not None:
        return found
    counts = size(v)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, np.asarray(ak.to_numpy(ak.flatten(v, axis=1)))


@implements("Reverse")
def Reverse(v: ak.Array) -> ak.Array:
    return v[:, ::-1]


@implements("Nonzero")
def Nonzero(v: ak.Array) -> ak.Array:
    return ak.local_index(v, axis=1)[v != 0]


@implements("Enumerate")
def Enumerate(v: ak.Array) -> ak.Array:
    return ak.local_index(v, axis=1)


@implements("Any")
def Any_(v: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.any(v != 0, axis=1)), dtype=bool)


@implements("All")
def All_(v: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.all(v != 0, axis=1)), dtype=bool)


@implements("size", "Length")
def size(v: ak.Array) -> np.ndarray:
    offsets = _list_offsets(v)
    if offsets is not None:
        return np.diff(offsets)
    return np.asarray(ak.to_numpy(ak.num(v, axis=1)), dtype=np.int64)


def _list_offsets(v: Value) -> np.ndarray | None:
    """The int64 offsets of a plain list array (what the reader and filters produce)."""
    layout = getattr(v, "layout", None)
    if isinstance(layout, ak.contents.ListOffsetArray) and not layout.parameters:
        offsets = np.asarray(layout.offsets.data)
        if offsets.dtype == np.int64:
            return offsets
    return None


@implements("Where", typed=True, elementwise=True)
def Where(out: ColumnType, cond: ak.Array, a: Value, b: Value) -> ak.Array:
    """Both choices in the result type first: int32 meeting uint64 must not go via double."""
    if not any(isinstance(x, ak.Array) for x in (cond, a, b)):
        return np.where(np.asarray(cond) != 0, as_type(a, out), as_type(b, out))
    return ak.where(cond != 0, as_type(a, out), as_type(b, out))


def _counts(n: Value, length: int, what: str) -> np.ndarray:
    """Per-event element counts from a per-event size; refuses absurd totals."""
    counts = np.broadcast_to(np.asarray(n, dtype=np.int64), (length,))
    if counts.size:
        guard_elements(int(np.abs(counts).astype(np.float64).sum()), what)
    return counts


def _ragged(values: np.ndarray, counts: np.ndarray) -> ak.Array:
    return ak.unflatten(values, counts)


@implements("Take", typed=True)
def Take(out: ColumnType, v: ak.Array, idx: Value, default: Value = None) -> ak.Array:
    """ROOT's Take: by indices, or the first (n > 0) / last (n < 0) n elements.

    Without a default, asking for more elements than an event has fails. With
    one, missing elements are the default (placed first for n < 0, as in ROOT).
    `n` and the default may differ from event to event.
    """
    if default is not None:
        v, default = as_type(v, out), as_type(default, out)
    if isinstance(idx, ak.Array):
        if leaf_dtype(idx) == np.bool_:
            return v[idx]
        if default is None:
            return take_elements(v, idx)
        return _take_or_default(v, as_dtype(idx, np.dtype(np.int64)), default)
    # ROOT's Take(v, const int n): n converts to int
    n = _counts(as_dtype(as_dtype(idx, np.dtype(np.int32)), np.dtype(np.int64)), len(v),
                f"Take(v, {_shown(idx)})")
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
    k = ak.local_index(_ragged(np.zeros(int(absn.sum()), np.int8), absn), axis=1)
    src = ak.where(n >= 0, k, k + (counts - absn))
    if default is None:
        return v[src]
    return _take_or_default(v, src, default)


def _shown(x: Value) -> str:
    if isinstance(x, np.ndarray):
        return "n" if x.size != 1 else str(x.reshape(-1)[0])
    return str(x)


def _take_or_default(v: ak.Array, src: ak.Array, default: Value) -> ak.Array:
    """`v[src]` per event, with `default` where an index is out of range."""
    valid = (src >= 0) & (src < size(v))
    v_bool = leaf_dtype(v) == np.bool_
    d_bool = np.asarray(default).dtype == np.bool_
    if v_bool != d_bool:  # bool meets a number: both become numbers, as in C++
        v = ak.values_astype(v, np.int64) if v_bool else v
        default = np.asarray(default, dtype=np.int64) if d_bool else default
    zero = np.zeros((), dtype=leaf_dtype(v) or np.float64)[()]  # keeps uint64 off double
    picked = ak.fill_none(v[ak.mask(src, valid)], zero)
    return ak.where(valid, picked, default)


def take_elements(v: ak.Array, idx: ak.Array) -> ak.Array:
    """`v[idx]` per event with C++-style bounds checking (no negative wrap-around)."""
    flat = lists.take(v, idx)
    if flat is not None:
        return flat
    counts = size(v)
    idx = as_dtype(idx, np.dtype(np.int64))  # a size_t past 2^63 is past the end anyway
    bad = ak.any((idx < 0) | (idx >= counts[:, np.newaxis]), axis=1)
    bad_np = np.asarray(ak.to_numpy(ak.fill_none(bad, False)))
    if bad_np.any():
        first = int(np.flatnonzero(bad_np)[0])
        raise EvaluationFailure(
            f"index {ak.to_list(idx[first])} out of range for a collection of "
            f"{int(counts[first])} elements (event {first} of this chunk)")
    return v[idx]


_TRUTH = lists.Memo()


def mask(v: ak.Array, conds: ak.Array) -> ak.Array:
    """`v[conds]` as ROOT's `RVec::operator[](const RVec<V>&)`: the elements where `conds`
    is nonzero (any boolean, integer or floating collection), which must be as long as `v` in
    every event."""
    if leaf_dtype(conds) != np.bool_:  # ROOT's comparisons give RVec<int>: one test per
        found = lists.parts(conds)        # array, shared by the columns it selects from
        flat = None if found is None else _TRUTH.get(found, lambda: lists.wrap(
            found[0], found[1] != 0))
        conds = conds != 0 if flat is None else flat
    selected = lists.select(v, conds)
    if selected is not None:
        return selected
    counts, ncond = size(v), size(conds)
    if not np.array_equal(counts, ncond):
        first = int(np.flatnonzero(counts != ncond)[0])
        raise EvaluationFailure(
            f"cannot index a collection of {int(counts[first])} elements with a mask of "
            f"{int(ncond[first])} (event {first} of this chunk): ROOT's v[mask] needs "
            "equally long collections (Take(v, indices) takes positions)")
    return v[conds]


def element(v: ak.Array, idx: Value) -> np.ndarray:
    """`v[i]` per event: one element each, failing loudly when an event is too short."""
    counts = size(v)
    raw = np.asarray(idx)
    if raw.dtype == np.uint64:  # a size_t index past 2^63 is past the end of anything
        raw = np.where(raw > np.uint64(2**62), np.uint64(2**62), raw)
    index = np.broadcast_to(raw.astype(np.int64), counts.shape)
    bad = (index < 0) | (index >= counts)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvaluationFailure(
            f"index {np.asarray(idx).reshape(-1)[0] if raw.size == 1 else int(index[first])} "
            f"out of range in an event with {int(counts[first])} elements (event {first} of "
            "this chunk); guard it, e.g. `n > i && v[i] ...`")
    # position in the flattened content; valid for any list layout, also after a subset
    content = ak.to_numpy(ak.flatten(v, axis=1))
    return np.asarray(content[np.cumsum(counts) - counts + index])


@implements("Drop")
def Drop(v: ak.Array, idx: ak.Array) -> ak.Array:
    """ROOT's Drop: `v` without the elements at `idx`; out-of-range and repeated
    indices are ignored."""
    counts = size(v)
    starts = np.cumsum(counts) - counts
    idx = as_dtype(idx, np.dtype(np.int64))
    valid = (idx >= 0) & (idx < counts[:, np.newaxis])
    positions = np.asarray(ak.to_numpy(ak.flatten((idx + starts)[valid], axis=1)),
                           dtype=np.int64)
    keep = np.ones(int(counts.sum()), dtype=bool)
    keep[positions] = False
    event = np.repeat(np.arange(counts.size), counts)
    flat = ak.flatten(v, axis=1)[keep]
    return _ragged(ak.to_numpy(flat), np.bincount(event[keep], minlength=counts.size))


@implements("Concatenate", typed=True)
def Concatenate(out: ColumnType, a: ak.Array, b: ak.Array) -> ak.Array:
    return ak.concatenate([as_type(a, out), as_type(b, out)], axis=1)


@implements("Intersect")
def Intersect(a: ak.Array, b: ak.Array) -> ak.Array:
    """Elements of `a` also found in `b`, in `a`'s order (duplicates of `a` kept)."""
    pairs = ak.cartesian([float_if_float(a), float_if_float(b)], axis=1, nested=True)
    found = ak.any(pairs["0"] == pairs["1"], axis=2)
    return a[ak.fill_none(found, False)]


@implements("Dot")
def Dot(a: ak.Array, b: ak.Array) -> np.ndarray:
    if not np.array_equal(size(a), size(b)):
        raise EvaluationFailure("Dot: the two collections differ in size in some events")
    left, right = _sum_ready(a), _sum_ready(b)
    kinds = {leaf_dtype(left), leaf_dtype(right)}
    if kinds == {np.dtype(np.uint64), np.dtype(np.int64)}:
        # long with unsigned long is unsigned long in C++ (numpy would go to double)
        left, right = (ak.values_astype(v, np.uint64) for v in (left, right))
    with np.errstate(over="ignore", invalid="ignore"):  # 0 * inf is NaN, quietly, as in C++
        products = left * right
    return Sum(products)


@implements("Range")
def Range(*args: Value) -> ak.Array:
    """Range(n) is 0..n-1; Range(begin, end[, stride]) steps from begin towards end."""
    if len(args) == 1:
        begin: Value = np.int64(0)
        end = as_dtype(args[0], np.dtype(np.uint64))
        stride: Value = np.int64(1)
        end = np.where(end > np.uint64(2**62), 2**62, end).astype(np.int64)
    else:
        begin, end = (as_dtype(a, np.dtype(np.int64)) for a in args[:2])
        stride = as_dtype(args[2], np.dtype(np.int64)) if len(args) == 3 else np.int64(1)
    if np.any(np.asarray(stride) == 0):
        raise EvaluationFailure("Range: the stride must not be zero")
    with np.errstate(all="ignore"):
        span = np.asarray(end, dtype=np.float64) - np.asarray(begin, dtype=np.float64)
        count = np.maximum(np.ceil(span / np.asarray(stride, dtype=np.float64)), 0)
    length = max((np.size(x) for x in (begin, end, stride)), default=1)
    count = np.broadcast_to(count, (length,))
    guard_elements(int(count.sum()), "Range")
    counts = count.astype(np.int64)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    event = np.repeat(np.arange(length), counts)
    first = np.broadcast_to(np.asarray(begin, dtype=np.int64), (length,))[event]
    step = np.broadcast_to(np.asarray(stride, dtype=np.int64), (length,))[event]
    return _ragged(first + step * k, counts)


@implements("RVec", typed=True)
def RVec(out: ColumnType, n: Value, value: Value = None) -> ak.Array:
    """`RVec<T>(n, value)`: n copies of value (T's zero without one) per event."""
    raw = as_dtype(n, np.dtype(np.uint64))
    length = np.size(raw)
    counts = np.minimum(np.asarray(raw, dtype=np.float64), 2.0**62)
    guard_elements(int(counts.sum()), "RVec(n, value)")
    counts = counts.astype(np.int64).reshape(-1)
    fill = np.zeros(1, out.numpy) if value is None else as_dtype(value, out.numpy)
    values = np.repeat(np.broadcast_to(np.asarray(fill, dtype=out.numpy), (length,)), counts)
    return _ragged(values, counts)


@implements("abs", elementwise=True)
def abs_(x: Value) -> Value:
    with np.errstate(over="ignore"):
        return np.abs(x)


@implements("fabs", elementwise=True)
def fabs(x: Value) -> Value:
    return np.abs(x if cmath.is_float(x) else f64(x))


def _round(x: Value) -> Value:
    """std::round: halfway cases away from zero (floor(|x| + 0.5) is wrong near 0.5);
    exact in double, so a float's result is the same after conversion back."""
    x = f64(x)
    whole = np.floor(np.abs(x))
    with np.errstate(invalid="ignore"):  # round(inf) is inf, quietly
        return np.copysign(whole + (np.abs(x) - whole >= 0.5), x)


def _common(*values: Value) -> np.dtype:
    """ROOT::VecOps' `Common_t` of floating arguments: float if all are floats, else
    double (integers, which ROOT refuses here, as double)."""
    if all(cmath.is_float(v) for v in values):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _delta_phi(a: Value, b: Value, common: np.dtype) -> Value:
    """ROOT's `DeltaPhi(v1, v2, c)`: `fmod(v2 - v1, 2.0 * c)` with `c = Common_t(M_PI)`;
    `2.0 * c` is a double, so the remainder and the wrapping are done in double and the
    result converts back to Common_t."""
    c = float(np.asarray(np.pi, dtype=common))
    with np.errstate(all="ignore"):  # an infinite angle gives NaN, quietly
        r = np.fmod(f64(as_dtype(b, common) - as_dtype(a, common)), 2.0 * c)
        r = r + (r < -c) * (2.0 * c) - (r > c) * (2.0 * c)
    return as_dtype(r, common)


@implements("DeltaPhi", elementwise=True)
def DeltaPhi(a: Value, b: Value) -> Value:
    """The signed angle from a to b in [-pi, pi], as ROOT::VecOps::DeltaPhi."""
    return _delta_phi(a, b, _common(a, b))


@implements("DeltaR2", elementwise=True)
def DeltaR2(eta1: Value, eta2: Value, phi1: Value, phi2: Value) -> Value:
    """`(eta1 - eta2)^2 + dphi^2` in ROOT's Common_t of the four."""
    common = _common(eta1, eta2, phi1, phi2)
    dphi = _delta_phi(phi1, phi2, common)
    deta = as_dtype(eta1, common) - as_dtype(eta2, common)
    with np.errstate(invalid="ignore", over="ignore"):
        return deta * deta + dphi * dphi


@implements("DeltaR", elementwise=True)
def DeltaR(eta1: Value, eta2: Value, phi1: Value, phi2: Value) -> Value:
    with np.errstate(invalid="ignore"):
        return np.sqrt(DeltaR2(eta1, eta2, phi1, phi2))


def cartesian(pt: Value, eta: Value, phi: Value, mass: Value,
              common: np.dtype | None = None) -> tuple[Value, ...]:
    """(x, y, z, e) as ROOT::VecOps computes them: `pt * cos(phi)`, ..., in Common_t
    (float for float inputs, with the C library's float functions)."""
    common = _common(pt, eta, phi, mass) if common is None else common
    pt, eta, phi, mass = (as_dtype(c, common) for c in (pt, eta, phi, mass))
    with np.errstate(all="ignore"):
        x = pt * cmath.call("cos", phi)
        y = pt * cmath.call("sin", phi)
        z = pt * cmath.call("sinh", eta)
        e = cmath.call("sqrt", x * x + y * y + z * z + mass * mass)
    return x, y, z, e


def _flat_collections(arrays: Sequence[ak.Array], name: str) -> tuple[list[np.ndarray],
                                                                         np.ndarray]:
    """Flat contents of equally sized collections (in ROOT's Common_t of their element
    types), and the per-event sizes.

    Collections sharing one offsets array (read from one counter branch, or
    narrowed by the same filter) are equally sized without comparing counts."""
    offsets = _list_offsets(arrays[0])
    counts = size(arrays[0])
    common = _common(*arrays)
    flats = []
    for array in arrays:
        shared = offsets is not None and _list_offsets(array) is offsets
        if not shared and not np.array_equal(size(array), counts):
            raise EvaluationFailure(f"{name}: the collections differ in size in some events")
        flats.append(np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=common))
    return flats, counts


@implements("InvariantMass")
def InvariantMass(pt: ak.Array, eta: ak.Array, phi: ak.Array, mass: ak.Array) -> np.ndarray:
    """Mass of the sum of all four-vectors of each event's collection, as ROOT's loop:
    in Common_t (float for RVec<float>), the sums in element order.

    Computed on the flat contents (one pass of ufuncs) and summed per event
    with awkward's reducer, which adds each event's elements in order in the
    values' type; ragged awkward arithmetic would realign the collections at
    every step.
    """
    (fpt, feta, fphi, fmass), counts = _flat_collections((pt, eta, phi, mass), "InvariantMass")
    x, y, z, e = cartesian(fpt, feta, fphi, fmass, fpt.dtype)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    sx, sy, sz, se = (np.asarray(ak.to_numpy(ak.sum(lists.wrap(offsets, c), axis=1)),
                                 dtype=fpt.dtype) for c in (x, y, z, e))
    with np.errstate(invalid="ignore"):
        return np.asarray(cmath.call("sqrt", se * se - sx * sx - sy * sy - sz * sz))


def _angle(x1: Value, y1: Value, z1: Value, x2: Value, y2: Value, z2: Value) -> Value:
    """ROOT::VecOps::Angle: atan2(|p1 x p2|, p1 . p2)."""
    cx = y1 * z2 - y2 * z1
    cy = x1 * z2 - x2 * z1
    cz = x1 * y2 - x2 * y1
    c = cmath.call("sqrt", cx * cx + cy * cy + cz * cz)
    d = x1 * x2 + y1 * y2 + z1 * z2
    return cmath.call("atan2", c, d)


def _pair_masses(x1: np.ndarray, y1: np.ndarray, z1: np.ndarray, m1: np.ndarray,
                 x2: np.ndarray, y2: np.ndarray, z2: np.ndarray, m2: np.ndarray
                 ) -> np.ndarray:
    """ROOT's InvariantMasses_PxPyPzM, branch for branch, on flat arrays of one dtype
    (its numerically stable form: the opening angle instead of E1 E2 - p1 . p2)."""
    one = np.ones((), dtype=x1.dtype)
    with np.errstate(all="ignore"):
        p1 = x1 * x1 + y1 * y1 + z1 * z1
        p2 = x2 * x2 + y2 * y2 + z2 * z2

        def at_rest(m_rest: np.ndarray, m: np.ndarray, p: np.ndarray) -> np.ndarray:
            mm = m_rest + cmath.call("sqrt", m * m + p)
            sq = mm * mm - p
            return np.asarray(cmath.call("sqrt", np.where(sq >= 0, sq, -sq)))

        m1sq, m2sq = m1 * m1, m2 * m2
        r1, r2 = m1sq / p1, m2sq / p2
        x = r1 + r2 + r1 * r2
        a = _angle(x1, y1, z1, x2, y2, z2)
        cos_a = cmath.call("cos", a)
        sin_a = cmath.call("sin", a)
        root = cmath.call("sqrt", x + one)
        y = np.where(cos_a >= 0, (x + sin_a * sin_a) / (root + cos_a), root - cos_a)
        z = (2 * one) * cmath.call("sqrt", p1 * p2)
        moving = cmath.call("sqrt", m1sq + m2sq + y * z)
        out = np.where(p2 <= 0, at_rest(m2, m1, p1), moving)
        out = np.where(p1 <= 0, at_rest(m1, m2, p2), out)
        return np.asarray(np.where((p1 <= 0) & (p2 <= 0), m1 + m2, out), dtype=x1.dtype)


@implements("InvariantMasses")
def InvariantMasses(pt1: Value, eta1: Value, phi1: Value, mass1: Value,
                    pt2: Value, eta2: Value, phi2: Value, mass2: Value) -> ak.Array:
    """Element-wise pair masses of two equally long collections, as ROOT 6.40 computes
    them (InvariantMasses_PxPyPzM, in Common_t)."""
    flats, counts = _flat_collections((pt1, eta1, phi1, mass1, pt2, eta2, phi2, mass2),
                                      "InvariantMasses")
    common = flats[0].dtype
    x1, y1, z1, _ = cartesian(flats[0], flats[1], flats[2], flats[3], common)
    x2, y2, z2, _ = cartesian(flats[4], flats[5], flats[6], flats[7], common)
    return _ragged(_pair_masses(x1, y1, z1, flats[3], x2, y2, z2, flats[7]), counts)


@implements("Combinations")
def Combinations(v: ak.Array, second: Value) -> ak.Array:
    if isinstance(second, ak.Array):
        return ak.argcartesian([v, second], axis=1)
    fast = lists.combinations(v, int(second), guard_elements)
    return ak.argcombinations(v, int(second), axis=1) if fast is None else fast


def _math(name: str) -> Impl:
    """`std::name`: the C library's float function for floats, double otherwise."""
    def apply(*args: Value) -> Value:
        return cmath.call(name, *args)
    return apply


def _minmax(larger: bool) -> Impl:
    """std::max/min on both values converted to their common type first, as libstdc++
    writes them: max is `(a < b) ? b : a`, min `(b < a) ? b : a`. So a NaN first argument
    is returned and a NaN second one is not, and max(0., -0.) is 0. (numpy's maximum
    propagates every NaN and may return either zero)."""
    def apply(out: ColumnType, a: Value, b: Value) -> Value:
        x, y = as_type(a, out), as_type(b, out)
        return np.where(x < y, y, x) if larger else np.where(y < x, y, x)
    return apply


for _name in sorted(cmath.NAMES):
    implements(_name, elementwise=True)(_math(_name))
implements("round", elementwise=True)(_round)
implements("max", typed=True, elementwise=True)(_minmax(larger=True))
implements("min", typed=True, elementwise=True)(_minmax(larger=False))


def _construct(out: ColumnType, *coords: Any) -> fourvector.FourVector:
    """`Construct<V>(pt, eta, phi, m)`, or `Construct<V>(w)` of a collection of vectors
    (each converted, as `V(w[i])`)."""
    if len(coords) == 1:
        return fourvector.convert(out.dtype, coords[0])
    return fourvector.construct(out.dtype, *coords)


def _vector(system: DType) -> Impl:
    def build(*coords: Value) -> fourvector.FourVector:
        return fourvector.new(system, *coords)
    return build


implements("Construct", typed=True)(_construct)
for _system in VECTOR_DTYPES:
    implements(_system)(_vector(_system))
for _method in VECTOR_METHODS:
    implements("." + _method)(fourvector.method(_method))

_UNIMPLEMENTED = sorted(set(FUNCTIONS) - set(IMPLEMENTATIONS))
if _UNIMPLEMENTED:  # the table and the engine must agree; fail at import, not mid-run
    raise RuntimeError("functions declared in hepflow.plan.expr.functions without an "
                       f"implementation in hepflow.engine.vecops: {', '.join(_UNIMPLEMENTED)}")

__all__ = ["ELEMENTWISE", "IMPLEMENTATIONS", "MAX_ELEMENTS", "ON_VECTORS", "PER_COORDINATE",
           "SHAPE_ONLY", "TYPED", "EvaluationFailure",
           "Impl", "Value", "as_dtype", "as_type", "element", "f64", "float_if_float",
           "guard_elements", "implements", "leaf_dtype", "mask", "take_elements"]
