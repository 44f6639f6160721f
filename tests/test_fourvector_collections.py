"""Collections of 4-vectors run wherever the checker accepts them, and every whitelisted
function runs for every argument type the checker accepts.

`p4 = Construct<ROOT::Math::PtEtaPhiMVector>(Jet_pt, Jet_eta, Jet_phi, Jet_mass)` then
`p4.size()`, `Take(p4, Argsort(Jet_pt))`, the AGC's trijet `Take(p4, Combinations(...)[i])`,
masks, element access, `+`, `Reverse`, `Drop`, `Enumerate` and `Combinations` run on the
chunks of a generated NanoAOD-like file (several chunks) and equal the same computation
done eagerly with awkward + vector.
"""

from __future__ import annotations

import itertools
from typing import Any

import awkward as ak
import numpy as np
import pytest
import vector
from test_expr_semantics import EVENTS_BY_HAND, SCHEMA, make_frame

import hepflow
from hepflow.engine.evaluate import evaluate
from hepflow.engine.values import EvaluationFailure
from hepflow.errors import ExpressionError
from hepflow.plan.expr import compile_expression
from hepflow.plan.expr.functions import FUNCTIONS

P4 = "Construct<ROOT::Math::PtEtaPhiMVector>(Jet_pt, Jet_eta, Jet_phi, Jet_mass)"


def _jets(ev: ak.Array) -> Any:
    """The jets as vector's Momentum4D records, in double as ROOT::Math's vectors are."""
    return vector.zip({k: ak.values_astype(ev[f"Jet_{k}"], np.float64)
                       for k in ("pt", "eta", "phi", "mass")})


def _trijet_mass(j: Any) -> Any:
    tri = ak.combinations(j, 3)
    return (tri["0"] + tri["1"] + tri["2"]).mass


def _first(x: Any, fill: float) -> Any:
    return ak.fill_none(ak.firsts(x), fill)


# hepflow's expression (with `p4` defined) -> the eager answer on the jets. ROOT's RVec of
# 4-vectors has no `.Pt()`: a method applies to one vector, here the first one
CASES: dict[str, Any] = {
    "p4.size()": lambda j, ev: ak.num(j),
    "size(p4) > 3": lambda j, ev: ak.num(j) > 3,
    "nJet > 0 ? Take(p4, Argsort(Jet_pt))[0].Pt() : -1.":
        lambda j, ev: _first(j[ak.argsort(ev.Jet_pt, stable=True)].pt, -1.0),
    "nJet > 2 ? (Take(p4, Combinations(Jet_pt, 3)[0]) + Take(p4, Combinations(Jet_pt, 3)[1]) + "
    "Take(p4, Combinations(Jet_pt, 3)[2]))[0].M() : -1.":
        lambda j, ev: _first(_trijet_mass(j), -1.0),
    "Sum(Jet_pt > 30) > 0 ? p4[Jet_pt > 30][0].Eta() : -9.":
        lambda j, ev: _first(j[ev.Jet_pt > 30].eta, -9.0),
    "nJet > 0 ? p4[0].Phi() : -9.": lambda j, ev: ak.fill_none(ak.firsts(j.phi), -9.0),
    "nJet > 1 ? (p4[0] + p4[1]).M() : -1.":
        lambda j, ev: ak.fill_none((ak.pad_none(j, 2)[:, 0] + ak.pad_none(j, 2)[:, 1]).mass,
                                   -1.0),
    "nJet > 0 ? Reverse(p4)[0].Pt() : -1.": lambda j, ev: _first(j[:, ::-1].pt, -1.0),
    "Sum(Jet_pt <= 40) > 0 ? Drop(p4, Nonzero(Jet_pt > 40))[0].E() : -1.":
        lambda j, ev: _first(j[ev.Jet_pt <= 40].E, -1.0),
    "Enumerate(p4)": lambda j, ev: ak.local_index(j),
    "Combinations(p4, 2)[1]": lambda j, ev: ak.argcombinations(j, 2)["1"],
    "nJet > 0 ? (p4 - p4)[0].E() : -1.": lambda j, ev: _first((j - j).E, -1.0),
}


