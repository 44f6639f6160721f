"""ROOT::Math Lorentz vectors (PtEtaPhiMVector, PtEtaPhiEVector, PxPyPzEVector,
PxPyPzMVector), column-wise.

A `FourVector` holds its native coordinates, as ROOT's LorentzVector does:
(pt, eta, phi, m) for PtEtaPhiMVector, (pt, eta, phi, E) for PtEtaPhiEVector,
(px, py, pz, E) for PxPyPzEVector and (px, py, pz, m) for PxPyPzMVector. Each
coordinate is a per-event numpy array, a per-event collection (awkward) or a
constant. One `CoordinateSystem` object per system carries GenVector's formulas
(PtEtaPhiM4D, PtEtaPhiE4D, PxPyPzE4D, PxPyPzM4D), branch
for branch: `.M()` of a constructed PtEtaPhiMVector is the mass it was given (or
-P where ROOT's constructor corrects an unphysical negative mass), `.M()` of a
space-like vector is negative, the constructors wrap phi into (-pi, pi], and the
sum of two vectors goes through Cartesian coordinates as `operator+` does, in the
left operand's system.
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
_PI: Final = float(np.pi)

Coords = tuple[Value, Value, Value, Value]


def _where(cond: Value, a: Value, b: Value) -> Value:
    """`cond ? a : b` on values of any mix of shapes (a constant coordinate of vectors
    built on collections stays a constant: awkward takes no 0-d array)."""
    if any(isinstance(x, ak.Array) for x in (cond, a, b)):
        if not isinstance(cond, ak.Array) and np.ndim(cond) == 0:
            return a if bool(cond) else b
        return ak.where(cond, *(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x
                                for x in (a, b)))
    return np.where(cond, a, b)


def _any(cond: Value) -> bool:
    """Whether any element is true: the constructors' corrections are rare, and skipping
    them where none applies keeps `Construct` as cheap as a type conversion."""
    return bool(ak.any(cond)) if isinstance(cond, ak.Array) else bool(np.any(cond))


def _all(cond: Value) -> bool:
    return bool(ak.all(cond)) if isinstance(cond, ak.Array) else bool(np.all(cond))


def _usually(cond: Value, common: Value, rare: Callable[[], Value]) -> Value:
    """`cond ? common : rare`, computing the rare branch (pt = 0, a vector on the beam
    axis) only where some element takes it."""
    return common if _all(cond) else _where(cond, common, rare())


def _signed_sqrt(mm: Value) -> Value:
    """GenVector's `mm >= 0 ? sqrt(mm) : -sqrt(-mm)` (M(), Mt() of tachyons)."""
    root = np.sqrt(np.abs(mm))
    return _where(mm >= 0, root, -root)


class CoordinateSystem:
    """One of GenVector's 4D coordinate systems: its accessors on its own coordinates.

    The base class holds what LorentzVector computes the same way for every system
    (Rapidity, Beta, Gamma) from the system's own E(), Pz(), P().
    """

    name: DType

    def restrict(self, c: Coords) -> Coords:
        """What ROOT's constructor does to the coordinates it is given."""
        return c

    def from_cartesian(self, x: Value, y: Value, z: Value, t: Value) -> Coords:
        """The coordinates `SetXYZT` stores (operator= from a PxPyPzE4D)."""
        raise NotImplementedError

    def converted(self, source: CoordinateSystem, c: Coords) -> Coords:
        """The coordinates this system's constructor from another system's vector stores
        (`PxPyPzMVector(p)` of a PtEtaPhiMVector p, what `Construct<V>(v)` does per
        element): GenVector's `explicit X4D(const CoordSystem &)`."""
        raise NotImplementedError

    def Pt(self, c: Coords) -> Value:
        raise NotImplementedError

    def Eta(self, c: Coords) -> Value:
        raise NotImplementedError

    def Phi(self, c: Coords) -> Value:
        raise NotImplementedError

    def M(self, c: Coords) -> Value:
        raise NotImplementedError

    def E(self, c: Coords) -> Value:
        raise NotImplementedError

    def P(self, c: Coords) -> Value:
        raise NotImplementedError

    def P2(self, c: Coords) -> Value:
        p = self.P(c)
        return p * p

    def Px(self, c: Coords) -> Value:
        raise NotImplementedError

    def Py(self, c: Coords) -> Value:
        raise NotImplementedError

    def Pz(self, c: Coords) -> Value:
        raise NotImplementedError

    def Theta(self, c: Coords) -> Value:
        raise NotImplementedError

    def Et(self, c: Coords) -> Value:
        raise NotImplementedError

    def Mt(self, c: Coords) -> Value:
        raise NotImplementedError

    def Rapidity(self, c: Coords) -> Value:
        e, pz = self.E(c), self.Pz(c)
        return 0.5 * np.log((e + pz) / (e - pz))

    def Beta(self, c: Coords) -> Value:
        e, p2 = self.E(c), self.P2(c)
        return _where(e == 0, _where(p2 == 0, 0.0, 1.0 / e), self.P(c) / e)

    def Gamma(self, c: Coords) -> Value:
        e, v2 = self.E(c), self.P2(c)
        t2 = e * e
        moving = _where(t2 < v2, 0.0, 1.0 / np.sqrt(1.0 - v2 / t2))
        return _where((e == 0) & (v2 == 0), 1.0, moving)

    def cartesian(self, c: Coords) -> Coords:
        """(x, y, z, t) as LorentzVector::X(), Y(), Z(), T()."""
        return self.Px(c), self.Py(c), self.Pz(c), self.E(c)


