"""C's <cmath> as C++ calls it: `std::sin(float)` is the C library's `sinf`.

C++ picks the `float` overload of a math function when every argument is a
float, so ROOT computes `sin(Muon_phi)` of an RVec<float> with glibc's `sinf`
and gets a float. numpy's float32 ufuncs use their own SIMD approximations,
which differ from glibc's in the last bit for a few percent of inputs (and
computing in double then rounding differs too: glibc's `sinhf` is not
correctly rounded), so a physicist comparing bin for bin with ROOT would see
events move. Here the float overloads are the C library's own functions,
called from numba ufuncs (which lower `math.sin` on float32 to `sinf`),
built on first use and cached on disk by numba. Double arguments use numpy's
float64 ufuncs, as before.

`sqrt`, `floor`, `ceil`, `fabs` and `fmod` are exact in IEEE arithmetic, so
numpy's float32 versions already equal C's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import awkward as ak
import numpy as np

from hepflow.engine.values import f64, leaf_dtype


def _sin(x: float) -> float:
    return math.sin(x)


def _cos(x: float) -> float:
    return math.cos(x)


def _tan(x: float) -> float:
    return math.tan(x)


def _asin(x: float) -> float:
    return math.asin(x)


def _acos(x: float) -> float:
    return math.acos(x)


def _atan(x: float) -> float:
    return math.atan(x)


def _sinh(x: float) -> float:
    return math.sinh(x)


def _cosh(x: float) -> float:
    return math.cosh(x)


def _tanh(x: float) -> float:
    return math.tanh(x)


def _asinh(x: float) -> float:
    return math.asinh(x)


def _acosh(x: float) -> float:
    return math.acosh(x)


def _atanh(x: float) -> float:
    return math.atanh(x)


def _exp(x: float) -> float:
    return math.exp(x)


def _log(x: float) -> float:
    return math.log(x)


def _log10(x: float) -> float:
    return math.log10(x)


def _log2(x: float) -> float:
    return math.log2(x)


def _pow(x: float, y: float) -> float:
    return math.pow(x, y)


def _atan2(y: float, x: float) -> float:
    return math.atan2(y, x)


def _hypot(x: float, y: float) -> float:
    return math.hypot(x, y)


_FLOAT_KERNELS: Final[dict[str, Callable[..., float]]] = {
    "sin": _sin, "cos": _cos, "tan": _tan, "asin": _asin, "acos": _acos, "atan": _atan,
    "sinh": _sinh, "cosh": _cosh, "tanh": _tanh, "asinh": _asinh, "acosh": _acosh,
    "atanh": _atanh, "exp": _exp, "log": _log, "log10": _log10, "log2": _log2,
    "pow": _pow, "atan2": _atan2, "hypot": _hypot,
}
_DOUBLE: Final[dict[str, Callable[..., Any]]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "exp": np.exp,
    "log": np.log, "log10": np.log10, "log2": np.log2, "pow": np.power,
    "atan2": np.arctan2, "hypot": np.hypot, "sqrt": np.sqrt, "floor": np.floor,
    "ceil": np.ceil, "fmod": np.fmod,
}
_EXACT: Final = frozenset({"sqrt", "floor", "ceil", "fmod"})  # fmod's remainder is exact
_BUILT: dict[str, Any] = {}
NAMES: Final = frozenset(_DOUBLE)


def _float_ufunc(name: str) -> Any:
    """numba's ufunc of the C library's float function `name`, compiled once per process
    (and cached on disk)."""
    found = _BUILT.get(name)
    if found is None:
        import numba  # imported here: only expressions on floats need it

        kernel = _FLOAT_KERNELS[name]
        nargs = kernel.__code__.co_argcount
        signature = "float32(" + ", ".join(["float32"] * nargs) + ")"
        found = numba.vectorize([signature], cache=True)(kernel)
        _BUILT[name] = found
    return found


def is_float(x: Any) -> bool:
    """A C++ float: a float32 array, collection or constant."""
    if isinstance(x, ak.Array):
        return leaf_dtype(x) == np.float32
    return getattr(x, "dtype", None) == np.float32


def call(name: str, *args: Any) -> Any:
    """C++'s `std::name(args...)`: the float overload when every argument is a float,
    else double (an integer argument makes double, as C++11's extra overloads do)."""
    with np.errstate(all="ignore"):
        if all(is_float(a) for a in args):
            if name in _EXACT:
                return _DOUBLE[name](*args)
            return _float_ufunc(name)(*args)
        return _DOUBLE[name](*(f64(a) for a in args))


__all__ = ["NAMES", "call", "is_float"]