@pytest.fixture(scope="module")
def jet_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hepflow.samples import make_sample

    return str(make_sample(tmp_path_factory.mktemp("p4"), events=3000, files=1, seed=5)[0])


@pytest.mark.parametrize("text", list(CASES))
def test_fourvector_collections_run_and_equal_vector(text: str, jet_file: str) -> None:
    import uproot

    df = (hepflow.RDataFrame("Events", [jet_file], client="sync", chunk_entries=700)
          .Define("p4", P4).Define("x", text))
    got = ak.Array(df.Take("x").GetValue())
    ev = uproot.open(jet_file)["Events"].arrays(["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass",
                                                 "nJet"])
    want = CASES[text](_jets(ev), ev)
    assert ak.num(got, axis=0) == len(ev)
    if got.ndim == 2:
        assert ak.to_list(ak.num(got)) == ak.to_list(ak.num(want))
        got, want = ak.flatten(got), ak.flatten(want)
    assert np.allclose(ak.to_numpy(got).astype(np.float64),
                       ak.to_numpy(want).astype(np.float64), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("text", ["Argsort(p4)", "Sort(p4)", "Nonzero(p4)", "Any(p4)",
                                  "Take(p4, 2, 0.)", "Sum(p4)", "p4 * 2", "Max(p4)"])
def test_what_root_cannot_do_with_fourvectors_fails_at_build_time(text: str) -> None:
    schema = {**SCHEMA}
    with pytest.raises(ExpressionError):
        compile_expression(text.replace("p4", P4.replace("Jet_phi", "Jet_eta")
                                        .replace("Jet_mass", "Jet_eta")), schema)


# ---------------------------------------------------------------- every function, every type

MUONS = "Construct<ROOT::Math::PtEtaPhiMVector>(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"
#: One argument of each type an expression can have.
POOL = {
    "int": "nMuon", "float": "MET_pt", "double": "(double)MET_pt", "bool": "HLT_IsoMu24",
    "const": "2", "constf": "2.5f", "ints": "Muon_charge", "floats": "Muon_pt",
    "bools": "Muon_tight", "uints": "Argsort(Muon_pt)", "doubles": "Muon_pt * 1.",
    "vector": "ROOT::Math::PtEtaPhiMVector(MET_pt, 0., MET_phi, 0.)", "vectors": MUONS,
    "combos": "Combinations(Muon_pt, 2)",
}
TEMPLATES = {"RVec": "RVec<float>", "Construct": "Construct<ROOT::Math::PtEtaPhiMVector>"}


def _calls(name: str) -> list[str]:
    """Calls of `name` with every argument type at each position (the others a float
    collection), and with every type at all positions."""
    spec = FUNCTIONS[name]
    out = []
    for arity in range(spec.min_args, spec.max_args + 1):
        tuples = {(arg,) * arity for arg in POOL.values()}
        for pos, arg in itertools.product(range(arity), POOL.values()):
            args = ["Muon_pt"] * arity
            args[pos] = arg
            tuples.add(tuple(args))
        for args in sorted(tuples):
            if name.startswith("."):
                out.append(f"({args[0]}){name}()")
            else:
                out.append(f"{TEMPLATES.get(name, name)}({', '.join(args)})")
    return out


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_accepted_call_runs(name: str) -> None:
    """Whatever the checker accepts evaluates: a per-event failure (an index past the end)
    is an EvaluationFailure with a message, never a TypeError from deep inside."""
    frame = make_frame(EVENTS_BY_HAND)
    accepted, broken = 0, []
    for text in _calls(name):
        try:
            expr = compile_expression(text, SCHEMA)
        except ExpressionError:
            continue
        accepted += 1
        try:
            evaluate(expr.tree, frame)
        except EvaluationFailure:
            pass
        except Exception as exc:  # noqa: BLE001 - every other exception is the defect
            broken.append(f"{text}: {type(exc).__name__}: {exc}")
    assert accepted, f"no call of {name} was accepted"
    assert not broken, "\n".join(broken)
