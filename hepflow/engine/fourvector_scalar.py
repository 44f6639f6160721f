"""GenVector's formulas on one vector's four coordinates, for compiled loop bodies.

A 4-vector local of a C++ body with loops lives in the numba kernel as its four
coordinates (doubles, in its system's order, as `fourvector.FourVector` holds them
per column). These plain scalar functions are what the kernel calls for its
constructor and accessors; numba compiles them. They are `fourvector`'s columnar
formulas written for one value (numba compiles branches, not `where`), compiled
with numba's njit (lazily, on a kernel's first call), and
tests/test_fourvector_systems.py pins both to ROOT's answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, TypeVar, cast

import numba  # this module is imported only where a body with loops is compiled

_ETA_MAX: Final = 22756.0  # ROOT::Math::etaMax<double>()
_BIG_Z_SCALED: Final = float(2.220446049250313e-16 ** -0.25)
_PI: Final = math.pi

Scalar4 = Callable[[float, float, float, float], float]
_F = TypeVar("_F", bound=Callable[..., float])
_NJIT = numba.njit(error_model="numpy")


def _jit(func: _F) -> _F:
    """numba's njit, typed: each function here is compiled where a kernel first calls it."""
    return cast(_F, _NJIT(func))


@_jit
def _signed_sqrt(mm: float) -> float:
    return math.sqrt(mm) if mm >= 0 else -math.sqrt(-mm)


@_jit
def _wrap_phi(phi: float) -> float:
    if phi <= -_PI or phi > _PI:
        return phi - math.floor(phi / (2 * _PI) + 0.5) * 2 * _PI
    return phi


@_jit
def _pz(pt: float, eta: float) -> float:
    if pt > 0:
        return pt * math.sinh(eta)
    if eta == 0:
        return 0.0
    return eta - _ETA_MAX if eta > 0 else eta + _ETA_MAX


@_jit
def _p(pt: float, eta: float) -> float:
    if pt > 0:
        return pt * math.cosh(eta)
    if eta > _ETA_MAX:
        return eta - _ETA_MAX
    return -eta - _ETA_MAX if eta < -_ETA_MAX else 0.0


@_jit
def _theta(pt: float, eta: float) -> float:
    if pt > 0:
        return 2.0 * math.atan(math.exp(-eta))
    return 0.0 if eta >= 0 else _PI


@_jit
def _m_m2(m: float) -> float:
    return m * m if m >= 0 else -m * m


@_jit
def _m_e(pt: float, eta: float, m: float) -> float:
    p = _p(pt, eta)
    e2 = p * p + _m_m2(m)
    return math.sqrt(e2 if e2 > 0 else 0.0)


@_jit
def _eta_from_rho_z(rho: float, z: float) -> float:
    if rho > 0:
        z_scaled = z / rho
        if math.fabs(z_scaled) < _BIG_Z_SCALED:
            return math.log(z_scaled + math.sqrt(z_scaled * z_scaled + 1.0))
        return math.log(2.0 * z_scaled + 0.5 / z_scaled) if z > 0 else -math.log(-2.0 * z_scaled)
    if z == 0:
        return 0.0
    return z + _ETA_MAX if z > 0 else z - _ETA_MAX


# ---- the LorentzVector-level accessors, from a system's E, Pz, P

@_jit
def _rapidity(e: float, pz: float) -> float:
    return 0.5 * math.log((e + pz) / (e - pz))


@_jit
def _beta(e: float, p: float) -> float:
    if e == 0:
        return 0.0 if p * p == 0 else 1.0 / e
    return p / e


@_jit
def _gamma(e: float, p: float) -> float:
    v2, t2 = p * p, e * e
    if e == 0 and v2 == 0:
        return 1.0
    if t2 < v2:
        return 0.0
    return 1.0 / math.sqrt(1.0 - v2 / t2)


# ---- PtEtaPhiM4D

@_jit
def m_Pt(pt: float, eta: float, phi: float, m: float) -> float:
    return pt


@_jit
def m_Eta(pt: float, eta: float, phi: float, m: float) -> float:
    return eta


@_jit
def m_Phi(pt: float, eta: float, phi: float, m: float) -> float:
    return phi


@_jit
def m_Px(pt: float, eta: float, phi: float, m: float) -> float:
    return pt * math.cos(phi)


@_jit
def m_Py(pt: float, eta: float, phi: float, m: float) -> float:
    return pt * math.sin(phi)


@_jit
def m_Pz(pt: float, eta: float, phi: float, m: float) -> float:
    return _pz(pt, eta)


@_jit
def m_P(pt: float, eta: float, phi: float, m: float) -> float:
    return _p(pt, eta)


