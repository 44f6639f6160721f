"""ROOT's expression language: VecOps names, C++ casts, literal and promotion rules, 4-vectors.

Values are checked against C++'s rules written out by hand (two's complement,
the usual arithmetic conversions) and against GenVector's formulas evaluated
per event with Python's math module.
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np
import pytest
from test_expr_semantics import EVENTS_BY_HAND, SCHEMA, check, event, make_frame

from hepflow.engine import vecops
from hepflow.engine.evaluate import evaluate
from hepflow.errors import ExpressionError
from hepflow.plan.expr import compile_expression
from hepflow.plan.expr.functions import FUNCTIONS


def run(text: str, events: list[dict[str, Any]] = EVENTS_BY_HAND) -> list[Any]:
    expr = compile_expression(text, SCHEMA)
    out = evaluate(expr.tree, make_frame(events))
    return ak.to_list(out) if isinstance(out, ak.Array) else out.tolist()


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, SCHEMA)
    return info.value


def dtype_of(text: str) -> str:
    return compile_expression(text, SCHEMA).type.dtype


# ---------------------------------------------------------------- one table of functions


def test_every_declared_function_has_exactly_one_implementation() -> None:
    assert set(vecops.IMPLEMENTATIONS) == set(FUNCTIONS)
    with pytest.raises(RuntimeError, match="does not declare"):
        vecops.implements("NoSuchFunction")(lambda v: v)


# ---------------------------------------------------------------- ROOT's names


def test_argsort_is_spelled_as_in_root() -> None:
    assert run("Reverse(Argsort(Muon_pt))") == [[0, 1], [], [0], [2, 1, 0]]
    assert run("StableArgsort(Muon_pt)") == [[1, 0], [], [0], [0, 1, 2]]
    assert dtype_of("Argsort(Muon_pt)") == "uint64"  # RVec<size_t>
    err = error("Reverse(ArgSort(Jet_pt))")
    assert "ROOT's name is `Argsort`" in err.reason
    assert err.text[err.start:err.end] == "ArgSort"


@pytest.mark.parametrize(("text", "want"), [
    ("Concatenate(Muon_pt, Jet_pt)", [[40.0, 25.5, 50.0, 30.0, 30.0], [], [5.0, 35.0],
                                      [10.0, 30.0, 30.0]]),
    ("Drop(Muon_pt, Range(1))", [[25.5], [], [], [30.0, 30.0]]),
    ("Drop(Muon_pt, RVec<int>(2, 7))", [[40.0, 25.5], [], [5.0], [10.0, 30.0, 30.0]]),
    ("Intersect(Muon_charge, RVec<int>(1, -1))", [[-1], [], [-1], [-1]]),
    ("Enumerate(Jet_pt)", [[0, 1, 2], [], [0], []]),
    ("Range(nJet)", [[0, 1, 2], [], [0], []]),
    ("Range(2, 8, 3)", [[2, 5]] * 4),
    ("Range(5, 1, -2)", [[5, 3]] * 4),
    ("RVec<int>(nMuon, 7)", [[7, 7], [], [7], [7, 7, 7]]),
    ("ROOT::VecOps::RVec<double>(nJet, 0.5)", [[0.5] * 3, [], [0.5], []]),
    ("RVecF(nMuon)", [[0.0, 0.0], [], [0.0], [0.0, 0.0, 0.0]]),
    ("Product(Muon_charge)", [-1, 1, -1, -1]),
    ("Dot(Muon_charge, Muon_charge)", [2, 0, 1, 3]),
    ("StableSort(-Muon_charge)", [[-1, 1], [], [1], [-1, -1, 1]]),
])
def test_vecops_functions(text: str, want: list[Any]) -> None:
    assert run(text) == want


def test_vecops_types_follow_root() -> None:
    assert dtype_of("Enumerate(Muon_pt)") == dtype_of("Range(nJet)") == "uint64"
    assert dtype_of("Range(1, 5)") == "int64"
    assert dtype_of("RVec<unsigned char>(2, 1)") == "uint8"
    assert dtype_of("Concatenate(Muon_charge, Muon_pt)") == "float32"  # common_type<int, float>
    assert dtype_of("Sum(Muon_charge)") == "int32"
    assert dtype_of("Sum(Jet_jetId)") == "int32"  # UChar_t sums as int
    assert dtype_of("Sum(Muon_tight)") == "int32"
    assert dtype_of("size(Muon_pt)") == "uint64"


def test_delta_r2_is_delta_r_squared() -> None:
    text = "DeltaR2(1., Jet_eta, 0.5, 0.1)"
    got, root = run(text), run("DeltaR(1., Jet_eta, 0.5, 0.1)")
    assert got == [pytest.approx([r * r for r in ev], rel=1e-12) for ev in root]
    check("DeltaR2(MET_phi, 0.5, 1.0, MET_phi)", EVENTS_BY_HAND)


def test_drop_intersect_and_range_match_the_reference() -> None:
    for text in ("Drop(Jet_pt, Argsort(Muon_pt))", "Intersect(Jet_pt, Muon_pt)",
                 "Concatenate(Muon_charge, Jet_jetId)", "Range(1, nMuon + 2, 2)",
                 "Dot(Muon_pt, Muon_eta)", "Product(Muon_pt)", "Enumerate(Muon_tight)"):
        check(text, EVENTS_BY_HAND)


# ---------------------------------------------------------------- casts


@pytest.mark.parametrize(("text", "want", "dtype"), [
    ("(int)MET_pt", [20, 0, 7, 100], "int32"),
    ("(int)-MET_pt", [-20, 0, -7, -100], "int32"),
    ("static_cast<int>(MET_pt * 10)", [205, 0, 72, 1000], "int32"),
    ("int(MET_pt) + 1", [21, 1, 8, 101], "int32"),
    ("(unsigned int)-1", [4294967295] * 4, "uint32"),
    ("(ULong64_t)-1", [2**64 - 1] * 4, "uint64"),
    ("(unsigned char)300", [44] * 4, "uint8"),
    ("(short)40000", [-25536] * 4, "int16"),
    ("(float)0.1", [float(np.float32(0.1))] * 4, "float32"),
    ("double(nMuon) / 2", [1.0, 0.0, 0.5, 1.5], "float64"),
    ("(bool)nMuon", [True, False, True, True], "bool"),
    ("(long long)nMuon - 3", [-1, -3, -2, 0], "int64"),
    ("static_cast<unsigned long long>(nMuon)", [2, 0, 1, 3], "uint64"),
    ("(Int_t)nMuon - 1", [1, -1, 0, 2], "int32"),
    ("std::uint8_t(257)", [1] * 4, "uint8"),
])
def test_casts(text: str, want: list[Any], dtype: str) -> None:
    assert dtype_of(text) == dtype
    assert run(text) == want


def test_jet_index_below_a_cast_counter() -> None:
    """The issue's example: `jetIdx < (int)nJet` parses and compares as C++."""
    assert run("Muon_charge < (int)nJet") == [[True, True], [], [True], [False, False, True]]


