"""ROOT::Math Lorentz vectors (PtEtaPhiMVector, PxPyPzEVector), column-wise.

A `FourVector` holds its native coordinates, as ROOT's LorentzVector does:
(pt, eta, phi, m) for PtEtaPhiMVector, (px, py, pz, E) for PxPyPzEVector. Each
coordinate is a per-event numpy array, a per-event collection (awkward) or a
constant. The formulas are ROOT's (GenVector's PtEtaPhiM4D and PxPyPzE4D),
so `.M()` of a constructed vector is exactly the mass it was given and the sum
of two vectors goes through Cartesian coordinates as `operator+` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import awkward as ak
import numpy as np

from hepflow.core.types import DType
from hepflow.engine.values import EvaluationFailure, Value, f64

_ETA_MAX: Final = 22756.0  # ROOT::Math::etaMax<double>()
_BIG_Z_SCALED: Final = float(np.finfo(np.float64).eps ** -0.25)


def _where(cond: Value, a: Value, b: Value) -> Value:
    if any(isinstance(x, ak.Array) for x in (cond, a, b)):
        return ak.where(cond, a, b)
    return np.where(cond, a, b)


@dataclass(frozen=True, slots=True)
class FourVector:
    """Lorentz vectors of one coordinate system; `coords` in that system's order."""

    system: DType  # "PtEtaPhiMVector" or "PxPyPzEVector"
    coords: tuple[Value, Value, Value, Value]

    def map(self, func: Callable[[Value], Value]) -> FourVector:
        return FourVector(self.system, (func(self.coords[0]), func(self.coords[1]),
                                        func(self.coords[2]), func(self.coords[3])))

    def __getitem__(self, index: Any) -> FourVector:
        """The vectors of some events (or elements): what a Frame's subset needs."""
        return self.map(lambda c: c if not isinstance(c, ak.Array) and np.ndim(c) == 0
                        else c[index])

    def __len__(self) -> int:
        return len(self.coords[0])

    # ---- ROOT's accessors

    def cartesian(self) -> tuple[Value, Value, Value, Value]:
        """(x, y, z, t) as LorentzVector::X(), Y(), Z(), T()."""
        if self.system == "PxPyPzEVector":
            return self.coords
        pt, eta, phi, _ = self.coords
        with np.errstate(all="ignore"):
            return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), self.E()

    def Pt(self) -> Value:
        if self.system == "PtEtaPhiMVector":
            return self.coords[0]
        x, y, _, _ = self.coords
        with np.errstate(all="ignore"):
            return np.sqrt(x * x + y * y)

    def Eta(self) -> Value:
        if self.system == "PtEtaPhiMVector":
            return self.coords[1]
        return _eta_from_rho_z(self.Pt(), self.coords[2])

    def Phi(self) -> Value:
        if self.system == "PtEtaPhiMVector":
            return self.coords[2]
        x, y, _, _ = self.coords
        with np.errstate(all="ignore"):
            return _where((x == 0) & (y == 0), 0.0, np.arctan2(y, x))

    def M(self) -> Value:
        if self.system == "PtEtaPhiMVector":
            return self.coords[3]
        x, y, z, t = self.coords
        with np.errstate(all="ignore"):
            mm = t * t - x * x - y * y - z * z
            return _where(mm >= 0, np.sqrt(np.abs(mm)), -np.sqrt(np.abs(mm)))

    def P(self) -> Value:
        with np.errstate(all="ignore"):
            if self.system == "PtEtaPhiMVector":
                return self.coords[0] * np.cosh(self.coords[1])
            x, y, z, _ = self.coords
            return np.sqrt(x * x + y * y + z * z)

    def E(self) -> Value:
        if self.system == "PxPyPzEVector":
            return self.coords[3]
        m = self.coords[3]
        with np.errstate(all="ignore"):
            p = self.P()
            e2 = p * p + _where(m >= 0, m * m, -m * m)
            return np.sqrt(_where(e2 > 0, e2, 0.0))

    def Px(self) -> Value:
        return self.cartesian()[0]

    def Py(self) -> Value:
        return self.cartesian()[1]

    def Pz(self) -> Value:
        return self.cartesian()[2]

    def Rapidity(self) -> Value:
        e, pz = self.E(), self.Pz()
        with np.errstate(all="ignore"):
            return 0.5 * np.log((e + pz) / (e - pz))

    def combine(self, other: FourVector, sign: float) -> FourVector:
        """`self + other` (sign 1) or `self - other` (-1), in self's coordinate system."""
        a, b = self.cartesian(), other.cartesian()
        with np.errstate(all="ignore"):
            x, y, z, t = (a[i] + sign * b[i] for i in range(4))
        return from_cartesian(self.system, x, y, z, t)


def _eta_from_rho_z(rho: Value, z: Value) -> Value:
    """GenVector's Impl::Eta_FromRhoZ, branch for branch."""
    with np.errstate(all="ignore"):
        z_scaled = z / rho
        near = np.log(z_scaled + np.sqrt(z_scaled * z_scaled + 1.0))
        far = _where(z > 0, np.log(2.0 * z_scaled + 0.5 / z_scaled), -np.log(-2.0 * z_scaled))
        with_rho = _where(np.abs(z_scaled) < _BIG_Z_SCALED, near, far)
        on_axis = _where(z == 0, 0.0, _where(z > 0, z + _ETA_MAX, z - _ETA_MAX))
        return _where(rho > 0, with_rho, on_axis)


def from_cartesian(system: DType, x: Value, y: Value, z: Value, t: Value) -> FourVector:
    cart = FourVector("PxPyPzEVector", (x, y, z, t))
    if system == "PxPyPzEVector":
        return cart
    return FourVector(system, (cart.Pt(), cart.Eta(), cart.Phi(), cart.M()))


def new(system: DType, *coords: Value) -> FourVector:
    """`ROOT::Math::PtEtaPhiMVector(pt, eta, phi, m)` on per-event values or collections
    (each element then is one vector)."""
    values = [f64(c) for c in coords]
    if any(isinstance(v, ak.Array) for v in values):
        arrays = [i for i, v in enumerate(values) if isinstance(v, ak.Array) or np.ndim(v)]
        spread = ak.broadcast_arrays(*[ak.Array(values[i]) if not isinstance(values[i], ak.Array)
                                       else values[i] for i in arrays])
        for i, v in zip(arrays, spread, strict=True):
            values[i] = v
    return FourVector(system, (values[0], values[1], values[2], values[3]))


def construct(system: DType, *coords: ak.Array) -> FourVector:
    """`ROOT::VecOps::Construct<V>(a, b, c, d)`: one vector per element; sizes must agree."""
    counts = ak.to_numpy(ak.num(coords[0], axis=1))
    for c in coords[1:]:
        if not np.array_equal(ak.to_numpy(ak.num(c, axis=1)), counts):
            raise EvaluationFailure("Construct: the collections differ in size in some events")
    return FourVector(system, (f64(coords[0]), f64(coords[1]), f64(coords[2]),
                               f64(coords[3])))


def method(name: str) -> Callable[[FourVector], Value]:
    def apply(v: FourVector) -> Value:
        result: Value = getattr(v, name)()
        return result
    return apply


__all__ = ["FourVector", "construct", "from_cartesian", "method", "new"]