@_jit
def m_Theta(pt: float, eta: float, phi: float, m: float) -> float:
    return _theta(pt, eta)


@_jit
def m_M(pt: float, eta: float, phi: float, m: float) -> float:
    return m


@_jit
def m_E(pt: float, eta: float, phi: float, m: float) -> float:
    return _m_e(pt, eta, m)


@_jit
def m_Et(pt: float, eta: float, phi: float, m: float) -> float:
    return _m_e(pt, eta, m) / math.cosh(eta)


@_jit
def m_Mt(pt: float, eta: float, phi: float, m: float) -> float:
    return _signed_sqrt(_m_m2(m) + pt * pt)


@_jit
def m_Rapidity(pt: float, eta: float, phi: float, m: float) -> float:
    return _rapidity(_m_e(pt, eta, m), _pz(pt, eta))


@_jit
def m_Beta(pt: float, eta: float, phi: float, m: float) -> float:
    return _beta(_m_e(pt, eta, m), _p(pt, eta))


@_jit
def m_Gamma(pt: float, eta: float, phi: float, m: float) -> float:
    return _gamma(_m_e(pt, eta, m), _p(pt, eta))


@_jit
def m_Restrict2(pt: float, eta: float, phi: float, m: float) -> float:
    return _wrap_phi(phi)


@_jit
def m_Restrict3(pt: float, eta: float, phi: float, m: float) -> float:
    """ROOT's constructor sets an unphysical negative mass (m^2 > p^2) to -P."""
    p = _p(pt, eta)
    return -p if m < 0 and p * p - m * m < 0 else m


# ---- PtEtaPhiE4D

@_jit
def e_M(pt: float, eta: float, phi: float, e: float) -> float:
    p = _p(pt, eta)
    return _signed_sqrt(e * e - p * p)


@_jit
def e_E(pt: float, eta: float, phi: float, e: float) -> float:
    return e


@_jit
def e_Et(pt: float, eta: float, phi: float, e: float) -> float:
    return e / math.cosh(eta)


@_jit
def e_Mt(pt: float, eta: float, phi: float, e: float) -> float:
    pz = _pz(pt, eta)
    return _signed_sqrt(e * e - pz * pz)


@_jit
def e_Rapidity(pt: float, eta: float, phi: float, e: float) -> float:
    return _rapidity(e, _pz(pt, eta))


@_jit
def e_Beta(pt: float, eta: float, phi: float, e: float) -> float:
    return _beta(e, _p(pt, eta))


@_jit
def e_Gamma(pt: float, eta: float, phi: float, e: float) -> float:
    return _gamma(e, _p(pt, eta))


@_jit
def e_Restrict3(pt: float, eta: float, phi: float, e: float) -> float:
    return e


# ---- PxPyPzE4D

@_jit
def c_Px(x: float, y: float, z: float, t: float) -> float:
    return x


@_jit
def c_Py(x: float, y: float, z: float, t: float) -> float:
    return y


@_jit
def c_Pz(x: float, y: float, z: float, t: float) -> float:
    return z


@_jit
def c_E(x: float, y: float, z: float, t: float) -> float:
    return t


@_jit
def c_Pt(x: float, y: float, z: float, t: float) -> float:
    return math.sqrt(x * x + y * y)


@_jit
def c_Eta(x: float, y: float, z: float, t: float) -> float:
    return _eta_from_rho_z(math.sqrt(x * x + y * y), z)


@_jit
def c_Phi(x: float, y: float, z: float, t: float) -> float:
    return 0.0 if x == 0.0 and y == 0.0 else math.atan2(y, x)


@_jit
def c_P(x: float, y: float, z: float, t: float) -> float:
    return math.sqrt(x * x + y * y + z * z)


@_jit
def c_M(x: float, y: float, z: float, t: float) -> float:
    return _signed_sqrt(t * t - x * x - y * y - z * z)


@_jit
def c_Theta(x: float, y: float, z: float, t: float) -> float:
    if x == 0.0 and y == 0.0 and z == 0.0:
        return 0.0
    return math.atan2(math.sqrt(x * x + y * y), z)


@_jit
def c_Mt(x: float, y: float, z: float, t: float) -> float:
    return _signed_sqrt(t * t - z * z)


@_jit
def c_Et(x: float, y: float, z: float, t: float) -> float:
    pt2 = x * x + y * y
    et = math.sqrt(0.0 if pt2 == 0 else t * t * pt2 / (pt2 + z * z))
    return -et if t < 0.0 else et


@_jit
def c_Rapidity(x: float, y: float, z: float, t: float) -> float:
    return _rapidity(t, z)


