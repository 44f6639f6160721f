"""Extreme and hostile expressions (issue 16): hepflow's own errors, never Python's.

One test per row of the issue's table, then fuzz tests: random strings and
bytes, and mutated well-typed expressions, may only raise `ExpressionError`
(at build) or `EvaluationFailure` (on events, turned into `EvaluationError`
by the kernel), and must finish quickly.
"""

from __future__ import annotations

import pickle
from typing import Any

import awkward as ak
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_expr_semantics import EVENTS_BY_HAND, SCHEMA, expressions, make_frame

from hepflow.engine.evaluate import evaluate
from hepflow.engine.vecops import MAX_ELEMENTS, EvaluationFailure
from hepflow.errors import ExpressionError
from hepflow.plan.expr import compile_expression


def run(text: str) -> list[Any]:
    expr = compile_expression(text, SCHEMA)
    out = evaluate(expr.tree, make_frame(EVENTS_BY_HAND))
    return ak.to_list(out) if isinstance(out, ak.Array) else out.tolist()


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, SCHEMA)
    return info.value


NMUON = [2, 0, 1, 3]
NJET = [3, 0, 1, 0]

# ---------------------------------------------------------------- deep and long expressions


def test_seventy_nested_parentheses_work() -> None:
    assert run("(" * 70 + "nMuon + 1" + ")" * 70) == [n + 1 for n in NMUON]


def test_nesting_beyond_the_limit_is_an_expression_error_with_a_caret() -> None:
    err = error("(" * 150 + "nMuon" + ")" * 150)
    assert "nests more than 100 levels" in err.reason
    assert err.text.startswith("((((") and 0 < err.start < 150


def test_five_hundred_unary_operators_work() -> None:
    assert run("-" * 500 + "(int)nMuon") == NMUON  # an even number of minus signs
    assert run("!" * 499 + "nMuon") == [n == 0 for n in NMUON]
    assert run("- " * 499 + "(int)nMuon") == [-n for n in NMUON]


def test_five_hundred_terms_work_and_pickle() -> None:
    text = " + ".join(["nMuon"] * 500)
    assert run(text) == [500 * n for n in NMUON]
    expr = compile_expression(text, SCHEMA)
    assert pickle.loads(pickle.dumps(expr)).tree == expr.tree
    mixed = " - ".join(["nJet * 2"] * 250) + " + 1.5"
    assert run(mixed) == [float((2 * j - 249 * 2 * j) % 2**32) + 1.5 for j in NJET]  # UInt_t


def test_an_and_chain_of_490_terms_builds_runs_and_short_circuits() -> None:
    terms = [f"nMuon > {k % 2}" for k in range(489)] + ["Muon_pt[1] > 20"]
    text = " && ".join(terms)
    expr = compile_expression(text, SCHEMA)
    pickle.loads(pickle.dumps(expr))
    # events without a second muon stop before Muon_pt[1], as in C++
    assert run(text) == [True, False, False, True]
    assert run(" || ".join(["nMuon == 7"] * 489 + ["HLT_IsoMu24"])) == [True, False, False, True]


# ---------------------------------------------------------------- integer literals and promotion


def test_large_literals_promote_as_in_cpp() -> None:
    assert run("nMuon + 2147483648") == [n + 2**31 for n in NMUON]
    assert compile_expression("nMuon + 2147483648", SCHEMA).type.dtype == "int64"
    assert run("nMuon * 3000000000") == [n * 3_000_000_000 for n in NMUON]
    # ULong64_t times int: -1 converts to unsigned long, the product wraps modulo 2^64
    assert run("event * -1") == [(2**64 - n) % 2**64 for n in NMUON]
    assert compile_expression("event * -1", SCHEMA).type.dtype == "uint64"


@pytest.mark.parametrize("text", ["9223372036854775808", "Muon_pt[9223372036854775808]",
                                  "nMuon + 9223372036854775808"])
def test_a_decimal_literal_past_long_is_an_error_naming_the_fix(text: str) -> None:
    err = error(text)
    assert "9223372036854775808 is too large for `long`" in err.reason
    assert "9223372036854775808u" in err.hint
    assert text[err.start:err.end] == "9223372036854775808"


def test_a_literal_past_every_type_is_an_error() -> None:
    err = error("nMuon > 18446744073709551616")
    assert "too large for any C++ integer type" in err.reason
    assert (err.start, err.end) == (8, 28)
    assert run("Muon_pt.size() > 9223372036854775808u") == [False] * 4


