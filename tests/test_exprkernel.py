"""The compiled backend (`engine.exprkernel`) against the columnar evaluator, bit for bit.

Random well-typed expressions from the semantics suite's grammar, on its random
NanoAOD-like events, are evaluated by both backends: where the compiler takes
an expression, both must fail or both must give the same values in the same
dtype, bit for bit. One difference is allowed by design: a *double*
transcendental function (sin, exp, ...) is the C library's in the kernel, as in
ROOT, where numpy's SIMD loops may differ in the last bit; expressions calling
one compare floats to 1e-12 relative.

"auto" compiles expressions that read a collection, where one kernel replaces
a temporary per operator (measured: `exprkernel.chosen`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from hypothesis import assume, given, settings
from test_expr_semantics import (
    EVENTS,
    EVENTS_BY_HAND,
    MAYBE_NO_EVENTS,
    SCHEMA,
    SETTINGS,
    event,
    expressions,
    make_frame,
)
from test_kernel_cache import fresh_process

import hepflow
from hepflow.engine import exprkernel
from hepflow.engine.evaluate import evaluate
from hepflow.engine.values import EvaluationFailure
from hepflow.options import Options
from hepflow.plan.expr import compile_expression

#: functions whose double overload is the C library's in the kernel, numpy's in the evaluator
_TRANSCENDENTAL = re.compile(r"\b(sin|cos|tan|asin|acos|atan|atan2|sinh|cosh|tanh|asinh|acosh|"
                             r"atanh|exp|log|log10|log2|pow|hypot|Delta\w*|Invariant\w*)\b")


def _both(text: str, events: Sequence[Mapping[str, Any]]) -> tuple[Any, Any]:
    """(columnar, compiled) results or raised failures of `text` on `events`."""
    expr = compile_expression(text, SCHEMA)
    assert exprkernel.compilable(expr.tree), text
    results = []
    for run in (evaluate, exprkernel.evaluate):
        frame = make_frame(events)
        try:
            results.append(run(expr.tree, frame))
        except (EvaluationFailure, ValueError) as exc:  # awkward's broadcast error: misaligned
            results.append(exc)
    return results[0], results[1]


def _flat(x: Any) -> tuple[np.ndarray, list[int] | None]:
    if isinstance(x, ak.Array):
        return np.asarray(ak.to_numpy(ak.flatten(x, axis=1))), ak.to_list(ak.num(x, axis=1))
    return np.asarray(x), None


def _same(text: str, columnar: Any, compiled: Any) -> str | None:
    """Why the compiled result differs from the columnar one, or None."""
    if isinstance(columnar, Exception) or isinstance(compiled, Exception):
        if isinstance(columnar, Exception) and isinstance(compiled, Exception):
            return None
        return f"columnar gave {columnar!r}, compiled gave {compiled!r}"
    if isinstance(columnar, ak.Array) != isinstance(compiled, ak.Array):
        return f"shapes differ: {columnar!r} / {compiled!r}"
    (a, counts_a), (b, counts_b) = _flat(columnar), _flat(compiled)
    if counts_a != counts_b or a.shape != b.shape:
        return f"sizes differ: {columnar!r} / {compiled!r}"
    if a.dtype != b.dtype:
        return f"dtypes differ: {a.dtype} / {b.dtype}"
    if a.dtype.kind == "f":
        bits = a.view(f"u{a.dtype.itemsize}") == b.view(f"u{b.dtype.itemsize}")
        both_nan = np.isnan(a) & np.isnan(b)
        if bool(np.all(bits | both_nan)):
            return None
        if _TRANSCENDENTAL.search(text) and bool(np.all(np.isclose(
                a, b, rtol=1e-12, atol=0.0, equal_nan=True))):
            return None
        return f"values differ:\n  columnar {a.tolist()}\n  compiled {b.tolist()}"
    if not np.array_equal(a, b):
        return f"values differ:\n  columnar {a.tolist()}\n  compiled {b.tolist()}"
    return None


def check(text: str, events: Sequence[Mapping[str, Any]]) -> None:
    expr = compile_expression(text, SCHEMA)
    assume(exprkernel.compilable(expr.tree))
    problem = _same(text, *_both(text, events))
    assert problem is None, f"{text!r} on {len(events)} events: {problem}"


# ---------------------------------------------------------------- random expressions


@SETTINGS
@given(text=expressions(kind="scalar"), events=EVENTS)
def test_scalar_expressions_compile_to_the_evaluators_values(text: str,
                                                            events: list[dict[str, Any]]) -> None:
    check(text, events)


@SETTINGS
@given(text=expressions(kind="jagged"), events=EVENTS)
def test_collection_expressions_compile_to_the_evaluators_values(
        text: str, events: list[dict[str, Any]]) -> None:
    check(text, events)


@settings(parent=SETTINGS, max_examples=max(SETTINGS.max_examples // 2, 1))
@given(text=expressions(kind="scalar", dtype="bool", depth=2), events=MAYBE_NO_EVENTS)
def test_filters_compile_to_the_evaluators_values(text: str,
                                                  events: list[dict[str, Any]]) -> None:
    check(text, events)


# ---------------------------------------------------------------- constructs, by hand

CONSTRUCTS = [
    "MET_pt * 2 + 1", "-PV_npvs", "~nMuon", "!HLT_IsoMu24", "(int)MET_pt", "(unsigned)MET_phi",
    "event / 3 + PV_npvs", "nMuon % 2", "PV_npvs / -7", "2u - 3", "1 << nJet", "-16 >> 2",
    "MET_pt > 20 && HLT_IsoMu24 || Flag_good", "HLT_IsoMu24 ? MET_pt : MET_phi",
    "nMuon > 0 ? Muon_pt[0] : -1.f", "nMuon > 1 && Muon_pt[1] > 20",
    "sin(MET_phi)", "sin(double(MET_phi))", "pow(MET_pt, 2.f)", "atan2(MET_phi, MET_pt)",
    "sqrt(MET_pt * 2.)", "floor(MET_phi)", "ceil(MET_phi)", "fmod(MET_pt, 7.f)", "round(MET_phi)",
    "abs(PV_npvs)", "fabs(MET_phi)", "std::max(MET_pt, 10.f)", "std::min(nJet, 2u)",
    "Sum(Muon_pt)", "Sum(Muon_charge)", "Sum(Muon_tight)", "Product(Muon_charge)",
    "Mean(Muon_eta)", "nMuon > 0 ? Max(Muon_pt) : 0.f", "nJet > 0 ? Min(Jet_eta) : 0.f",
    "ArgMax(Muon_pt)", "ArgMin(Jet_eta)", "Any(Muon_pt > 30)", "All(Muon_tight)",
    "size(Muon_pt)", "Muon_pt.size()", "Length(Jet_pt)", "size(Muon_pt[Muon_pt > 20])",
    "Sum(Muon_pt[Muon_tight])", "ArgMax(Muon_pt[Muon_tight])", "Mean(Jet_pt[Jet_jetId >= 2])",
    "Muon_pt * 2", "Muon_pt[Muon_tight]", "Muon_pt[Muon_tight] * 2 + MET_pt",
    "Muon_pt > 20 && abs(Muon_eta) < 2.4 && Muon_tight", "!Muon_tight", "-Muon_charge",
    "Muon_pt * cos(Muon_phi)", "sqrt(Muon_pt * Muon_pt + Muon_mass * Muon_mass)",
    "Where(Muon_pt > 20, Muon_pt, -1.0)", "Muon_charge > 0 ? Muon_pt : Muon_eta",
    "(Muon_pt * sinh(Muon_eta))[0] * (nMuon > 0)", "Sum(Jet_pt * Jet_pt) / (1 + nJet)",
    "Sum(Muon_pt * Sum(Jet_pt))", "Muon_charge / 2", "Muon_pt[Muon_pt > Mean(Muon_pt)]",
]


@pytest.mark.parametrize("text", CONSTRUCTS)
def test_each_construct_compiles_to_the_evaluators_values(text: str) -> None:
    events = [*EVENTS_BY_HAND, event([(1.5, 0.25, -2.0, 0.1, -1, True)], [(20.0, 1.0)])]
    if "Muon_pt[0]" not in text and "[0] *" not in text:
        events = [ev for ev in events if ev["nMuon"]] or events
    problem = _same(text, *_both(text, events))
    assert problem is None, f"{text!r}: {problem}"


def test_a_reduction_is_one_value_per_event() -> None:
    got = exprkernel.evaluate(compile_expression("Sum(Muon_pt[Muon_tight])", SCHEMA).tree,
                              make_frame(EVENTS_BY_HAND))
    assert got.dtype == np.float32 and got.tolist() == [40.0, 0.0, 5.0, 60.0]
    masked = exprkernel.evaluate(compile_expression("Muon_pt[Muon_tight] * 2", SCHEMA).tree,
                                 make_frame(EVENTS_BY_HAND))
    assert ak.to_list(masked) == [[80.0], [], [10.0], [60.0, 60.0]]


@pytest.mark.parametrize("text", ["Muon_pt * 2", "Muon_pt[Muon_tight]", "Sum(Muon_pt)",
                                  "Muon_pt + Muon_eta", "MET_pt + 1"])
def test_a_chunk_without_events(text: str) -> None:
    problem = _same(text, *_both(text, []))
    assert problem is None, problem


def test_short_circuit_keeps_an_index_out_of_events_without_elements() -> None:
    got = exprkernel.evaluate(compile_expression("nMuon > 2 && Muon_pt[2] > 20", SCHEMA).tree,
                              make_frame(EVENTS_BY_HAND))
    assert got.tolist() == [False, False, False, True]


# ---------------------------------------------------------------- failures


def _fails(text: str, events: Sequence[Mapping[str, Any]] = EVENTS_BY_HAND) -> str:
    with pytest.raises(EvaluationFailure) as caught:
        exprkernel.evaluate(compile_expression(text, SCHEMA).tree, make_frame(events))
    return str(caught.value)


def test_collections_of_different_sizes_fail_element_wise() -> None:
    assert _fails("Muon_pt + Jet_pt") == (
        "collections of 2 and 3 elements combined element by element (event 0 of this chunk): "
        "ROOT needs equally long collections")
    with pytest.raises(ValueError, match="cannot broadcast"):  # the evaluator fails too
        evaluate(compile_expression("Muon_pt + Jet_pt", SCHEMA).tree, make_frame(EVENTS_BY_HAND))


def test_a_mask_of_another_size_fails_as_in_the_evaluator() -> None:
    text = "Sum(Muon_pt[Jet_pt > 1])"
    message = _fails(text)
    with pytest.raises(EvaluationFailure) as columnar:
        evaluate(compile_expression(text, SCHEMA).tree, make_frame(EVENTS_BY_HAND))
    assert message == str(columnar.value)
    assert message.startswith("cannot index a collection of 2 elements with a mask of 3 "
                              "(event 0 of this chunk)")


@pytest.mark.parametrize("text", ["Muon_pt[2]", "Muon_pt[nJet]", "(Muon_pt * 2)[PV_npvs - 5]",
                                  "Muon_pt[event * 0u + 18446744073709551615u]"])
def test_an_index_out_of_range_fails_as_in_the_evaluator(text: str) -> None:
    message = _fails(text)
    assert re.fullmatch(r"index -?\d+ out of range in an event with \d+ elements \(event \d "
                        r"of this chunk\); guard it, e.g. `n > i && v\[i\] \.\.\.`", message)
    with pytest.raises(EvaluationFailure):
        evaluate(compile_expression(text, SCHEMA).tree, make_frame(EVENTS_BY_HAND))
    if text == "Muon_pt[2]":
        with pytest.raises(EvaluationFailure) as columnar:
            evaluate(compile_expression(text, SCHEMA).tree, make_frame(EVENTS_BY_HAND))
        assert message == str(columnar.value)


@pytest.mark.parametrize("text", ["Max(Muon_pt)", "Min(Jet_pt)"])
def test_an_extreme_of_nothing_fails_as_in_the_evaluator(text: str) -> None:
    with pytest.raises(EvaluationFailure) as columnar:
        evaluate(compile_expression(text, SCHEMA).tree, make_frame(EVENTS_BY_HAND))
    assert _fails(text) == str(columnar.value)


def test_integer_division_by_zero_fails() -> None:
    assert _fails("nMuon / (nJet * 0)") == "integer division by zero"
    assert _fails("nMuon % (nJet * 0)") == "integer modulo by zero"


# ---------------------------------------------------------------- what it leaves


@pytest.mark.parametrize("text", [
    "Take(Muon_pt, 2)", "Combinations(Muon_pt, 2)", "Reverse(Muon_pt)", "Argsort(Muon_pt)",
    "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)", "DeltaR(Muon_eta, Muon_eta, "
    "Muon_phi, Muon_phi)", "Muon_pt[Muon_tight][Muon_pt[Muon_tight] > 1]",
    "Muon_pt[Muon_tight] * Muon_eta", "Sum(Muon_pt[Muon_tight] + Muon_eta[Muon_tight])",
    "Range(nMuon)", "ROOT::RVecD{MET_pt, MET_phi}", "nMuon > 0 ? Muon_pt : Muon_eta",
    "Dot(Muon_pt, Muon_eta)", "Muon_pt[Muon_tight][0]",
])
def test_what_the_compiler_leaves_to_the_evaluator(text: str) -> None:
    assert not exprkernel.compilable(compile_expression(text, SCHEMA).tree)


def test_the_agc_strings_compile() -> None:
    schema = {**SCHEMA, "Muon_tightId": SCHEMA["Muon_tight"],
              "Muon_pfRelIso04_all": SCHEMA["Muon_pt"], "Jet_btag": SCHEMA["Jet_pt"],
              "muon_ok": SCHEMA["Muon_charge"], "jet_ok": SCHEMA["Muon_charge"]}
    for text in ["Muon_pt > 30 && abs(Muon_eta) < 2.1 && Muon_tightId "
                 "&& Muon_pfRelIso04_all < 0.15", "Sum(muon_ok) + Sum(muon_ok) == 1",
                 "Jet_pt[jet_ok]", "size(Jet_pt) >= 4", "Sum(Jet_btag > 0.5)", "Sum(Jet_pt)",
                 "Jet_pt * cos(Jet_eta)", "Jet_pt * sinh(Jet_eta)",
                 "sqrt(Jet_pt*Jet_pt + Jet_eta*Jet_eta)", "Where(Jet_btag > 0.5, Jet_pt, -1.0)",
                 "ArgMax(Jet_pt)", "sqrt(std::max((double)(Jet_pt[nJet - 1]*Jet_pt[0]), 0.0))"]:
        assert exprkernel.compilable(compile_expression(text, schema).tree), text


# ---------------------------------------------------------------- the option, in a run


def test_the_backend_option_resolves_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPFLOW_BACKEND", "compiled")
    assert Options().resolved().backend == "compiled"
    assert Options(backend="columnar").resolved().backend == "columnar"
    monkeypatch.delenv("HEPFLOW_BACKEND")
    assert Options().resolved().backend == "columnar"  # hepflow.yaml's default
    with pytest.raises(ValueError, match="backend must be one of"):
        Options(backend="fast")  # type: ignore[arg-type]
    monkeypatch.setenv("HEPFLOW_BACKEND", "fast")
    with pytest.raises(ValueError, match="HEPFLOW_BACKEND"):
        Options().resolved()


def _histograms(files: list[str], client: Any, backend: str) -> tuple[list[np.ndarray], float]:
    """The histograms, and the seconds the run's workers spent compiling."""
    df = hepflow.RDataFrame("Events", files, client=client, chunk_entries=10_000,
                            options=Options(backend=backend))  # type: ignore[arg-type]
    good = (df.Define("mu_ok", "Muon_pt > 10 && abs(Muon_eta) < 2.4")
              .Filter("Sum(mu_ok) >= 1", "a good muon")
              .Define("lead", "Max(Muon_pt[mu_ok])")
              .Define("pt_sum", "Sum(Muon_pt * cos(Muon_phi)) + MET_pt"))
    booked = [good.Histo1D(("lead", "", 50, 0.0, 200.0), "lead"),
              good.Histo1D(("sum", "", 50, -200.0, 400.0), "pt_sum", "lead")]
    values = [np.asarray(h.GetValue().values()) for h in booked]
    return values, booked[0].run_info().compile_seconds