@_jit
def c_Beta(x: float, y: float, z: float, t: float) -> float:
    return _beta(t, math.sqrt(x * x + y * y + z * z))


@_jit
def c_Gamma(x: float, y: float, z: float, t: float) -> float:
    return _gamma(t, math.sqrt(x * x + y * y + z * z))


@_jit
def c_Restrict2(x: float, y: float, z: float, t: float) -> float:
    return z


@_jit
def c_Restrict3(x: float, y: float, z: float, t: float) -> float:
    return t


# ---- PxPyPzM4D: the momentum's components as PxPyPzE4D's, the energy from the mass

@_jit
def _q_e2(x: float, y: float, z: float, m: float) -> float:
    e2 = x * x + y * y + z * z + (m * m if m >= 0 else -m * m)
    return e2 if e2 > 0 else 0.0


@_jit
def q_M(x: float, y: float, z: float, m: float) -> float:
    return m


@_jit
def q_E(x: float, y: float, z: float, m: float) -> float:
    return math.sqrt(_q_e2(x, y, z, m))


@_jit
def q_Mt(x: float, y: float, z: float, m: float) -> float:
    return _signed_sqrt(_q_e2(x, y, z, m) - z * z)


@_jit
def q_Et(x: float, y: float, z: float, m: float) -> float:
    pt2 = x * x + y * y
    return math.sqrt(0.0 if pt2 == 0 else _q_e2(x, y, z, m) * pt2 / (pt2 + z * z))


@_jit
def q_Rapidity(x: float, y: float, z: float, m: float) -> float:
    return _rapidity(math.sqrt(_q_e2(x, y, z, m)), z)


@_jit
def q_Beta(x: float, y: float, z: float, m: float) -> float:
    return _beta(math.sqrt(_q_e2(x, y, z, m)), math.sqrt(x * x + y * y + z * z))


@_jit
def q_Gamma(x: float, y: float, z: float, m: float) -> float:
    return _gamma(math.sqrt(_q_e2(x, y, z, m)), math.sqrt(x * x + y * y + z * z))


@_jit
def q_Restrict3(x: float, y: float, z: float, m: float) -> float:
    p2 = x * x + y * y + z * z
    return -math.sqrt(p2) if m < 0 and p2 - m * m < 0 else m


_PT_ETA_PHI: Final[dict[str, Scalar4]] = {
    "Pt": m_Pt, "Eta": m_Eta, "Phi": m_Phi, "Px": m_Px, "Py": m_Py, "Pz": m_Pz, "P": m_P,
    "Theta": m_Theta, "Restrict2": m_Restrict2}
_SYSTEMS: Final[dict[str, dict[str, Scalar4]]] = {
    "PtEtaPhiMVector": {**_PT_ETA_PHI, "M": m_M, "E": m_E, "Et": m_Et, "Mt": m_Mt,
                        "Rapidity": m_Rapidity, "Beta": m_Beta, "Gamma": m_Gamma,
                        "Restrict3": m_Restrict3},
    "PtEtaPhiEVector": {**_PT_ETA_PHI, "M": e_M, "E": e_E, "Et": e_Et, "Mt": e_Mt,
                        "Rapidity": e_Rapidity, "Beta": e_Beta, "Gamma": e_Gamma,
                        "Restrict3": e_Restrict3},
    "PxPyPzEVector": {"Pt": c_Pt, "Eta": c_Eta, "Phi": c_Phi, "Px": c_Px, "Py": c_Py,
                      "Pz": c_Pz, "P": c_P, "Theta": c_Theta, "M": c_M, "E": c_E, "Et": c_Et,
                      "Mt": c_Mt, "Rapidity": c_Rapidity, "Beta": c_Beta, "Gamma": c_Gamma,
                      "Restrict2": c_Restrict2, "Restrict3": c_Restrict3},
    "PxPyPzMVector": {"Pt": c_Pt, "Eta": c_Eta, "Phi": c_Phi, "Px": c_Px, "Py": c_Py,
                      "Pz": c_Pz, "P": c_P, "Theta": c_Theta, "M": q_M, "E": q_E, "Et": q_Et,
                      "Mt": q_Mt, "Rapidity": q_Rapidity, "Beta": q_Beta, "Gamma": q_Gamma,
                      "Restrict2": c_Restrict2, "Restrict3": q_Restrict3},
}
# "System.Method" -> f(c0, c1, c2, c3); Restrict2/Restrict3 are the constructor's
# corrections of the third and fourth coordinate (phi wrapping, the mass rule).
FUNCTIONS: Final[dict[str, Scalar4]] = {
    f"{system}.{name}": func for system, table in _SYSTEMS.items() for name, func in table.items()}

__all__ = ["FUNCTIONS"]