class _PtEtaPhi(CoordinateSystem):
    """What PtEtaPhiM4D and PtEtaPhiE4D share: pt, eta, phi and the momentum from them."""

    def restrict(self, c: Coords) -> Coords:
        phi = c[2]
        outside = (phi <= -_PI) | (phi > _PI)
        if not _any(outside):
            return c
        wrapped = phi - np.floor(phi / (2 * _PI) + 0.5) * 2 * _PI
        return c[0], c[1], _where(outside, wrapped, phi), c[3]

    def Pt(self, c: Coords) -> Value:
        return c[0]

    def Eta(self, c: Coords) -> Value:
        return c[1]

    def Phi(self, c: Coords) -> Value:
        return c[2]

    def Px(self, c: Coords) -> Value:
        return c[0] * np.cos(c[2])

    def Py(self, c: Coords) -> Value:
        return c[0] * np.sin(c[2])

    def Pz(self, c: Coords) -> Value:
        pt, eta = c[0], c[1]
        return _usually(pt > 0, pt * np.sinh(eta), lambda: _where(
            eta == 0, 0.0, _where(eta > 0, eta - _ETA_MAX, eta + _ETA_MAX)))

    def P(self, c: Coords) -> Value:
        pt, eta = c[0], c[1]
        return _usually(pt > 0, pt * np.cosh(eta), lambda: _where(
            eta > _ETA_MAX, eta - _ETA_MAX, _where(eta < -_ETA_MAX, -eta - _ETA_MAX, 0.0)))

    def Theta(self, c: Coords) -> Value:
        pt, eta = c[0], c[1]
        return _usually(pt > 0, 2.0 * np.arctan(np.exp(-eta)),
                        lambda: _where(eta >= 0, 0.0, _PI))

    def Et(self, c: Coords) -> Value:
        return self.E(c) / np.cosh(c[1])


class _PtEtaPhiM(_PtEtaPhi):
    name: DType = "PtEtaPhiMVector"

    def restrict(self, c: Coords) -> Coords:
        pt, eta, phi, m = super().restrict(c)
        if not _any(m < 0):
            return pt, eta, phi, m
        p = self.P(c)
        return pt, eta, phi, _where((m < 0) & (p * p - m * m < 0), -p, m)

    def from_cartesian(self, x: Value, y: Value, z: Value, t: Value) -> Coords:
        c = (x, y, z, t)
        return CARTESIAN.Pt(c), CARTESIAN.Eta(c), CARTESIAN.Phi(c), CARTESIAN.M(c)

    def converted(self, source: CoordinateSystem, c: Coords) -> Coords:
        return _PtEtaPhi.restrict(self, (source.Pt(c), source.Eta(c), source.Phi(c),
                                         source.M(c)))

    def M(self, c: Coords) -> Value:
        return c[3]

    def _m2(self, c: Coords) -> Value:
        m = c[3]
        return _where(m >= 0, m * m, -m * m)

    def E(self, c: Coords) -> Value:
        e2 = self.P2(c) + self._m2(c)
        return np.sqrt(_where(e2 > 0, e2, 0.0))

    def Mt(self, c: Coords) -> Value:
        return _signed_sqrt(self._m2(c) + c[0] * c[0])