@pytest.mark.parametrize(("text", "message"), [
    ("(unsigned float)MET_pt", "not a C++ type"),
    ("(int)Muon_pt", "takes one value, not a collection"),
    ("static_cast<banana>(MET_pt)", "not a C++ type"),
    ("int(MET_pt, 2)", "takes one value"),
    ("Int_t", "is a type"),
])
def test_bad_casts(text: str, message: str) -> None:
    assert message in error(text).reason


# ---------------------------------------------------------------- C++ literal and promotion rules


@pytest.mark.parametrize(("text", "want"), [
    ("010", 8), ("0x1F", 31), ("010 + 0x10", 24), ("2u - 3", 4294967295),
    ("2ul - 3", 2**64 - 1), ("2 - 3", -1), ("-1 < 0u", False), ("-1 < 0", True),
    ("-1 == 4294967295u", True), ("-1L < 0u", True), ("0u - 1 > 0", True),
    ("2147483647 + 1u", 2147483648), ("1u << 31", 2147483648), ("~0u", 4294967295),
    ("-(1u)", 4294967295), ("7u / 2", 3), ("4294967295u * 2u", 4294967294),
    ("1.f / 3", float(np.float32(1.0) / np.float32(3))), ("(char)200 + 0", -56),
])
def test_literal_and_promotion_rules(text: str, want: Any) -> None:
    assert run(text) == [want] * 4


