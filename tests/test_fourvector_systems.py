"""ROOT::Math's four Lorentz-vector systems, checked against ROOT 6.40's own answers.

`PtEtaPhiMVector`, `PtEtaPhiEVector`, `PxPyPzEVector` and `PxPyPzMVector`, built with
`V(...)`, `V{...}` in a body, `Construct<V>(...)`, and converted from each other with
`Construct<V>(w)`, answer every accessor (Pt ... Rapidity, Theta, Et,
Mt, Beta, Gamma) and `+`/`-` (in the left operand's system) as GenVector does, branch
for branch: pt = 0, eta beyond etaMax, phi outside (-pi, pi], negative masses,
space-like and light-like vectors, E = 0. The references come from
scripts/root_refs_fourvector.py (run with ROOT's Python) in
tests/data/root_fourvector_refs.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from test_expr_semantics import ArrayFrame

from hepflow.core.types import jagged, scalar
from hepflow.engine.evaluate import evaluate
from hepflow.errors import ExpressionError
from hepflow.plan.expr import compile_expression

REFS = json.loads((Path(__file__).parent / "data" / "root_fourvector_refs.json").read_text())
METHODS: list[str] = REFS["methods"]
SYSTEMS = ("PtEtaPhiMVector", "PtEtaPhiEVector", "PxPyPzEVector", "PxPyPzMVector")
COLUMNS = ("a", "b", "c", "d", "w", "x", "y", "z")
SCHEMA = {name: scalar("float64") for name in COLUMNS}
SCHEMA.update({f"v{name}": jagged("float64") for name in ("a", "b", "c", "d")})


def _expected(answers: dict[str, Any]) -> np.ndarray:
    return np.array([float(answers[m]) for m in METHODS])


def _frame(rows: list[list[float]], names: tuple[str, ...] = ("a", "b", "c", "d")) -> ArrayFrame:
    cols = {name: np.array([r[i] for r in rows], dtype=np.float64)
            for i, name in enumerate(names)}
    for name in COLUMNS:
        cols.setdefault(name, np.zeros(len(rows)))
    return ArrayFrame(cols, len(rows))


def _run(text: str, frame: ArrayFrame) -> np.ndarray:
    out = evaluate(compile_expression(text, SCHEMA).tree, frame)
    return np.asarray(ak.to_numpy(out) if isinstance(out, ak.Array) else out, dtype=np.float64)


def _same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal to ROOT's answer up to the last bits libm may differ in (NaN where ROOT's is)."""
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("method", METHODS)
def test_accessors_equal_root(system: str, method: str) -> None:
    frame = _frame(REFS["inputs"])
    want = np.array([float(r[method]) for r in REFS["single"][system]])
    got = _run(f"ROOT::Math::{system}(a, b, c, d).{method}()", frame)
    _same(got, want, f"{system}.{method}()")


@pytest.mark.parametrize("system", SYSTEMS)
def test_body_locals_with_braces_and_parentheses(system: str) -> None:
    frame = _frame(REFS["inputs"])
    for method in ("M", "Theta", "Phi", "E"):
        want = np.array([float(r[method]) for r in REFS["single"][system]])
        for init in ("p{a, b, c, d}", "p(a, b, c, d)"):
            text = f"ROOT::Math::{system} {init}; return p.{method}();"
            _same(_run(text, frame), want, text)


@pytest.mark.parametrize("system", SYSTEMS)
def test_construct_equals_root(system: str) -> None:
    rows = REFS["inputs"]
    counts = np.array([len(rows) - 3, 3])
    cols = {f"v{n}": ak.unflatten(np.array([r[i] for r in rows]), counts)
            for i, n in enumerate("abcd")}
    frame = ArrayFrame({**{n: np.zeros(2) for n in COLUMNS}, **cols}, 2)
    p4 = f"Construct<ROOT::Math::{system}>(va, vb, vc, vd)"
    for k in (0, 1, 2):
        want = [float(REFS["single"][system][k]["Theta"]),
                float(REFS["single"][system][len(rows) - 3 + k]["Theta"])]
        _same(_run(f"{p4}[{k}].Theta()", frame), np.array(want), f"{system} Construct [{k}]")


_MOMENTUM = ("Pt", "Eta", "Phi", "Px", "Py", "Pz", "P", "Theta")


def _light_like(answers: dict[str, Any]) -> bool:
    """|M| or E within a millionth of E or P: what depends on E^2 - P^2 is rounding there."""
    m, e, p = (abs(float(answers[k])) for k in ("M", "E", "P"))
    return (m <= 1e-6 * e and e != 0) or (e <= 1e-6 * p and p != 0)


