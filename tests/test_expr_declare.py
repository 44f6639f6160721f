"""hepflow's Declare: Python functions on whole columns, callable from expression strings."""

from __future__ import annotations

import pickle
from typing import Any

import awkward as ak
import cloudpickle
import numpy as np
import pytest
from test_expr_semantics import EVENTS_BY_HAND, SCHEMA, make_frame

from hepflow.core.types import jagged, scalar
from hepflow.engine.evaluate import evaluate
from hepflow.engine.vecops import EvaluationFailure
from hepflow.errors import ExpressionError, PlanError
from hepflow.plan.expr import compile_expression
from hepflow.plan.expr.declare import Declare, parse_type


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


def _muon_id_sf_file(tmp_path: Any) -> Any:
    cs = pytest.importorskip("correctionlib.schemav2")
    by_pt = cs.Binning(nodetype="binning", input="pt", edges=[0, 30, 1000], content=[1.1, 0.9],
                       flow="clamp")
    syst = cs.Category(nodetype="category", input="syst", content=[
        cs.CategoryItem(key="nominal", value=by_pt),
        cs.CategoryItem(key="up", value=cs.Formula(nodetype="formula", variables=["eta"],
                                                   parser="TFormula", expression="1+0.1*x"))])
    corr = cs.Correction(name="muon_id", version=1, output=cs.Variable(name="w", type="real"),
                         inputs=[cs.Variable(name="eta", type="real"),
                                 cs.Variable(name="pt", type="real"),
                                 cs.Variable(name="syst", type="string")], data=syst)
    path = tmp_path / "muon.json"
    path.write_text(cs.CorrectionSet(schema_version=2, corrections=[corr]).model_dump_json())
    return path


def test_correctionlib_scale_factors_on_flat_and_jagged_columns(tmp_path: Any) -> None:
    import correctionlib

    from hepflow.plan.expr.declare import declare_correction

    path = _muon_id_sf_file(tmp_path)
    declare_correction("muon_id_sf", path, "muon_id")
    eager = correctionlib.CorrectionSet.from_file(str(path))["muon_id"]
    got = run("muon_id_sf(Muon_eta, Muon_pt, \"nominal\")")
    for values, ev in zip(got, EVENTS_BY_HAND, strict=True):
        eta = np.asarray(ev["Muon_eta"], dtype=np.float32).astype(np.float64)
        pt = np.asarray(ev["Muon_pt"], dtype=np.float32).astype(np.float64)
        assert values == eager.evaluate(eta, pt, "nominal").tolist()
    up = run("Sum(muon_id_sf(Muon_eta, 20., \"up\"))")
    assert up == pytest.approx([sum(1 + 0.1 * float(np.float32(e)) for e in ev["Muon_eta"])
                                for ev in EVENTS_BY_HAND], rel=1e-12)
    flat = run("muon_id_sf(0.5, MET_pt, \"nominal\")")
    assert flat == [1.1, 1.1, 1.1, 0.9]
    shipped = pickle.loads(cloudpickle.dumps(compile_expression(
        "muon_id_sf(Muon_eta, Muon_pt, \"nominal\")", SCHEMA)))
    assert ak.to_list(evaluate(shipped.tree, make_frame(EVENTS_BY_HAND))) == got
    with pytest.raises(ExpressionError, match="is a string"):
        compile_expression("muon_id_sf(Muon_eta, Muon_pt, nMuon)", SCHEMA)
    with pytest.raises(EvaluationFailure, match="correction muon_id_sf"):
        run("muon_id_sf(Muon_eta, Muon_pt, \"down\")")
    with pytest.raises(PlanError, match="no correction 'nope'"):
        declare_correction("other_sf", path, "nope")


def test_compound_corrections_are_declared_like_single_ones(tmp_path: Any) -> None:
    cs = pytest.importorskip("correctionlib.schemav2")
    import correctionlib

    from hepflow.plan.expr.declare import declare_correction

    pt, eta = cs.Variable(name="pt", type="real"), cs.Variable(name="eta", type="real")
    l1 = cs.Correction(name="L1", version=1, output=cs.Variable(name="f", type="real"),
                       inputs=[pt], data=cs.Binning(nodetype="binning", input="pt",
                                                    edges=[0, 30, 1000], content=[1.2, 1.05],
                                                    flow="clamp"))
    l2 = cs.Correction(name="L2", version=1, output=cs.Variable(name="f", type="real"),
                       inputs=[pt, eta], data=cs.Formula(
                           nodetype="formula", variables=["pt", "eta"], parser="TFormula",
                           expression="1+0.001*x+0.01*y"))
    jec = cs.CompoundCorrection(name="jec", output=cs.Variable(name="f", type="real"),
                                inputs=[pt, eta], inputs_update=["pt"],
                                input_op="*", output_op="*", stack=["L1", "L2"])
    path = tmp_path / "jec.json"
    path.write_text(cs.CorrectionSet(schema_version=2, corrections=[l1, l2],
                                     compound_corrections=[jec]).model_dump_json())
    declare_correction("jec_sf", path, "jec")
    eager = correctionlib.CorrectionSet.from_file(str(path)).compound["jec"]
    got = run("jec_sf(Jet_pt, Jet_eta)")
    for values, ev in zip(got, EVENTS_BY_HAND, strict=True):
        jpt = np.asarray(ev["Jet_pt"], dtype=np.float32).astype(np.float64)
        jeta = np.asarray(ev["Jet_eta"], dtype=np.float32).astype(np.float64)
        want = [eager.evaluate(float(p), float(e)) for p, e in zip(jpt, jeta, strict=True)]
        assert values == pytest.approx(want, rel=1e-12)
    assert sum(len(v) for v in got) > 0
    with pytest.raises(PlanError, match=r"it has: L1, L2, jec \(compound\)"):
        declare_correction("other", path, "L3")