def test_unsigned_counters_never_go_negative() -> None:
    """nMuon is UInt_t in NanoAOD: `nMuon - 2u < 0` is never true, as in C++."""
    assert run("nMuon - 2u < 0") == [False] * 4
    assert run("nMuon - 2 < 0") == [False] * 4
    assert run("nMuon - 2") == [0, 4294967294, 4294967295, 1]
    assert run("(int)nMuon - 2 < 0") == [False, True, True, False]


def test_small_integer_branches_promote_to_int() -> None:
    events = [event(jets=[(30.0, 0.0)]), event()]
    events[0]["Jet_jetId"] = [255]
    events[0]["PV_npvs"] = 32767
    assert dtype_of("Jet_jetId * 2") == "int32"
    assert run("Jet_jetId * 2", events) == [[510], []]  # not 254: UChar_t promotes
    assert run("PV_npvs + 1", events) == [32768, 1]  # Short_t promotes
    assert run("-Jet_jetId", events) == [[-255], []]
    assert run("Jet_jetId & 6", events) == [[6], []]


def test_signed_meets_unsigned_long() -> None:
    events = [event() for _ in range(2)]
    events[0]["event"], events[1]["event"] = 5, 2**64 - 1
    assert run("event - 6", events) == [2**64 - 1, 2**64 - 7]
    assert run("event > -1", events) == [False, False]  # -1 becomes ULong64_t's largest
    assert run("(Long64_t)event > -1", events) == [True, False]


@pytest.mark.parametrize("text", ["MET_pt > \u0663", "Muon_pt\u00e9 > 1", "\u0661\u0662",
                                  "nMuon > 1\u00a0"])
def test_non_ascii_digits_and_names_are_errors(text: str) -> None:
    err = error(text)
    assert "non-ASCII character" in err.reason
    assert not text[err.start].isascii()


# ---------------------------------------------------------------- 4-vectors

PTETAPHIM = "Construct<ROOT::Math::PtEtaPhiMVector>(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"


def _cartesian(pt: float, eta: float, phi: float, m: float) -> tuple[float, ...]:
    p = pt * math.cosh(eta)
    return (pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta),
            math.sqrt(max(p * p + m * m, 0.0)))


def _f32(values: list[float]) -> list[float]:
    return [float(np.float32(v)) for v in values]


def _pair(ev: dict[str, Any]) -> tuple[float, float, float, float]:
    """(Pt, Eta, Phi, M) of the sum of the first two muons, by GenVector's formulas."""
    pt, eta, phi, m = (_f32(ev[c]) for c in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))
    a, b = (_cartesian(pt[i], eta[i], phi[i], m[i]) for i in (0, 1))
    x, y, z, t = (a[k] + b[k] for k in range(4))
    rho = math.hypot(x, y)
    zs = z / rho
    mm = t * t - x * x - y * y - z * z
    return rho, math.log(zs + math.sqrt(zs * zs + 1.0)), math.atan2(y, x), \
        math.copysign(math.sqrt(abs(mm)), mm)


def test_constructed_vectors_give_back_their_coordinates() -> None:
    events = [e for e in EVENTS_BY_HAND if e["nMuon"] > 0]
    frame_values = [float(np.float32(e["Muon_mass"][-1])) for e in events]
    assert run(f"{PTETAPHIM}[nMuon - 1].M()", events) == frame_values
    pts = [float(np.float32(e["Muon_pt"][0])) for e in events]
    assert run(f"{PTETAPHIM}[0].Pt()", events) == pts