@pytest.mark.parametrize("to", SYSTEMS)
def test_construct_converts_collections_of_vectors_as_root(to: str) -> None:
    """`Construct<V>(w)` of a collection of vectors of any system stores what GenVector's
    converting constructor `V(w[i])` stores (the AGC's PxPyPzMVector of PtEtaPhiMVectors)."""
    rows = REFS["inputs"]
    counts = np.array([len(rows) - 3, 3])
    cols = {f"v{n}": ak.unflatten(np.array([r[i] for r in rows]), counts)
            for i, n in enumerate("abcd")}
    frame = ArrayFrame({**{n: np.zeros(2) for n in COLUMNS}, **cols}, 2)
    cases = {(c["from"], c["i"]): c["answers"] for c in REFS["converted"] if c["to"] == to}
    for source in SYSTEMS:
        lit = np.array([_light_like(cases[(source, i)]) for i in range(len(rows))])
        w = f"Construct<ROOT::Math::{to}>(Construct<ROOT::Math::{source}>(va, vb, vc, vd))"
        for method in METHODS:
            text = f"return Map({w}, [](const ROOT::Math::{to} &v) {{ return v.{method}(); }});"
            got = evaluate(compile_expression(text, SCHEMA).tree, frame)
            want = np.array([float(cases[(source, i)][method]) for i in range(len(rows))])
            got_np = np.asarray(ak.to_numpy(ak.flatten(got)))
            if method not in _MOMENTUM:  # from a difference of squares of converted
                # coordinates: on the light cone, libm's last bit decides it (in ROOT too)
                got_np, want = got_np[~lit], want[~lit]
            if method == "Gamma":  # 1/sqrt(1 - v^2/t^2) amplifies the last bit by gamma^2
                close = np.abs(got_np - want) <= 1e-12 * np.maximum(1.0, want ** 2) * want
                got_np = np.where(close, want, got_np)
            _same(got_np, want, text)


def test_sums_and_differences_equal_root() -> None:
    cases = REFS["combined"]
    rows = [REFS["inputs"][c["i"]] + REFS["inputs"][c["j"]] for c in cases]
    frame = _frame(rows, COLUMNS)
    for op in ("+", "-"):
        for left in SYSTEMS:
            for right in SYSTEMS:
                pick = [n for n, c in enumerate(cases) if c["left"] == left
                        and c["right"] == right]
                sub = frame.subset(np.array(pick))
                for method in METHODS:
                    want = np.array([float(cases[n][op][method]) for n in pick])
                    text = (f"(ROOT::Math::{left}(a, b, c, d) {op} "
                            f"ROOT::Math::{right}(w, x, y, z)).{method}()")
                    got = _run(text, sub)
                    if left == "PtEtaPhiMVector":
                        _conditioned(got, want, [cases[n][op] for n in pick], text)
                    else:
                        _same(got, want, text)


def _conditioned(got: np.ndarray, want: np.ndarray, answers: list[dict[str, Any]],
                 what: str) -> None:
    """A PtEtaPhiMVector's E() is sqrt(P^2 + M^2): for a sum far from the mass shell
    (M^2 < 0, |M| close to P) the last bit of libm's cosh or log in P and M grows by
    P^2 / E^2; ROOT's own answer has that error too, so the tolerance scales with it."""
    p = np.array([float(a["P"]) for a in answers])
    e = np.array([float(a["E"]) for a in answers])
    with np.errstate(all="ignore"):
        cond = np.where(e != 0, np.maximum(1.0, (p / e) ** 2), 1.0)
        close = np.isclose(got, want, rtol=0, atol=0, equal_nan=True) | (
            np.abs(got - want) <= 1e-12 * cond * np.abs(want))
    assert close.all(), f"{what}: {got[~close]} != ROOT's {want[~close]}"


def test_unknown_method_is_a_build_time_error() -> None:
    with pytest.raises(ExpressionError, match="Boost"):
        compile_expression("ROOT::Math::PtEtaPhiEVector(a, b, c, d).Boost()", SCHEMA)


def test_nan_reference_is_read() -> None:  # the JSON spells NaN as a string
    assert any(math.isnan(float(r["Rapidity"])) for r in REFS["single"]["PtEtaPhiMVector"])


# ---------------------------------------------------------------- 4-vector locals in loops