class _PtEtaPhiE(_PtEtaPhi):
    name: DType = "PtEtaPhiEVector"

    def from_cartesian(self, x: Value, y: Value, z: Value, t: Value) -> Coords:
        c = (x, y, z, t)
        return CARTESIAN.Pt(c), CARTESIAN.Eta(c), CARTESIAN.Phi(c), t

    def converted(self, source: CoordinateSystem, c: Coords) -> Coords:
        return source.Pt(c), source.Eta(c), source.Phi(c), source.E(c)

    def E(self, c: Coords) -> Value:
        return c[3]

    def M(self, c: Coords) -> Value:
        p = self.P(c)
        return _signed_sqrt(c[3] * c[3] - p * p)

    def Mt(self, c: Coords) -> Value:
        pz = self.Pz(c)
        return _signed_sqrt(c[3] * c[3] - pz * pz)


class _PxPyPzE(CoordinateSystem):
    name: DType = "PxPyPzEVector"

    def from_cartesian(self, x: Value, y: Value, z: Value, t: Value) -> Coords:
        return x, y, z, t

    def converted(self, source: CoordinateSystem, c: Coords) -> Coords:
        return source.cartesian(c)

    def cartesian(self, c: Coords) -> Coords:
        return c

    def Px(self, c: Coords) -> Value:
        return c[0]

    def Py(self, c: Coords) -> Value:
        return c[1]

    def Pz(self, c: Coords) -> Value:
        return c[2]

    def E(self, c: Coords) -> Value:
        return c[3]

    def _pt2(self, c: Coords) -> Value:
        return c[0] * c[0] + c[1] * c[1]

    def Pt(self, c: Coords) -> Value:
        return np.sqrt(self._pt2(c))

    def Eta(self, c: Coords) -> Value:
        return _eta_from_rho_z(self.Pt(c), c[2])

    def Phi(self, c: Coords) -> Value:
        x, y = c[0], c[1]
        return _where((x == 0) & (y == 0), 0.0, np.arctan2(y, x))

    def P2(self, c: Coords) -> Value:
        x, y, z, _ = c
        return x * x + y * y + z * z

    def P(self, c: Coords) -> Value:
        return np.sqrt(self.P2(c))

    def M(self, c: Coords) -> Value:
        x, y, z, t = c
        return _signed_sqrt(t * t - x * x - y * y - z * z)

    def Theta(self, c: Coords) -> Value:
        x, y, z = c[0], c[1], c[2]
        return _where((x == 0) & (y == 0) & (z == 0), 0.0, np.arctan2(self.Pt(c), z))

    def Mt(self, c: Coords) -> Value:
        return _signed_sqrt(c[3] * c[3] - c[2] * c[2])

    def Et(self, c: Coords) -> Value:
        pt2, z, t = self._pt2(c), c[2], c[3]
        et = np.sqrt(_where(pt2 == 0, 0.0, t * t * pt2 / (pt2 + z * z)))
        return _where(t < 0.0, -et, et)


class _PxPyPzM(_PxPyPzE):
    """PxPyPzM4D: the momentum's Cartesian components and the mass; the energy from them."""

    name: DType = "PxPyPzMVector"

    def restrict(self, c: Coords) -> Coords:
        x, y, z, m = c
        if not _any(m < 0):
            return c
        p2 = self.P2(c)
        return x, y, z, _where((m < 0) & (p2 - m * m < 0), -np.sqrt(p2), m)

    def from_cartesian(self, x: Value, y: Value, z: Value, t: Value) -> Coords:
        return x, y, z, CARTESIAN.M((x, y, z, t))

    def converted(self, source: CoordinateSystem, c: Coords) -> Coords:
        return source.Px(c), source.Py(c), source.Pz(c), source.M(c)

    def cartesian(self, c: Coords) -> Coords:
        return c[0], c[1], c[2], self.E(c)

    def _e2(self, c: Coords) -> Value:
        m = c[3]
        e2 = self.P2(c) + _where(m >= 0, m * m, -m * m)
        return _where(e2 > 0, e2, 0.0)

    def E(self, c: Coords) -> Value:
        return np.sqrt(self._e2(c))

    def M(self, c: Coords) -> Value:
        return c[3]

    def Mt(self, c: Coords) -> Value:
        return _signed_sqrt(self._e2(c) - c[2] * c[2])

    def Et(self, c: Coords) -> Value:
        pt2 = self._pt2(c)
        return np.sqrt(_where(pt2 == 0, 0.0, self._e2(c) * pt2 / (pt2 + c[2] * c[2])))