def test_the_backends_fill_identical_histograms_on_a_cluster(sample_files: list[str],
                                                             client: Any) -> None:
    columnar, none = _histograms(sample_files, client, "columnar")
    compiled, seconds = _histograms(sample_files, client, "compiled")
    assert none == 0 and seconds > 0  # the workers compiled (or loaded) the kernels
    assert sum(float(h.sum()) for h in columnar) > 0
    for a, b in zip(columnar, compiled, strict=True):
        assert np.array_equal(a, b)


def test_a_cold_run_counts_its_compilation(sample_files: list[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPFLOW_CACHE_DIR", str(tmp_path))  # no kernel on disk yet
    df = hepflow.RDataFrame("Events", sample_files[:1], client="sync",
                            options=Options(backend="compiled"))
    summed = df.Define("x", "Sum(Muon_pt * 1.25f + MET_pt) * 0.75").Sum("x")
    assert summed.GetValue() > 0
    assert summed.run_info().compile_seconds > 0
    assert list((tmp_path / "kernels").glob("hepflow_kernel_*.py"))


PROGRAM = """
import json
import hepflow
from hepflow.engine import exprkernel
from hepflow.options import Options

df = hepflow.RDataFrame(1000, client="sync", options=Options(backend="compiled"))
summed = (df.Define("v", "ROOT::RVecD{rdfentry_ * 0.5, 1.0}")
            .Define("x", "Sum(v * v) + 3").Sum("x"))
value = summed.GetValue()
stats = [c.kernel.stats for c in exprkernel._KERNELS.values()]
print(json.dumps({"sum": value, "compile": summed.run_info().compile_seconds,
                  "hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""


def _process(cache: Path) -> dict[str, Any]:
    return fresh_process(PROGRAM, cache)


def test_the_next_process_loads_the_expression_kernel_from_disk(tmp_path: Path) -> None:
    want = sum((e * 0.5) ** 2 + 1.0 + 3 for e in range(1000))
    first = _process(tmp_path)
    assert first["sum"] == want and first["compile"] > 0
    assert first["misses"] >= 1 and first["hits"] == 0  # numba compiled the kernel
    second = _process(tmp_path)
    assert second["sum"] == want
    assert second["misses"] == 0 and second["hits"] >= 1  # loaded from the disk cache


def test_a_very_long_operator_chain_is_left_to_the_evaluator() -> None:
    """`&&` and `?:` nest in the generated code, and Python's compiler recurses through
    them: a chain of more than MAX_CHAIN operands runs columnar, with the same answer."""
    short = " && ".join(f"MET_pt > {i % 7}" for i in range(exprkernel.MAX_CHAIN // 2))
    long = " && ".join(f"MET_pt > {i % 7}" for i in range(490))
    assert exprkernel.compilable(compile_expression(short, SCHEMA).tree)
    assert not exprkernel.compilable(compile_expression(long, SCHEMA).tree)
    df = hepflow.RDataFrame(10, client="sync", options=Options(backend="compiled"))
    counted = df.Define("MET_pt", "(float)(rdfentry_)").Filter(long).Count()
    assert counted.GetValue() == 3  # entries 7, 8 and 9
