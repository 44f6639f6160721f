"""C++ statement bodies and brace-built collections in expression strings (issue 22).

ROOT takes a string with `return` as a lambda body. Bodies without loops are
lowered to one expression for the vectorised evaluator; bodies with loops are
compiled per event with numba. Both are compared here with an eager per-event
computation in numpy's C++ types, on random NanoAOD-like events; the parser
is pinned statement by statement, and every construct outside the subset is an
ExpressionError with a caret under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_expr_semantics import SCHEMA, events_st, make_frame

import hepflow
from hepflow.core.types import jagged, scalar
from hepflow.engine import loopkernel
from hepflow.engine.evaluate import evaluate
from hepflow.engine.values import EvaluationFailure
from hepflow.errors import EvaluationError, ExpressionError, PlanError
from hepflow.plan.expr import compile_expression
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.loops import LoopBody
from hepflow.plan.expr.statement_parser import parse_body

F32 = np.float32


def run(text: str, events: Sequence[dict[str, Any]]) -> list[Any]:
    expr = compile_expression(text, SCHEMA)
    out = evaluate(expr.tree, make_frame(events))
    return ak.to_list(out) if isinstance(out, ak.Array) else out.tolist()


def error_of(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, SCHEMA)
    return info.value


# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize(("text", "kinds"), [
    ("double x; return 1.;", [s.Declare, s.Return]),
    ("double z = nMuon * 2; auto v = Muon_pt; return z;", [s.Declare, s.Declare, s.Return]),
    ("int a = 1, b{2}; return a + b;", [s.Block, s.Return]),
    ("int n = 0; n += 2; n -= 1; n *= 3; n /= 2; n = 4; n++; --n; return n;",
     [s.Declare] + [s.Assign] * 7 + [s.Return]),
    ("if (nMuon > 1) return 1; else if (nJet > 0) return 2; else return 3;", [s.If]),
    ("int n = 0; for (auto&& p : Muon_pt) { n++; } return n;",
     [s.Declare, s.RangeFor, s.Return]),
    ("int n = 0; for (const float& p : Muon_pt) n++; return n;",
     [s.Declare, s.RangeFor, s.Return]),
    ("int n = 0; for (int i = 0; i < 3; ++i) { if (i == 1) continue; break; } return n;",
     [s.Declare, s.For, s.Return]),
    ("int n = 0; while (n < 3) n++; return n;", [s.Declare, s.While, s.Return]),
    ("{ ; } Sum(Muon_pt); return 0;", [s.Block, s.Evaluate, s.Return]),
])
def test_each_statement_kind_parses(text: str, kinds: list[type]) -> None:
    body = parse_body(text)
    assert [type(x) for x in body.statements] == kinds


def test_statements_keep_their_spans() -> None:
    text = "double z = nMuon * 2;  if (z > 1) return z; return 0.;"
    body = parse_body(text)
    assert text[body.statements[0].start:body.statements[0].end] == "double z = nMuon * 2"
    branch = body.statements[1]
    assert isinstance(branch, s.If)
    assert text[branch.start:branch.end] == "if (z > 1) return z;"


@pytest.mark.parametrize(("text", "bad", "reason"), [
    ("class A {}; return 1;", "class", "classes are outside"),
    ("struct A { int x; }; return 1;", "struct", "classes are outside"),
    ("auto p = new double(1.); return *p;", "new", "new/delete"),
    ("template <typename T> T f(); return 1;", "template", "templates of one's own"),
    ("goto end; return 1;", "goto", "goto"),
    ('std::cout << "x"; return 1;', "std::cout", "I/O"),
    ('printf("x"); return 1;', "printf", "I/O"),
    ("double* p; return 1;", "*", "pointers"),
    ("do { } while (false); return 1;", "do", "do-while"),
    ("switch (nMuon) { case 1: return 1; } return 0;", "switch", "switch"),
    ("try { return 1; } catch (...) { return 0; }", "try", "exceptions"),
])
def test_constructs_outside_the_subset_are_named_with_a_caret(text: str, bad: str,
                                                               reason: str) -> None:
    err = error_of(text)
    assert reason in err.reason
    assert text[err.start:err.end] == bad
    assert "^" * len(bad) in str(err)


@pytest.mark.parametrize(("text", "pointed", "reason"), [
    ("double x; return x;", "x", "used before it is given a value"),
    ("double x = 0; if (Muon_pt > 1) x = 1; return x;", "Muon_pt > 1",
     "must be one value per event"),
    ("if (nMuon > 1) return 1;", "if (nMuon > 1) return 1;", "without `return`"),
    ("double x = 1.; x;", ";", "needs `return`"),
    ("if (nMuon) return 1; return 2.;", "return 2.;", "a lambda returns one type"),
    ("nMuon = 2; return 1;", "nMuon = 2", "cannot assign to `nMuon`: it is a column"),
    ("y = 2; return 1;", "y = 2", "not a local variable"),
    ("double nJet = 1.; return nJet;", "double nJet = 1.", "is a column"),
    ("break; return 1;", "break;", "outside a loop"),
    ("int n = 0; for (auto p : Muon_pt) n++; return Muon_pt[Muon_pt > n];",
     "Muon_pt[Muon_pt > n]", "built from locals, is not compiled yet"),
    ("int n = 0; for (auto p : Muon_pt) n++; return Construct<ROOT::Math::PtEtaPhiMVector>("
     "Muon_pt, Muon_eta, Muon_phi, Muon_mass);",
     "Construct<ROOT::Math::PtEtaPhiMVector>(Muon_pt, Muon_eta, Muon_phi, Muon_mass)",
     "a collection of numbers is needed here"),
    ("int n; for (auto p : MET_pt) n++; return n;", "MET_pt", "over a collection"),
    ("return;", ";", "without a value"),
    ("else return 1;", "else", "without a matching `if`"),
    ("int n = 0; Muon_pt[0] = 1; return n;", "Muon_pt[0] = 1",
     "not a local collection of this body"),
    ("int n = 0; n + 1 = 2; return n;", "=", "only a local variable or an element"),
    ("double x = 1 return x;", "return", "expected ';'"),
])
def test_errors_point_at_the_statement(text: str, pointed: str, reason: str) -> None:
    err = error_of(text)
    assert reason in err.reason, err
    assert text[err.start:err.end] == pointed


def test_an_expression_with_semicolons_but_no_return_is_refused() -> None:
    err = error_of("nMuon; nJet")
    assert "a lambda body, which needs `return`" in err.reason
    assert (err.start, err.end) == (5, 6)


# ---------------------------------------------------------------- brace-built collections


@pytest.mark.parametrize(("text", "want", "dtype"), [
    ("ROOT::RVecD{MET_pt, 2.}", lambda e: [float(e["MET_pt"]), 2.0], "float64"),
    ("ROOT::RVecF{1., 2., MET_pt}", lambda e: [1.0, 2.0, float(F32(e["MET_pt"]))], "float32"),
    ("RVec<int>{1, (int)nJet}", lambda e: [1, e["nJet"]], "int32"),
    ("ROOT::VecOps::RVec<float>{MET_pt * 2}", lambda e: [float(F32(e["MET_pt"]) * F32(2))],
     "float32"),
    ("std::vector<double>({MET_pt, MET_pt + 1, MET_pt + 2})",
     # `MET_pt + 1` is float arithmetic in C++ (float + int), then stored as double
     lambda e: [float(F32(e["MET_pt"]) + F32(k)) for k in range(3)], "float64"),
    ("std::array<double, 3>{MET_pt, 1}", lambda e: [float(e["MET_pt"]), 1.0, 0.0], "float64"),
    ("MET_pt < 30 ? ROOT::RVecD{MET_pt, 1.} : ROOT::RVecD{1., MET_pt}",
     lambda e: [float(e["MET_pt"]), 1.0] if e["MET_pt"] < 30 else [1.0, float(e["MET_pt"])],
     "float64"),
    ("ROOT::RVecD{}", lambda e: [], "float64"),
])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(events_st(), min_size=0, max_size=6))
def test_brace_lists_build_one_collection_per_event(text: str, want: Callable[[Any], Any],
                                                    dtype: str, events: list[Any]) -> None:
    expr = compile_expression(text, SCHEMA)
    assert expr.type == jagged(dtype)  # type: ignore[arg-type]
    out = evaluate(expr.tree, make_frame(events))
    assert ak.to_list(out) == [want(e) for e in events]
    if len(events):
        assert ak.to_numpy(ak.flatten(out)).dtype == np.dtype(dtype)


@pytest.mark.parametrize(("text", "reason"), [
    ("ROOT::RVecD{Muon_pt}", "must be one number per event"),
    ("std::array<double, 1>{MET_pt, 2.}", "too many initializers"),
    ("std::vector<Foo>{1}", "not a number type"),
    ("std::array<double, n>{1}", "constant size"),
])
def test_bad_brace_lists(text: str, reason: str) -> None:
    assert reason in error_of(text).reason


# ---------------------------------------------------------------- bodies against eager C++


def _count_above(e: dict[str, Any]) -> int:
    return sum(1 for p in e["Jet_pt"] if F32(p) > 30)


def _float_sum(e: dict[str, Any]) -> float:
    total = F32(0)
    for p in e["Muon_pt"]:
        total = F32(total + F32(p) * F32(1.1))
    return float(total)


def _skip_second(e: dict[str, Any]) -> float:
    total = F32(0)
    for i, p in enumerate(e["Jet_pt"]):
        if i != 1:
            total = F32(total + F32(p))
    return float(total)


def _halve(e: dict[str, Any]) -> int:
    x = int(e["nMuon"]) + 7
    for _ in range(3):
        x = int(x / -2)  # C++ truncates toward zero
    return int(np.fmod(x, 3))


def _norm(e: dict[str, Any]) -> float:
    return float(np.sqrt(float(e["MET_pt"]) ** 2 + float(e["MET_phi"]) ** 2))


def _charges(e: dict[str, Any]) -> int:
    return abs(sum(e["Muon_charge"]))


def _first_tight_pt(e: dict[str, Any]) -> float:
    for pt, tight in zip(e["Muon_pt"], e["Muon_tight"], strict=True):
        if tight:
            return float(pt)
    return -1.0


def _max_pt(e: dict[str, Any]) -> float:
    m = -1.0
    for p in e["Jet_pt"]:
        m = max(m, float(p))
    return m


def _dsum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += float(F32(v))
    return total


BODIES: list[tuple[str, Callable[[dict[str, Any]], Any], bool]] = [
    # (body, eager C++ per event, compiled with loops)
    ("double x; return nJet > 2 ? MET_pt : 1.;",
     lambda e: float(e["MET_pt"]) if e["nJet"] > 2 else 1.0, False),
    ("if (nJet > 2) return 2; else if (nJet > 0) return 1; return 0;",
     lambda e: 2 if e["nJet"] > 2 else 1 if e["nJet"] > 0 else 0, False),
    ("double z = MET_pt * 2; z += 1; if (z > 40) z = 0; return z;",
     lambda e: 0.0 if float(F32(e["MET_pt"]) * 2) + 1 > 40 else float(F32(e["MET_pt"]) * 2) + 1,
     False),
    ("unsigned int u = nMuon; u -= 2; return u / 3 - 7 % 2;",
     lambda e: (((e["nMuon"] - 2) % 2**32) // 3 - 1) % 2**32, False),
    ("float f = MET_pt; f *= 3; return f;", lambda e: float(F32(F32(e["MET_pt"]) * 3)), False),
    ("auto n = nMuon > 0 ? Muon_pt[0] : -1.f; { float n2 = n * 2; n = n2; } return n;",
     lambda e: float(F32(e["Muon_pt"][0]) * 2) if e["nMuon"] else -2.0, False),
    ("int n = 0; for (auto p : Jet_pt) { if (p > 30) n++; } return n;", _count_above, True),
    ("float s = 0; for (auto p : Muon_pt) s += p * 1.1f; return s;", _float_sum, True),
    ("float s = 0; for (int i = 0; i < (int)Jet_pt.size(); ++i) { if (i == 1) continue; "
     "s += Jet_pt[i]; } return s;", _skip_second, True),
    ("int x = nMuon + 7; for (int i = 0; i < 3; i++) x = x / -2; return x % 3;", _halve, True),
    ("std::array<double, 2> v{MET_pt, MET_phi}; double r2 = 0.0; "
     "for (auto&& w : v) r2 += w*w; return sqrt(r2);", _norm, True),
    ("int n = 0; for (auto c : Muon_charge) n += c; return abs(n);", _charges, True),
    ("unsigned int i = 0; while (i < nMuon) { if (Muon_tight[i]) return (double)Muon_pt[i]; "
     "++i; } return -1.;", _first_tight_pt, True),
    ("double m = -1; for (auto p : Jet_pt) m = std::max(m, (double)p); return m;", _max_pt,
     True),
    # collections built per event: push_back, resize, element assignment, brace returns
    ("ROOT::RVecD out; for (auto p : Muon_pt) if (p > 20) out.push_back(p * 2); return out;",
     lambda e: [float(F32(p) * F32(2)) for p in e["Muon_pt"] if p > 20], True),
    ("ROOT::RVecF out; out.reserve(4); for (auto p : Jet_pt) out.emplace_back(p); "
     "out.resize(4, 7.f); return out;",
     lambda e: ([float(F32(p)) for p in e["Jet_pt"]] + [7.0] * 4)[:max(4, e["nJet"])], True),
    ("RVec<int> c(nMuon + 1, 0); for (int i = 0; i < (int)c.size(); ++i) c[i] = i * i; "
     "c[0] += 5; return c;", lambda e: [5] + [i * i for i in range(1, e["nMuon"] + 1)], True),
    ("std::vector<float> v; for (auto p : Jet_pt) v.push_back(p); if (v.empty()) return -1.f; "
     "return v.back() + v.front();",
     lambda e: float(F32(e["Jet_pt"][-1]) + F32(e["Jet_pt"][0])) if e["nJet"] else -1.0, True),
    ("double s = 0; for (auto p : Muon_pt) s += p; return ROOT::RVecD{s, s * 2};",
     lambda e: [_dsum(e["Muon_pt"]), _dsum(e["Muon_pt"]) * 2], True),
    ("ROOT::RVecB v; for (auto t : Muon_tight) v.push_back(!t); v.clear(); return v.size();",
     lambda e: 0, True),
]


@pytest.mark.parametrize(("text", "eager", "compiled"), BODIES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(events_st(), min_size=0, max_size=8))
def test_bodies_equal_eager_cxx(text: str, eager: Callable[[dict[str, Any]], Any],
                                compiled: bool, events: list[dict[str, Any]]) -> None:
    expr = compile_expression(text, SCHEMA)
    assert isinstance(expr.tree.value, LoopBody) == compiled
    got = run(text, events)
    assert got == [eager(e) for e in events]


def test_kernel_result_types_are_cxx_types() -> None:
    assert compile_expression("float s = 0; for (auto p : Muon_pt) s += p; return s;",
                              SCHEMA).type == scalar("float32")
    assert compile_expression("double s = 0; for (auto p : Muon_pt) s += p; return s;",
                              SCHEMA).type == scalar("float64")
    assert compile_expression("unsigned n = 0; for (auto p : Muon_pt) n++; return n;",
                              SCHEMA).type == scalar("uint32")


def test_loop_kernel_on_many_events_equals_awkward() -> None:
    """A compiled range-for against awkward's columnar count, on 200k events."""
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 8, 200_000)
    pts = ak.unflatten(rng.uniform(0, 100, counts.sum()).astype(np.float32), counts)
    expr = compile_expression("int n = 0; double s = 0; for (auto p : Jet_pt) "
                              "{ if (p < 20) continue; n++; s += p; } return n > 0 ? s / n : 0.;",
                              SCHEMA)

    class Frame:
        n = len(counts)

        def column(self, name: str) -> Any:
            return pts

        def subset(self, index: np.ndarray) -> Any:  # pragma: no cover - not needed
            raise AssertionError

        def sample_info(self) -> Any:  # pragma: no cover - not needed
            raise AssertionError

    got = evaluate(expr.tree, Frame())
    kept = pts[pts >= 20]
    n = ak.to_numpy(ak.num(kept))
    sums = ak.to_numpy(ak.sum(ak.values_astype(kept, np.float64), axis=1))
    want = np.where(n > 0, sums / np.maximum(n, 1), 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_equal_bodies_share_one_kernel() -> None:
    text = "int n = 0; for (auto p : Muon_pt) n += 2; return n;"
    run(text, [{**_EMPTY, "nMuon": 1, "Muon_pt": [1.0]}])
    before = len(loopkernel._KERNELS)
    assert run(text, [{**_EMPTY, "nMuon": 2, "Muon_pt": [1.0, 2.0]}]) == [4]
    assert len(loopkernel._KERNELS) == before


_EMPTY: dict[str, Any] = {name: ([] if t.kind == "jagged" else 0) for name, t in SCHEMA.items()}


def test_index_past_the_end_in_a_compiled_body_fails_the_event() -> None:
    with pytest.raises(EvaluationFailure, match=r"out of range.*event 1 of this chunk"):
        run("int i = 0; for (auto p : Jet_pt) i++; return Jet_pt[i - 1];",
            [{**_EMPTY, "nJet": 1, "Jet_pt": [3.0]}, {**_EMPTY, "nJet": 0}])


def test_integer_division_by_zero_in_a_compiled_body() -> None:
    with pytest.raises(EvaluationFailure, match="division by zero"):
        run("int n = 0; for (auto p : Jet_pt) n++; return 10 / n;", [_EMPTY])


def test_nested_loops_count_together_against_the_limit() -> None:
    """2^16 x 2^16 iterations: each loop is short, the event's total is over 2^31."""
    text = ("long s = 0; for (int i = 0; i < 65536; ++i) { int j = 0; while (j < 65537) "
            "{ j++; s += j; } } return s;")
    with pytest.raises(EvaluationFailure, match="more than 2147483648 iterations"):
        run(text, [_EMPTY])


def test_a_runaway_loop_is_an_error_naming_the_expression() -> None:
    text = "int k = 0; while (true) k++; return k;"
    df = hepflow.RDataFrame(3, client="sync").Define("k", text)
    start = time.monotonic()
    with pytest.raises(EvaluationError, match=r"Define k = `int k = 0; while \(true\) k\+\+; "
                                              r"return k;` failed on entries 0-3.*more than "
                                              r"2147483648 iterations in one event"):
        df.Sum("k").GetValue()
    assert time.monotonic() - start < 60


def test_bodies_in_filter_vary_and_define_per_sample() -> None:
    df = hepflow.RDataFrame(4, client="sync").Define("x", "(double)rdfentry_")
    assert df.Filter("if (x > 1) return true; return false;").Count().GetValue() == 2
    varied = df.Vary("x", "return ROOT::RVecD{x * 0.5, x * 2};", ["down", "up"]).Sum("x")
    assert dict(hepflow.VariationsFor(varied)) == {"nominal": 6.0, "x:down": 3.0, "x:up": 12.0}
    picked = df.Vary("x", "x < 1.5 ? ROOT::RVecD{x, 10.} : ROOT::RVecD{10., x}", ["a", "b"])
    assert dict(hepflow.VariationsFor(picked.Sum("x"))) == \
        {"nominal": 6.0, "x:a": 21.0, "x:b": 25.0}
    per_sample = df.DefinePerSample("w", 'if (rdfsampleinfo_.Contains("nothing")) return 1.; '
                                         'else if (rdfsampleinfo_.Contains("Empty")) '
                                         'return 2.; return 3.;')
    assert per_sample.Sum("w").GetValue() == 8.0


# ---------------------------------------------------------------- fuzzing the grammar

_VALID = [text for text, _, _ in BODIES] + [
    "int a = 1, b{2}; return a + b;",
    "ROOT::RVecD{MET_pt, 2.}",
    "std::array<double, 2> v{MET_pt, 1}; return v;",
]
_TOKENS = ["int", "double", "auto", "float", "x", "n", "Muon_pt", "nMuon", "MET_pt", "=", "+=",
           "-=", "++", "--", ";", "{", "}", "(", ")", "[", "]", "if", "else", "for", "while",
           "return", "break", "continue", ":", "?", "<", ">", "+", "*", "/", "0", "1", "2.5",
           "&&", "&", ",", "ROOT::RVecD", "std::array", "RVec", "true", "size", "."]


@st.composite
def _mutated(draw: st.DrawFn, texts: Sequence[str] = tuple(_VALID),
             tokens: Sequence[str] = tuple(_TOKENS), edits: int = 3, cut: int = 6) -> str:
    """One of `texts` with up to `edits` tokens inserted, replacing a character, or cuts."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, edits))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(tokens))
        if action == "insert":
            text = f"{text[:pos]} {token} {text[pos:]}"
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, cut)):]
        else:
            text = f"{text[:pos]} {token} {text[pos + 1:]}"
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_mutated(), st.lists(st.sampled_from(_TOKENS), max_size=25).map(" ".join)))
def test_fuzzed_bodies_give_only_hepflow_errors(text: str) -> None:
    """Random and mutated bodies: they check, or fail with hepflow's own errors; loop-free
    ones also evaluate (failing events are EvaluationFailure); nothing hangs."""
    start = time.monotonic()
    try:
        expr = compile_expression(text, SCHEMA)
    except (ExpressionError, PlanError):
        assert time.monotonic() - start < 5
        return
    if not isinstance(expr.tree.value, LoopBody):
        try:
            evaluate(expr.tree, make_frame([{**_EMPTY, "nMuon": 1, "Muon_pt": [2.0]}, _EMPTY]))
        except EvaluationFailure:
            pass
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("func", ["exp", "log", "sin", "tan", "atan", "tanh", "log10", "sqrt"])
def test_compiled_cmath_equals_the_evaluators_bit_for_bit(func: str) -> None:
    """<cmath> of a float in a compiled body is C's float function, as in the columnar
    evaluator (whose results equal ROOT's, tests/test_float_semantics.py)."""
    rng = np.random.default_rng(1)
    events = [{**_EMPTY, "nMuon": 2, "Muon_pt": [float(F32(x)) for x in rng.uniform(0.01, 3, 2)]}
              for _ in range(200)]
    compiled = run(f"float r = 0; for (auto p : Muon_pt) r = {func}(p) + pow(p, 1.5f) "
                   "+ atan2(p, 2.f); return r;", events)
    columnar = run(f"{func}(Muon_pt[1]) + pow(Muon_pt[1], 1.5f) + atan2(Muon_pt[1], 2.f)",
                   events)
    assert compiled == columnar


# ---------------------------------------------------------------- Declare(cpp_source)

CPP = """
#include <cmath>
// comments and preprocessor lines are skipped
float rp_t_scaled(float x, double k) { return x * k; }
int rp_t_count(const ROOT::RVecF &v, float cut)
{
    int n = 0;
    for (auto p : v) if (p > cut) n++;   /* a range-for: compiled */
    return n;
}
double rp_t_both(float x, const ROOT::RVecF &v) { return rp_t_scaled(x, 2.) + rp_t_count(v, 20); }
ROOT::RVecD rp_t_pair(double a, double b) { return {a, b}; }
"""


def test_declared_cxx_functions_are_called_with_cxx_conversions() -> None:
    declared = hepflow.Declare(CPP)
    assert [repr(d) for d in declared] == [
        "float rp_t_scaled(float x, double k)", "int rp_t_count(RVec<float> v, float cut)",
        "double rp_t_both(float x, RVec<float> v)", "RVec<double> rp_t_pair(double a, double b)"]
    events = [{**_EMPTY, "MET_pt": 3.3, "nMuon": 3, "Muon_pt": [10.0, 25.0, 30.5]},
              {**_EMPTY, "MET_pt": 0.1}]
    # float * double is double, returned as float
    assert run("rp_t_scaled(MET_pt, 1.1)", events) == \
        [float(F32(float(F32(e["MET_pt"])) * 1.1)) for e in events]
    assert compile_expression("rp_t_scaled(MET_pt, 1.1)", SCHEMA).type == scalar("float32")
    assert run("rp_t_count(Muon_pt, 20)", events) == [2, 0]
    # a float plus an int is float, then returned as double
    assert run("rp_t_both(MET_pt, Muon_pt)", events) == \
        [float(F32(F32(float(F32(e["MET_pt"])) * 2.0) + sum(p > 20 for p in e["Muon_pt"])))
         for e in events]
    assert run("rp_t_pair(1, nMuon)", events) == [[1.0, 3.0], [1.0, 0.0]]
    # a statement body calling them
    assert run("double x = rp_t_count(Muon_pt, 5); return x > 2 ? x : -x;", events) == \
        [3.0, -0.0]


def test_declare_reads_a_header_file(tmp_path: Any) -> None:
    header = tmp_path / "helpers.h"
    header.write_text("#pragma once\nint rp_t_header(int a) { return a / 2; }\n")
    hepflow.Declare(str(header))
    assert run("rp_t_header(-7)", [_EMPTY]) == [-3]  # C++ truncates toward zero


@pytest.mark.parametrize(("source", "pointed", "reason"), [
    ("class RpHelper { int x; };", "class", "classes are outside"),
    ("double rp_t_bad(float x) { return y; }", "y", "unknown column `y`"),
    ("double rp_t_rec(double x) { return rp_t_rec(x - 1); }", "rp_t_rec(x - 1)",
     "recursive C++ functions are not supported"),
    ("void rp_t_void(float x) { }", "void", "computes no column"),
    ("double rp_t_half(float x) { if (x > 1) return x; }", "if (x > 1) return x;",
     "without `return`"),
    ("template <typename T> T rp_t_tpl(T x) { return x; }", "template", "templates"),
    ("double rp_t_ptr(double* x) { return 1; }", "*", "pointers are outside"),
    ("double rp_t_def(double x = 1) { return x; }", "=", "default arguments"),
])
def test_declare_refuses_with_a_caret_in_the_source(source: str, pointed: str,
                                                     reason: str) -> None:
    with pytest.raises(ExpressionError) as info:
        hepflow.Declare(source)
    err = info.value
    assert reason in err.reason
    assert source[err.start:err.end] == pointed


# Declared sources in the forms ROOT analyses use (the AGC port's helpers among them);
# their functions are named fz_* so that a fuzzed declaration replaces only its own kind.
_SOURCES = [
    CPP.replace("rp_t_", "fz_"),
    "#include <cmath>\nfloat fz_scale() { return 1.03; }\n"
    "ROOT::RVecF fz_flat() { return 1 + ROOT::RVecF({.025, -.025}); }\n",
    "ROOT::RVecF fz_var(const ROOT::RVecF &jet_pt)\n{\n   ROOT::RVecF res;\n"
    "   for (const float &pt : ROOT::VecOps::Take(jet_pt, 4))\n   {\n"
    "      res.push_back(1 + .075 * pt / 50);\n      res.push_back(1 - .075 * pt / 50);\n"
    "   }\n   return res;\n}\n",
    "ROOT::RVecF fz_fill(std::size_t size)\n{\n   ROOT::RVecF res(size);\n"
    "   std::generate(std::begin(res), std::end(res), []() { return 1.5; });\n"
    "   return res;\n}\n",
    "ULong64_t fz_mix(ULong64_t x)\n{\n   ULong64_t z = x + 0x9E3779B97F4A7C15ULL;\n"
    "   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;\n   return z ^ (z >> 31);\n}\n",
]
_SOURCE_TOKENS = [*_TOKENS, "#include", "<cmath>", "const", "&", "::", "ROOT::RVecF",
                  "ROOT::VecOps::Take", "std::generate", "std::begin", "ROOT::Math::PxPyPzMVector",
                  "thread_local", "static", "template", "class", "*", "ULL", "0x1F", "//", "/*",
                  "*/", "std::size_t", "[]()", "push_back", "fz_scale()", "#define X 1"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(_mutated(_SOURCES, _SOURCE_TOKENS, edits=4, cut=8),
                        st.lists(st.sampled_from(_SOURCE_TOKENS), max_size=30).map(" ".join)))
def test_fuzzed_declared_sources_give_only_hepflow_errors(source: str) -> None:
    """Mutated C++ helper sources: `Declare` takes them or refuses them with hepflow's own
    errors, quickly; what it takes can be called (type-checked) from an expression."""
    start = time.monotonic()
    try:
        declared = hepflow.Declare(source)
    except (ExpressionError, PlanError):
        assert time.monotonic() - start < 5
        return
    for declaration in declared:
        function = declaration.function
        args = ", ".join("Muon_pt" if t.kind == "jagged" else "nMuon"
                         for _, t in function.params)
        try:
            compile_expression(f"{function.name}({args})", SCHEMA)
        except (ExpressionError, PlanError):
            pass
    assert time.monotonic() - start < 5


def test_calls_of_declared_cxx_are_checked_at_the_call() -> None:
    hepflow.Declare("double rp_t_one(const ROOT::RVecF &v) { return v.size(); }")
    assert "takes 1 argument(s), got 2" in error_of("rp_t_one(Muon_pt, 1)").reason
    err = error_of("rp_t_one(MET_pt)")
    assert "expects RVec<float> for `v`, not float" in err.reason
    assert (err.start, err.end) == (9, 15)


def test_declared_functions_build_collections() -> None:
    hepflow.Declare("""
    ROOT::RVecF rp_t_above(const ROOT::RVecF &pt, float cut) {
        ROOT::RVecF out;
        for (auto p : pt) if (p > cut) out.push_back(p);
        return out;
    }
    ROOT::RVecD rp_t_shift(ROOT::RVecF v, double d) {  // a copy, changed in place
        for (size_t i = 0; i < v.size(); ++i) v[i] += d;
        v.push_back(d);
        return v;
    }
    """)
    events = [{**_EMPTY, "nMuon": 3, "Muon_pt": [1.5, 2.5, 3.5]}, _EMPTY]
    assert run("rp_t_above(Muon_pt, 2)", events) == [[2.5, 3.5], []]
    assert compile_expression("rp_t_above(Muon_pt, 2)", SCHEMA).type == jagged("float32")
    assert run("Sum(rp_t_above(Muon_pt, 2))", events) == [6.0, 0.0]
    assert run("rp_t_shift(Muon_pt, 0.25)", events) == [[1.75, 2.75, 3.75, 0.25], [0.25]]
    assert run("Muon_pt", events) == [[1.5, 2.5, 3.5], []]  # the column is unchanged


def test_collections_sized_by_a_value_and_taken_from_parameters() -> None:
    """The AGC helpers' forms: `RVecF res(n)` (zeros) filled by index, `std::vector<T>
    v(n)`, `auto t = Take(v, 4)` read by index, and a range-for over `Take(v, n)`."""
    hepflow.Declare("""
    ROOT::RVecF rp_t_doubled(const ROOT::RVecF &pt) {
        ROOT::RVecF res(pt.size());
        for (std::size_t i = 0; i < pt.size(); ++i) res[i] = 2 * pt[i];
        return res;
    }
    ROOT::RVecD rp_t_ramp(int n) {
        std::vector<double> v(n);
        for (int i = 1; i < n; i++) v[i] = v[i - 1] + 0.5;
        ROOT::RVecD out(n, -1.);
        for (std::size_t i = 0; i < v.size(); ++i) out[i] += v[i];
        return out;
    }
    float rp_t_lead2(const ROOT::RVecF &jet_pt) {
        if (jet_pt.size() < 2) return -1;
        auto t = ROOT::VecOps::Take(jet_pt, 2);
        float s = 0;
        for (std::size_t i = 0; i < t.size(); ++i) s += t[i] * (i + 1);
        return s;
    }
    ROOT::RVecF rp_t_updown(const ROOT::RVecF &jet_pt) {
        ROOT::RVecF res;
        for (const float &pt : ROOT::VecOps::Take(jet_pt, -2)) {
            res.push_back(1 + .075 * pt / 50);
            res.push_back(1 - .075 * pt / 50);
        }
        return res;
    }
    """)
    events = [{**_EMPTY, "nMuon": 3, "Muon_pt": [10.5, 20.25, 30.0]},
              {**_EMPTY, "nMuon": 2, "Muon_pt": [7.0, 1.5]}]
    assert run("rp_t_doubled(Muon_pt)", events) == [[21.0, 40.5, 60.0], [14.0, 3.0]]
    assert run("rp_t_ramp(nMuon)", events) == [[-1.0, -0.5, 0.0], [-1.0, -0.5]]
    assert run("rp_t_lead2(Muon_pt)", events) == [10.5 + 2 * 20.25, 7.0 + 3.0]
    # float + double is double, stored back as float: the last two elements, in order
    want = [[float(F32(1 + .075 * float(F32(p)) / 50)) if k == 0 else
             float(F32(1 - .075 * float(F32(p)) / 50)) for p in e["Muon_pt"][-2:]
             for k in (0, 1)] for e in events]
    assert run("rp_t_updown(Muon_pt)", events) == want
    # ROOT's Take(v, n) throws when v has fewer than |n| elements
    with pytest.raises(EvaluationFailure, match=r"Take asked for more elements.*event 1"):
        run("rp_t_updown(Muon_pt)", [events[0], {**_EMPTY, "nMuon": 1, "Muon_pt": [3.0]}])
    assert run("ROOT::RVecF res(nMuon); for (std::size_t i = 0; i < res.size(); ++i) "
               "res[i] = i * 1.5f; return res;", events) == [[0.0, 1.5, 3.0], [0.0, 1.5]]


@pytest.mark.parametrize("take", ["Take(Muon_pt, -3, -1.f)", "Take(Muon_pt, 2, 0.5f)",
                                  "Take(Muon_pt, Argsort(Muon_eta))",
                                  "Take(Muon_pt, nMuon > 1 ? -2 : (int)nMuon)"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(events_st(), min_size=0, max_size=6))
def test_compiled_take_equals_the_columnar_take(take: str, events: list[Any]) -> None:
    """Take by a count (padded with a default), by indices, in a compiled body: a local
    read by index and a range-for give the columnar evaluator's Take."""
    by_index = (f"auto t = {take}; ROOT::RVecF r; for (std::size_t i = 0; i < t.size(); ++i) "
                "r.push_back(t[i]); return r;")
    ranged = f"ROOT::RVecF r; for (const float &x : {take}) r.push_back(x); return r;"
    want = run(take, events)
    assert run(by_index, events) == want
    assert run(ranged, events) == want


def test_generate_fills_a_local_collection_in_order() -> None:
    """`std::generate(std::begin(res), std::end(res), []() { return f(); })`, as the AGC
    helpers fill an `RVecF res(size)`: each element gets the lambda's value, in order."""
    hepflow.Declare("""
    float rp_t_factor() { return 0.75; }
    ROOT::RVecF rp_t_factors(std::size_t size) {
        ROOT::RVecF res(size);
        std::generate(std::begin(res), std::end(res), []() { return rp_t_factor(); });
        return res;
    }
    """)
    events = [{**_EMPTY, "nMuon": 3, "Muon_pt": [1.0, 2.0, 3.0], "MET_pt": 2.5}, _EMPTY]
    assert run("rp_t_factors(Muon_pt.size())", events) == [[0.75] * 3, []]
    assert run("Muon_pt * rp_t_factors(Muon_pt.size())", events) == [[0.75, 1.5, 2.25], []]
    text = ("ROOT::RVecD r(nMuon); std::generate(r.begin(), r.end(), [&]() "
            "{ return MET_pt * 2; }); return r;")
    assert run(text, events) == [[5.0] * 3, []]


def test_a_define_body_may_leave_out_its_last_semicolon() -> None:
    """ROOT appends `;` to the body it compiles: the AGC writes `"return Map(...)"`."""
    events = [{**_EMPTY, "nMuon": 2, "Muon_pt": [1.5, 2.5], "MET_pt": 4.0}]
    assert run("double x = MET_pt; return x * 3", events) == [12.0]
    assert run("return Map(Muon_pt, [](float p) { return p * 2; })", events) == [[3.0, 5.0]]
    assert "expected ';'" in error_of("double x = MET_pt return x").reason


def test_declared_functions_return_collections_of_four_vectors() -> None:
    """`ROOT::RVec<ROOT::Math::PxPyPzMVector> f(const ROOT::RVecD &pt, ...)` returning
    `Construct<PxPyPzMVector>(Construct<PtEtaPhiMVector>(...))`: the same vectors as the
    Define expression, read through Map, Take and ArgMax."""
    hepflow.Declare("""
    ROOT::RVec<ROOT::Math::PxPyPzMVector> rp_t_p4(const ROOT::RVecD &pt, const ROOT::RVecD &eta,
                                                  const ROOT::RVecD &phi, const ROOT::RVecD &m)
    {
        return ROOT::VecOps::Construct<ROOT::Math::PxPyPzMVector>(
            ROOT::VecOps::Construct<ROOT::Math::PtEtaPhiMVector>(pt, eta, phi, m));
    }
    """)
    events = [{**_EMPTY, "nMuon": 3, "Muon_pt": [10.5, 40.0, 20.25], "Muon_eta": [0.5, -1.0, 2.0],
               "Muon_phi": [0.1, 2.0, -3.0], "Muon_mass": [0.1, 0.2, 0.3]}, _EMPTY]
    args = "Muon_pt, Muon_eta, Muon_phi, Muon_mass"
    assert compile_expression(f"rp_t_p4({args})", SCHEMA).type == jagged("PxPyPzMVector")
    lam = "[](const ROOT::Math::PxPyPzMVector &v) { return v.Pt(); }"
    assert run(f"return ROOT::VecOps::Map(rp_t_p4({args}), {lam});", events) == \
        [[float(F32(p)) for p in e["Muon_pt"]] for e in events]
    m = "rp_t_p4(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"
    ptm = f"ROOT::VecOps::Map({m}, {lam})"
    want = run("Muon_pt.size() > 0 ? ROOT::Math::PtEtaPhiMVector(Muon_pt[ArgMax(Muon_pt)], "
               "Muon_eta[ArgMax(Muon_pt)], Muon_phi[ArgMax(Muon_pt)], "
               "Muon_mass[ArgMax(Muon_pt)]).M() : -1.", events)
    got = run(f"auto pt = {ptm}; return pt.size() > 0 ? {m}[ROOT::VecOps::ArgMax(pt)].M() "
              ": -1.;", events)
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(("source", "pointed", "reason"), [
    ("double rp_t_gaus() { thread_local double x = 1; return x; }", "thread_local",
     "`thread_local` is taken here only for <random>'s"),
    ("double rp_t_gaus() { std::mt19937 gen{3}; return 1; }", "std::mt19937",
     "would be made again, and seeded again, at every call"),
    ("double rp_t_gaus() { thread_local std::mt19937_64 gen{3}; return 1; }",
     "std::mt19937_64", "random number generators are outside"),
    ("double rp_t_gaus() { thread_local std::normal_distribution<double> d{1, 0.05}; "
     "return d(3); }", "d(3)", "takes one thread_local std::mt19937"),
    ("double rp_t_gaus(int s) { thread_local std::mt19937 gen{s}; return gen(); }", "s",
     "must be an integer, or rd() of a thread_local std::random_device"),
    ("double rp_t_gaus() { thread_local std::mt19937 gen{1}; "
     "thread_local std::normal_distribution<float> d{1, -2}; return d(gen); }", "d",
     "standard deviation must be positive"),
    ("double rp_t_gaus() { thread_local std::mt19937 gen{1}; "
     "thread_local std::normal_distribution<float> d; d(gen); return 1; }", "d(gen)",
     "this draw's value is not used"),
    ("double rp_t_gaus() { thread_local std::random_device rd; return rd(); }", "rd()",
     "seeds an engine here"),
    ("double rp_t_gaus() { thread_local std::mt19937 gen; "
     "return std::normal_distribution<float>(0, 1)(gen); }", "std::normal_distribution",
     "as a `thread_local` variable"),
    ("double rp_t_gaus() { thread_local std::normal_distribution<int> d; return 1; }",
     "std::normal_distribution", "takes float or double here"),
    ("ROOT::RVecF rp_t_gen(int n) { ROOT::RVecF r(n); std::generate(std::begin(r), "
     "std::end(r), [](float x) { return x; }); return r; }",
     "std::generate(std::begin(r), std::end(r), [](float x) { return x; })",
     "a lambda of no parameter whose body is one return"),
    ("double rp_t_v(const ROOT::RVecF &pt, const ROOT::RVecF &eta) { "
     "ROOT::RVec<ROOT::Math::PxPyPzMVector> v; for (auto p : pt) {} return 1; }",
     "ROOT::RVec<ROOT::Math::PxPyPzMVector> v",
     "a local of type RVec<ROOT::Math::PxPyPzMVector> is not compiled yet"),
])
def test_agc_forms_outside_the_subset_are_refused_by_name(source: str, pointed: str,
                                                           reason: str) -> None:
    """What of the AGC helpers' forms stays outside, or is misused: random objects that are
    not thread_local, engines other than libstdc++'s Mersenne Twister, draws whose value
    is dropped, generate with another lambda, collections of 4-vectors built in a loop."""
    with pytest.raises(ExpressionError) as info:
        hepflow.Declare(source)
    err = info.value
    assert reason in err.reason
    assert source[err.start:err.end] == pointed


def test_a_string_whose_only_return_is_in_a_lambda_is_refused_as_in_root() -> None:
    text = "Map(Muon_pt, [](float x) { return x * 2; })"
    err = error_of(text)
    assert "the only `return` is inside a lambda" in err.reason
    assert (err.start, err.end) == (0, len(text))


def test_four_vector_locals_in_bodies_and_functions() -> None:
    hepflow.Declare("""
    float rp_t_m2(float pt1, float eta1, float phi1, float pt2, float eta2, float phi2) {
        ROOT::Math::PtEtaPhiMVector p1(pt1, eta1, phi1, 0.1);
        ROOT::Math::PtEtaPhiMVector p2{pt2, eta2, phi2, 0.1};
        return (p1 + p2).M();
    }
    """)
    events = [{**_EMPTY, "nMuon": 2, "Muon_pt": [10.5, 20.5], "Muon_eta": [0.1, -1.0],
               "Muon_phi": [0.3, 2.0]}]
    args = "Muon_pt[0], Muon_eta[0], Muon_phi[0], Muon_pt[1], Muon_eta[1], Muon_phi[1]"
    columnar = run("(float)(ROOT::Math::PtEtaPhiMVector(Muon_pt[0], Muon_eta[0], Muon_phi[0], "
                   "0.1) + ROOT::Math::PtEtaPhiMVector(Muon_pt[1], Muon_eta[1], Muon_phi[1], "
                   "0.1)).M()", events)
    assert run(f"rp_t_m2({args})", events) == columnar
    assert run("ROOT::Math::PtEtaPhiMVector p(Muon_pt[0], Muon_eta[0], Muon_phi[0], 0.1); "
               "return p.Pt();", events) == [10.5]


# ---------------------------------------------------------------- lambdas in Map


@pytest.mark.parametrize(("text", "want", "dtype"), [
    ("return Map(Muon_pt, [](float x) { return x * 2; });",
     lambda e: [float(F32(p) * F32(2)) for p in e["Muon_pt"]], "float32"),
    ("return Map(Muon_pt, Muon_eta, [](float pt, float eta) -> double "
     "{ if (eta > 0) return pt; return -pt; });",
     lambda e: [float(F32(p)) if h > 0 else -float(F32(p))
                for p, h in zip(e["Muon_pt"], e["Muon_eta"], strict=True)], "float64"),
    ("return Map(Muon_pt, [&](float x) { return x > MET_pt; });",
     lambda e: [F32(p) > F32(e["MET_pt"]) for p in e["Muon_pt"]], "bool"),
    ("return Map(Muon_pt, [](float x) { return (int)x; });",
     lambda e: [int(F32(p)) for p in e["Muon_pt"]], "int32"),
    ("return Map(Muon_pt, [](auto x) { auto y = x * 2; y += 1; return y; });",
     lambda e: [float(F32(F32(p) * F32(2)) + F32(1)) for p in e["Muon_pt"]], "float32"),
])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(events_st(), min_size=0, max_size=6))
def test_map_lambdas_apply_to_every_element(text: str, want: Callable[[Any], Any], dtype: str,
                                            events: list[Any]) -> None:
    assert compile_expression(text, SCHEMA).type == jagged(dtype)  # type: ignore[arg-type]
    assert run(text, events) == [want(e) for e in events]


@pytest.mark.parametrize(("text", "pointed", "reason"), [
    ("return Map(Muon_pt, [](float x) { return x > MET_pt; });",
     "[](float x) { return x > MET_pt; }", "captures nothing; write [&]"),
    ("return Map(Muon_pt, [](float x) { return Sum(x); });", "x", "Sum needs a collection"),
    ("return Map(Muon_pt, [](float x) { if (x > 2) return 1; return 2.; });", "return 2.;",
     "a lambda returns one type"),
    ("return Map(Muon_pt, [](float x, float y) { return x; });",
     "Map(Muon_pt, [](float x, float y) { return x; })", "needs 2 collection(s), got 1"),
    ("return Map(Muon_pt, [x](float p) { return p; });", "x", "named captures"),
    ("return Map(Muon_pt, [](float x) { for (;;) {} return x; });",
     "[](float x) { for (;;) {} return x; }", "loops inside a Map lambda"),
])
def test_map_lambda_errors(text: str, pointed: str, reason: str) -> None:
    err = error_of(text)
    assert reason in err.reason
    assert text[err.start:err.end] == pointed


# ---------------------------------------------------------------- compiled = columnar

_D_TYPES = ["int", "unsigned int", "float", "double", "bool", "long", "unsigned char", "short"]
_D_ATOMS = ["nMuon", "MET_pt", "nJet", "MET_phi", "1", "2u", "0.5", "3.f", "true", "-7",
            "Muon_pt.size()", "Jet_jetId.size()"]
_D_OPS = ["+", "-", "*", "<", ">", "==", "&&", "||"]


def _random_expression(rng: Any, names: list[str], depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(names + _D_ATOMS)
    pick = rng.random()
    if pick < 0.6:
        return (f"({_random_expression(rng, names, depth + 1)} {rng.choice(_D_OPS)} "
                f"{_random_expression(rng, names, depth + 1)})")
    if pick < 0.75:
        return (f"({_random_expression(rng, names, depth + 1)} ? "
                f"{_random_expression(rng, names, depth + 1)} : "
                f"{_random_expression(rng, names, depth + 1)})")
    if pick < 0.9:
        return f"({rng.choice(_D_TYPES)}){rng.choice(names + _D_ATOMS)}"
    return (f"std::max({_random_expression(rng, names, depth + 1)}, "
            f"{_random_expression(rng, names, depth + 1)})")


@pytest.mark.parametrize("seed", range(6))
def test_compiled_arithmetic_equals_the_columnar_evaluator(seed: int) -> None:
    """Random typed locals and expressions: the numba kernel (a body with a loop) gives
    what the columnar evaluator gives for the same body without the loop."""
    import random

    rng = random.Random(seed)
    events = [{**_EMPTY, "nMuon": 3, "Muon_pt": [1.5, 2.5, 3.5], "nJet": 2, "Jet_pt": [1., 2.],
               "Jet_jetId": [2, 255], "MET_pt": 3.5, "MET_phi": -1.0},
              {**_EMPTY, "MET_pt": -2.25, "MET_phi": 0.5, "nMuon": 7}]
    compared = 0
    while compared < 3:
        names: list[str] = []
        declared = []
        for i in range(2):
            declared.append(f"{rng.choice(_D_TYPES)} v{i} = {_random_expression(rng, names)};")
            names.append(f"v{i}")
        body = " ".join(declared)
        value = _random_expression(rng, names)
        try:
            columnar = run(f"{body} return {value};", events)
        except ExpressionError:
            continue
        compiled = run(f"{body} for (auto p : Jet_pt) {{ }} return {value};", events)
        assert compiled == columnar, f"{body} return {value};"
        compared += 1


@pytest.mark.parametrize(("op", "apply"), [
    ("%=", lambda x: x % 3), ("&=", lambda x: x & 3), ("|=", lambda x: x | 3),
    ("^=", lambda x: x ^ 3), ("<<=", lambda x: x << 3), (">>=", lambda x: x >> 3)])
def test_every_compound_assignment_of_cxx(op: str, apply: Callable[[int], int]) -> None:
    """`%=`, `&=`, `|=`, `^=`, `<<=`, `>>=` as C++ has them, in a body without loops (one
    expression) and in a compiled one."""
    df = hepflow.RDataFrame(40, client="sync")
    plain = df.Define("x", f"int x = rdfentry_ + 5; x {op} 3; return x;")
    looped = plain.Define("y", f"int y = rdfentry_ + 5; for (int i = 0; i < 1; ++i) y {op} 3; "
                               "return y;")
    got = looped.AsNumpy(["x", "y"])
    want = [apply(e + 5) for e in range(40)]
    assert got["x"].tolist() == want and got["y"].tolist() == want


def test_compiled_floor_and_ceil_stay_floating_point() -> None:
    """std::floor/ceil return a double in C++, also beyond 2^63 and for inf and NaN
    (numba's math.floor returns an int64, which cannot hold them)."""
    df = hepflow.RDataFrame(4, client="sync").Define(
        "x", "rdfentry_ == 0 ? 1e30 : rdfentry_ == 1 ? -2.5 : rdfentry_ == 2 ? 1. / 0. : "
             "0. / 0.")
    both = (df.Define("f", "double r = x; for (int i = 0; i < 1; ++i) r = floor(r); return r;")
              .Define("c", "double r = x; for (int i = 0; i < 1; ++i) r = ceil(r); return r;")
              .AsNumpy(["x", "f", "c"]))
    np.testing.assert_array_equal(both["f"], np.floor(both["x"]))
    np.testing.assert_array_equal(both["c"], np.ceil(both["x"]))