CARTESIAN: Final = _PxPyPzE()
SYSTEMS: Final[dict[DType, CoordinateSystem]] = {
    s.name: s for s in (_PtEtaPhiM(), _PtEtaPhiE(), CARTESIAN, _PxPyPzM())}


@dataclass(frozen=True, slots=True)
class FourVector:
    """Lorentz vectors of one coordinate system; `coords` in that system's order."""

    system: DType  # a key of SYSTEMS
    coords: Coords

    def map(self, func: Callable[[Value], Value]) -> FourVector:
        return FourVector(self.system, (func(self.coords[0]), func(self.coords[1]),
                                        func(self.coords[2]), func(self.coords[3])))

    def __getitem__(self, index: Any) -> FourVector:
        """The vectors of some events (or elements): what a Frame's subset needs."""
        return self.map(lambda c: c if not isinstance(c, ak.Array) and np.ndim(c) == 0
                        else c[index])

    def __len__(self) -> int:
        return len(self.coords[0])

    def accessor(self, name: str) -> Value:
        """ROOT's `v.name()` (Pt, Eta, ..., Theta, Beta, ...), on every vector."""
        system = SYSTEMS[self.system]
        with np.errstate(all="ignore"):
            result: Value = getattr(system, name)(self.coords)
        return result

    def cartesian(self) -> Coords:
        with np.errstate(all="ignore"):
            return SYSTEMS[self.system].cartesian(self.coords)

    def combine(self, other: FourVector, sign: float) -> FourVector:
        """`self + other` (sign 1) or `self - other` (-1), in self's coordinate system."""
        a, b = self.cartesian(), other.cartesian()
        with np.errstate(all="ignore"):
            x, y, z, t = (a[i] + sign * b[i] for i in range(4))
        return from_cartesian(self.system, x, y, z, t)


def _eta_from_rho_z(rho: Value, z: Value) -> Value:
    """GenVector's Impl::Eta_FromRhoZ, branch for branch."""
    z_scaled = z / rho
    near = np.log(z_scaled + np.sqrt(z_scaled * z_scaled + 1.0))
    with_rho = _usually(np.abs(z_scaled) < _BIG_Z_SCALED, near, lambda: _where(
        z > 0, np.log(2.0 * z_scaled + 0.5 / z_scaled), -np.log(-2.0 * z_scaled)))
    return _usually(rho > 0, with_rho, lambda: _where(
        z == 0, 0.0, _where(z > 0, z + _ETA_MAX, z - _ETA_MAX)))


def from_cartesian(system: DType, x: Value, y: Value, z: Value, t: Value) -> FourVector:
    with np.errstate(all="ignore"):
        return FourVector(system, SYSTEMS[system].from_cartesian(x, y, z, t))


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
    return _constructed(system, (values[0], values[1], values[2], values[3]))


def _constructed(system: DType, coords: Coords) -> FourVector:
    with np.errstate(all="ignore"):
        return FourVector(system, SYSTEMS[system].restrict(coords))


def convert(system: DType, v: FourVector) -> FourVector:
    """`V(w)` of vectors `w` of another system (or the same), as GenVector's converting
    constructor stores it; `Construct<V>(w)` of a collection of vectors."""
    with np.errstate(all="ignore"):
        return FourVector(system, SYSTEMS[system].converted(SYSTEMS[v.system], v.coords))


def construct(system: DType, *coords: ak.Array) -> FourVector:
    """`ROOT::VecOps::Construct<V>(a, b, c, d)`: one vector per element; sizes must agree."""
    counts = ak.to_numpy(ak.num(coords[0], axis=1))
    for c in coords[1:]:
        if not np.array_equal(ak.to_numpy(ak.num(c, axis=1)), counts):
            raise EvaluationFailure("Construct: the collections differ in size in some events")
    return _constructed(system, (f64(coords[0]), f64(coords[1]), f64(coords[2]),
                                 f64(coords[3])))


def method(name: str) -> Callable[[FourVector], Value]:
    def apply(v: FourVector) -> Value:
        return v.accessor(name)
    return apply


__all__ = ["SYSTEMS", "CoordinateSystem", "FourVector", "construct", "convert", "from_cartesian",
           "method", "new"]