def test_a_five_thousand_digit_literal_is_an_expression_error() -> None:
    text = "nMuon > " + "7" * 5000
    err = error(text)
    assert "too large for any C++ integer type" in err.reason
    assert (err.start, err.end) == (8, 5008)
    assert "..." in err.reason  # the message quotes it shortened
    err = error("MET_pt > " + "7" * 5000 + ".5")
    assert "too large for double" in err.reason


def test_an_index_past_the_end_fails_on_events_not_with_overflow() -> None:
    with pytest.raises(EvaluationFailure, match="out of range"):
        run("Muon_pt[9223372036854775807]")
    with pytest.raises(EvaluationFailure, match="out of range"):
        run("Muon_pt[18446744073709551615u]")


# ---------------------------------------------------------------- ?: branches


@pytest.mark.parametrize("text", ["Sum(false ? Muon_pt : nMuon)", "false ? Muon_pt : 1.0",
                                  "HLT_IsoMu24 ? 1.0 : Muon_pt", "nMuon > 1 ? Jet_pt : MET_pt"])
def test_ternary_branches_must_agree_in_shape(text: str) -> None:
    err = error(text)
    assert "both branches of ?: must have the same type" in err.reason
    assert "RVec<float>" in err.reason


def test_ternary_branches_of_one_shape_convert_as_in_cpp() -> None:
    assert run("false ? Muon_pt : Jet_pt") == run("Jet_pt")
    assert compile_expression("true ? nMuon : -1", SCHEMA).type.dtype == "uint32"


# ---------------------------------------------------------------- allocations


@pytest.mark.parametrize("text", ["Take(Muon_pt, 1000000000, 0)", "RVec<double>(1000000000, 0.)",
                                  "Range(1000000000)", "Take(Muon_pt, -2000000000, 1.f)",
                                  "Range(-1)", "RVec<int>(nMuon - 5u, 1)"])
def test_huge_collections_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(EvaluationFailure) as info:
        run(text)
    message = str(info.value)
    assert "would create" in message and f"{MAX_ELEMENTS:,}" in message
    assert "elements in this chunk" in message


# ---------------------------------------------------------------- fuzz

FUZZ = settings(max_examples=300, deadline=2000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALPHABET = st.sampled_from([*"()[]<>?:!~+-*/%&|^=.,'\" _0123456789aeuflxLUE",
                            "nMuon", "Muon_pt", "Sum", "Take", "static_cast", "(int)", "RVec",
                            "Construct", "::", "&&", "||", "<<", "\u0663", "\u00e9", "\x00"])


def _only_hepflow_errors(text: str) -> None:
    try:
        expr = compile_expression(text, SCHEMA)
    except ExpressionError as err:
        assert err.text == text and 0 <= err.start <= len(text)
        return
    try:
        evaluate(expr.tree, make_frame(EVENTS_BY_HAND))
    except EvaluationFailure:
        pass


@pytest.mark.parametrize("text", [
    "static_cast(nMuon)",  # found by the fuzz test: a cast without <T>
])
def test_fuzz_findings_stay_fixed(text: str) -> None:
    _only_hepflow_errors(text)
    with pytest.raises(ExpressionError):
        compile_expression(text, SCHEMA)


@FUZZ
@given(st.text(max_size=80))
def test_random_text_raises_only_expression_errors(text: str) -> None:
    _only_hepflow_errors(text)


@FUZZ
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_expression_errors(data: bytes) -> None:
    _only_hepflow_errors(data.decode("latin-1"))


@FUZZ
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_token_soup_raises_only_hepflow_errors(text: str) -> None:
    _only_hepflow_errors(text)


@FUZZ
@given(expressions(kind="scalar", depth=2), st.data())
def test_mutated_expressions_raise_only_hepflow_errors(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    insert = data.draw(ALPHABET)
    drop = data.draw(st.integers(0, 3))
    _only_hepflow_errors(text[:cut] + insert + text[cut + drop:])


def test_deep_nesting_within_the_limit_checks_evaluates_and_pickles() -> None:
    text = "abs(" * 95 + "(int)nMuon - 1" + ")" * 95
    expr = compile_expression(text, SCHEMA)
    assert pickle.loads(pickle.dumps(expr)).tree == expr.tree
    assert run(text) == [1, 1, 0, 2]
    err = error("-(" * 60 + "sqrt(" * 50 + "MET_pt" + ")" * 110)
    assert "nests more than 100" in err.reason
