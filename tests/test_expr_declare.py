"""hepflow's Declare: Python functions on whole columns, callable from expression strings."""

from __future__ import annotations

import pickle
from typing import Any

import awkward as ak
import cloudpickle
import numpy as np
import pytest
from test_expr_semantics import EVENTS_BY_HAND, SCHEMA, make_frame

from hepflow.engine.evaluate import evaluate
from hepflow.engine.vecops import EvaluationFailure
from hepflow.errors import ExpressionError, PlanError
from hepflow.plan.expr import compile_expression
from hepflow.plan.expr.declare import Declare, parse_type
from hepflow.plan.types import jagged, scalar


def run(text: str) -> list[Any]:
    expr = compile_expression(text, SCHEMA)
    out = evaluate(expr.tree, make_frame(EVENTS_BY_HAND))
    return ak.to_list(out) if isinstance(out, ak.Array) else out.tolist()


def test_declared_function_type_checks_and_runs_on_columns() -> None:
    Declare("scaled_pt", lambda pt, eta: pt * (1 + 0.5 * np.abs(eta)),
            ["RVec<float>", "RVec<float>"], "RVec<double>")
    expr = compile_expression("Sum(scaled_pt(Muon_pt, Muon_eta)) * 2", SCHEMA)
    assert expr.type == scalar("float64")
    want = [2 * sum(float(np.float32(p)) * (1 + 0.5 * abs(float(np.float32(e))))
                    for p, e in zip(ev["Muon_pt"], ev["Muon_eta"], strict=True))
            for ev in EVENTS_BY_HAND]
    assert run("Sum(scaled_pt(Muon_pt, Muon_eta)) * 2") == pytest.approx(want, rel=1e-6)


def test_declared_scalar_function_gets_its_declared_types() -> None:
    seen: list[np.dtype] = []

    def weight(n: np.ndarray, met: np.ndarray) -> np.ndarray:
        seen.extend([n.dtype, met.dtype])
        return n * 0.5 + met

    Declare("weight", weight, ["int", "double"], "double")
    assert run("weight(nMuon, MET_pt) > 20") == [True, False, False, True]
    assert seen[:2] == [np.dtype(np.int32), np.dtype(np.float64)]


def test_the_tree_carries_the_function_to_workers() -> None:
    Declare("plus_k", lambda x: x + 3, ["unsigned int"], "unsigned int")
    expr = compile_expression("plus_k(nMuon)", SCHEMA)
    Declare("plus_k", lambda x: x + 100, ["unsigned int"], "unsigned int")  # a later plan's
    shipped = pickle.loads(cloudpickle.dumps(expr))
    out = evaluate(shipped.tree, make_frame(EVENTS_BY_HAND))
    assert out.tolist() == [5, 3, 4, 6]


@pytest.mark.parametrize(("text", "message"), [
    ("scaled_pt(Muon_pt)", "takes 2 argument\\(s\\), got 1"),
    ("scaled_pt(MET_pt, Muon_eta)", "expects RVec<float> here, not float"),
])
def test_declared_signature_is_checked_at_build(text: str, message: str) -> None:
    Declare("scaled_pt", lambda pt, eta: pt, ["RVec<float>", "RVec<float>"], "RVec<double>")
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text, SCHEMA)


def test_a_failing_or_misbehaving_function_is_an_evaluation_failure() -> None:
    Declare("boom", lambda x: {}["missing"], ["double"], "double")
    with pytest.raises(EvaluationFailure, match="boom raised KeyError"):
        run("boom(MET_pt)")
    Declare("first_only", lambda x: x[:1], ["double"], "double")
    with pytest.raises(EvaluationFailure, match="returned 1 values for 4 events"):
        run("first_only(MET_pt)")


def test_declare_rejects_bad_declarations() -> None:
    with pytest.raises(PlanError, match="built-in function"):
        Declare("Sum", lambda v: v, ["RVec<float>"], "double")
    with pytest.raises(PlanError, match="is a C\\+\\+ type"):
        Declare("short", lambda v: v, ["double"], "double")
    with pytest.raises(PlanError, match="not a type"):
        Declare("f", lambda v: v, ["RVec<banana>"], "double")
    with pytest.raises(PlanError, match="C\\+\\+ identifier"):
        Declare("f-g", lambda v: v, ["double"], "double")
    assert parse_type("ROOT::VecOps::RVec<unsigned int>") == jagged("uint32")
    assert parse_type("RVecF") == jagged("float32")


def test_map_applies_a_declared_function_to_every_element() -> None:
    Declare("pt_over_eta", lambda pt, eta: pt / (1.0 + eta * eta), ["double", "double"],
            "double")
    got = run("Map(Muon_pt, Muon_eta, pt_over_eta)")
    for values, ev in zip(got, EVENTS_BY_HAND, strict=True):
        want = [float(np.float32(p)) / (1.0 + float(np.float32(e)) ** 2)
                for p, e in zip(ev["Muon_pt"], ev["Muon_eta"], strict=True)]
        assert values == pytest.approx(want, rel=1e-12)
    assert compile_expression("Map(Jet_pt, Jet_pt, pt_over_eta)", SCHEMA).type == \
        jagged("float64")
    with pytest.raises(ExpressionError, match="needs 2 collection"):
        compile_expression("Map(Jet_pt, pt_over_eta)", SCHEMA)
    with pytest.raises(ExpressionError, match=r"declared with hepflow\.Declare"):
        compile_expression("Map(Jet_pt, nosuchfunction)", SCHEMA)
    with pytest.raises(EvaluationFailure, match="differ in size"):
        run("Map(Muon_pt, Jet_pt, pt_over_eta)")