def test_sum_of_two_vectors_matches_genvector() -> None:
    events = [e for e in EVENTS_BY_HAND if e["nMuon"] >= 2]
    pairs = [_pair(e) for e in events]
    for i, method in enumerate(("Pt", "Eta", "Phi", "M")):
        got = run(f"({PTETAPHIM}[0] + {PTETAPHIM}[1]).{method}()", events)
        assert got == pytest.approx([p[i] for p in pairs], rel=1e-12, abs=1e-12)
    masses = run("InvariantMass(Take(Muon_pt * 1., 2), Take(Muon_eta * 1., 2), "
                 "Take(Muon_phi * 1., 2), Take(Muon_mass * 1., 2))", events)  # in double
    assert run(f"({PTETAPHIM}[0] + {PTETAPHIM}[1]).M()", events) == \
        pytest.approx(masses, rel=1e-9)


def test_flat_vectors_and_per_element_methods() -> None:
    text = "ROOT::Math::PtEtaPhiMVector(MET_pt, 0., MET_phi, 0.)"
    assert run(f"{text}.Pt()") == run("double(MET_pt)")
    assert run(f"{text}.E()") == pytest.approx(run("double(MET_pt)"), rel=1e-15)
    assert run(f"{text}.Px()") == pytest.approx(
        [ev["MET_pt"] * math.cos(ev["MET_phi"]) for ev in EVENTS_BY_HAND], rel=1e-6)
    cart = "ROOT::Math::PxPyPzEVector(3., 4., 0., 13.)"
    assert run(f"{cart}.Pt()") == [5.0] * 4
    assert run(f"{cart}.M()") == [12.0] * 4
    assert run(f"({cart} - {cart}).E()") == [0.0] * 4
    summed = run(f"nMuon > 0 ? ({PTETAPHIM} + {PTETAPHIM})[0].M() : -1.")
    for got, ev in zip(summed, EVENTS_BY_HAND, strict=True):
        assert got == pytest.approx(2 * _f32(ev["Muon_mass"])[0] if ev["nMuon"] else -1.0,
                                    abs=1e-6)


@pytest.mark.parametrize(("text", "message"), [
    (f"{PTETAPHIM} * 2", "cannot be applied to a 4-vector"),
    ("MET_pt.Pt()", "is a method of a 4-vector"),
    (f"{PTETAPHIM}.Pt()", "RVec of 4-vectors has none; ROOT users write Map(p4"),
    (f"({PTETAPHIM} + {PTETAPHIM}).M()", "RVec of 4-vectors has none"),
    ("Construct(Muon_pt, Muon_eta, Muon_phi, Muon_mass)", "Construct<ROOT::Math::PtEtaPhiMVector>"),
    ("Construct<int>(Muon_pt, Muon_eta, Muon_phi, Muon_mass)", "PtEtaPhiMVector"),
    ("RVec<ROOT::Math::PtEtaPhiMVector>(2)", "number type"),
    (f"HLT_IsoMu24 ? {PTETAPHIM} : {PTETAPHIM}", "4-vectors is not supported"),
])
def test_vector_misuse(text: str, message: str) -> None:
    assert message in error(text).reason


@pytest.mark.parametrize(("text", "message"), [
    ("std::max(MET_pt, nMuon)", "takes two values of one type"),
    ("max(MET_pt, 1.)", "from float and double"),
    ("std::min(nMuon, 1)", "from unsigned int and int"),
    ("MET_pt % 2", "fmod(a, b)"),
    ("nMuon % 2.", "fmod(a, b)"),
    ("Muon_pt % 2", "fmod(a, b)"),
])
def test_what_roots_jit_refuses_is_refused_when_the_plan_is_built(text: str,
                                                                  message: str) -> None:
    """ROOT's JIT does not compile these (std::max has one template parameter, `%` takes
    integers); hepflow says so with a caret and the way C++ writes it."""
    assert message in error(text).reason
    assert run("std::max(MET_pt, (float)nMuon)") == \
        [max(ev["MET_pt"], float(ev["nMuon"])) for ev in EVENTS_BY_HAND]
    assert dtype_of("fmod(MET_pt, 2.f)") == "float32" and dtype_of("fmod(MET_pt, 2)") == "float64"