def _loop_body(system: str, init: str) -> str:
    pushes = " ".join(f"r.push_back(p.{m}());" for m in METHODS)
    return (f"ROOT::RVecD r; for (int k = 0; k < 1; k++) {{ ROOT::Math::{system} {init}; "
            f"{pushes} }} return r;")


@pytest.mark.parametrize("system", SYSTEMS)
def test_locals_in_loops_equal_root(system: str) -> None:
    """A 4-vector local of a body with loops (compiled by numba as its coordinates)
    answers every accessor as ROOT does, the constructor's corrections included."""
    frame = _frame(REFS["inputs"])
    got = evaluate(compile_expression(_loop_body(system, "p(a, b, c, d)"), SCHEMA).tree, frame)
    for k, method in enumerate(METHODS):
        want = np.array([float(r[method]) for r in REFS["single"][system]])
        _same(np.asarray(ak.to_numpy(got[:, k])), want, f"{system}.{method}() in a loop")


def test_default_and_brace_locals_in_loops() -> None:
    frame = _frame(REFS["inputs"])
    text = ("double r = 0; for (int k = 0; k < 2; k++) { ROOT::Math::PtEtaPhiEVector q; "
            "ROOT::Math::PtEtaPhiEVector p{a * 1., b, c, d}; r += p.Theta() + q.Pt(); } "
            "return r;")
    want = 2 * np.array([float(r["Theta"]) for r in REFS["single"]["PtEtaPhiEVector"]])
    _same(_run(text, frame), want, text)


@pytest.mark.parametrize("text", [
    "ROOT::Math::PtEtaPhiEVector p(a, b, c, d); return (p + p).M();",
    "ROOT::Math::PtEtaPhiEVector p(a, b, c, d); ROOT::Math::PtEtaPhiEVector q = p; "
    "return q.M();",
    "ROOT::Math::PtEtaPhiEVector p(a, b, c, d); ROOT::Math::PtEtaPhiEVector q; q = p; "
    "return q.M();",
    "ROOT::Math::PtEtaPhiEVector p(a, b, c, d); return p;",
    "ROOT::Math::PxPyPzEVector p(a, b, c, d); return DeltaPhi(p.Phi(), a) + Sum(p);",
    "ROOT::Math::PtEtaPhiEVector p(a, b, c, d); p = ROOT::Math::PtEtaPhiEVector(a, b, c, d);"
    " return p.M();",
])
def test_unsupported_vector_uses_in_loops_are_build_time_errors(text: str) -> None:
    """What a body with loops does not compile of a 4-vector local is refused when the
    plan is built, pointing into the text, never a wrong answer or a crash on a chunk."""
    with pytest.raises(ExpressionError) as err:
        compile_expression("for (int i = 0; i < 2; i++) {} " + text, SCHEMA)
    assert "^" in str(err.value)


def test_lowercase_and_other_names_are_roots_aliases() -> None:
    """LorentzVector's `mass()`, `pt()`, `x()`, `Rho()`, ... forward to the same accessor
    (df104 writes `(p1 + p2).mass()`), columnar and in a loop."""
    frame = _frame(REFS["inputs"])
    pairs = {"mass": "M", "pt": "Pt", "x": "Px", "Rho": "Pt", "energy": "E", "theta": "Theta",
             "T": "E", "mt": "Mt", "R": "P"}
    for alias, method in pairs.items():
        want = np.array([float(r[method]) for r in REFS["single"]["PtEtaPhiEVector"]])
        _same(_run(f"ROOT::Math::PtEtaPhiEVector(a, b, c, d).{alias}()", frame), want, alias)
    text = ("double r = 0; for (int k = 0; k < 1; k++) { ROOT::Math::PtEtaPhiEVector "
            "p(a, b, c, d); r = p.mass(); } return r;")
    _same(_run(text, frame), np.array([float(r["M"]) for r in REFS["single"]["PtEtaPhiEVector"]]),
          text)


def test_every_accessor_is_pinned_and_compiled() -> None:
    """An accessor the checker accepts has ROOT references here and a compiled form for
    loop bodies in every system (else a kernel would fail on a chunk)."""
    from hepflow.engine.fourvector_scalar import FUNCTIONS as COMPILED
    from hepflow.plan.expr.functions import VECTOR_METHODS

    assert sorted(VECTOR_METHODS) == sorted(METHODS)
    assert all(f"{s}.{m}" in COMPILED for s in SYSTEMS for m in VECTOR_METHODS)
