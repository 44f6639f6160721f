"""C++'s floating-point types, compared with ROOT 6.40 bit for bit.

`scripts/root_refs_float.py` (run once with ROOT's Python) wrote a small TTree
with ROOT (`tests/data/float_semantics.root`) and, for one expression per rule
of C++'s usual arithmetic conversions, <cmath>'s overloads and ROOT::VecOps'
`Common_t`, the C++ type RDataFrame gives the column and its values
(`tests/data/float_semantics_refs.json`). hepflow must give the same type and
the same bits: `float * int` is float, `float * 2.0` double, `sqrt(float)`
float (C's `sqrtf`), `pow(float, int)` double, `InvariantMass` of RVec<float>
float, and so on.

The df102 case: the dimuon mass of ROOT's tutorial on 1,000 CMS Open Data
events (`shared/realdata`), where computing in double moved events to other
bins, equals ROOT's float bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow

DATA = Path(__file__).resolve().parent / "data"
REFS = json.loads((DATA / "float_semantics_refs.json").read_text())
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DIMUON = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"

# ROOT's type names, as hepflow's column types print them
_DTYPES = {"float": "float32", "double": "float64", "bool": "bool", "int": "int32",
           "short": "int16", "unsigned long": "uint64"}


def _want_type(cxx: str) -> tuple[str, str]:
    """hepflow's type name (ROOT's spelling) and numpy dtype for ROOT's GetColumnType
    (comparisons of collections are RVec<int>, as in ROOT)."""
    short = cxx.replace("ROOT::VecOps::", "")
    if short == "unsigned long":  # size_t; hepflow spells a scalar one as the branch type
        return "ULong64_t", "uint64"
    if short.startswith("RVec<"):
        return cxx, _DTYPES[short[5:-1]]
    return cxx, _DTYPES[short]


EMPTY_UNDEFINED = ("Max(v)", "Min(v)")


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """Every reference expression defined on ROOT's file, computed in a few passes (a
    chain of a hundred Defines tokenizes too deeply for Python's recursion limit)."""
    texts = list(REFS["expressions"])
    arrays: dict[str, Any] = {}
    types: dict[str, str] = {}
    for batch in range(0, len(texts), 40):
        df = hepflow.RDataFrame("t", str(DATA / "float_semantics.root"), client="sync")
        names = {}
        for k, text in enumerate(texts[batch:batch + 40]):
            names[text] = f"e{k}"
            # ROOT's Max/Min of an empty collection are undefined, and an error in hepflow
            guarded = f"v.size() > 0 ? {text} : 0.f" if text in EMPTY_UNDEFINED else text
            df = df.Define(f"e{k}", guarded)
        got = df.AsNumpy(list(names.values()))
        arrays.update({text: got[name] for text, name in names.items()})
        types.update({text: df.GetColumnType(name) for text, name in names.items()})
    return {"arrays": arrays, "types": types}


def _bits(values: Any, dtype: str) -> list[Any]:
    """Values as exact numbers of their C++ type (NaN as a string), lists per entry."""
    out = []
    for v in values:
        if (isinstance(v, (list, np.ndarray, ak.Array)) and np.ndim(v)) or isinstance(v, list):
            out.append(_bits(list(v), dtype))
        elif dtype in ("float32", "float64"):
            x = float(np.asarray(v, dtype=dtype))
            out.append("nan" if x != x else x)
        else:
            out.append(v.item() if hasattr(v, "item") else v)
    return out


@pytest.mark.parametrize("text", list(REFS["expressions"]))
def test_type_and_values_equal_roots(text: str, results: dict[str, Any]) -> None:
    ref = REFS["expressions"][text]
    name, dtype = _want_type(ref["type"])
    assert results["types"][text] == name, f"ROOT's type is {ref['type']}"
    array = results["arrays"][text]
    jagged = "RVec<" in name
    if not jagged:
        assert np.asarray(array).dtype == np.dtype(dtype), "AsNumpy keeps ROOT's dtype"
    else:
        assert {np.asarray(v).dtype for v in array} == {np.dtype(dtype)}, "ROOT's dtype"
    values = [list(np.asarray(v)) for v in array] if jagged else list(array)
    want = ref["values"]
    if dtype == "bool":
        want = [[bool(x) for x in v] if isinstance(v, list) else bool(v) for v in want]
        values = [[bool(x) for x in v] if isinstance(v, list) else bool(v) for v in values]
        assert values == want
        return
    got = _bits(values, dtype)
    if text in EMPTY_UNDEFINED:  # ROOT dereferences end() there: compare the others
        sizes = [e % 5 for e in range(REFS["entries"])]  # the file's `n` (see the script)
        got = [g for g, n in zip(got, sizes, strict=True) if n]
        want = [w for w, n in zip(want, sizes, strict=True) if n]
    assert got == want


def test_float_column_is_float32_for_actions(results: dict[str, Any]) -> None:
    """AsNumpy gives float32 where ROOT gives float32 (and double where double)."""
    assert results["arrays"]["x * 2"].dtype == np.float32
    assert results["arrays"]["x * 2.0"].dtype == np.float64


def test_df102_dimuon_mass_is_roots_float() -> None:
    """ROOT's df102: InvariantMass of the muons' RVec<float> is computed in float.

    In double, the masses differ from ROOT's in the last bits of every event and
    some land in another bin; hepflow now gives ROOT's floats exactly."""
    if not DIMUON.exists():
        pytest.skip(f"{DIMUON.parent} (ROOT-written test files) is not there")
    ref = REFS["dimuon"]
    df = (hepflow.RDataFrame("Events", str(DIMUON), client="sync")
          .Filter("nMuon == 2").Filter("Muon_charge[0] != Muon_charge[1]")
          .Define("entry", "rdfentry_")
          .Define("mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
    assert ref["type"] == "float"
    out = df.AsNumpy(["entry", "mass"])
    assert out["entry"].tolist() == ref["entry"]
    assert out["mass"].dtype == np.float32
    assert out["mass"].astype(np.float64).tolist() == ref["mass"]
    in_double = np.asarray(ref["mass_double"])
    assert (np.asarray(ref["mass"]) != in_double).any()  # the float answer is another one


def test_snapshot_writes_float_where_root_does(tmp_path: Path) -> None:
    """A float result is written as Float_t (RVec<float> as float[]), a double as Double_t."""
    import uproot

    out = tmp_path / "floats.root"
    (hepflow.RDataFrame("t", str(DATA / "float_semantics.root"), client="sync")
     .Define("f", "x * 2").Define("dd", "x * 2.0").Define("fv", "v * 2")
     .Snapshot("t", str(out), ["f", "dd", "fv"]))
    tree = uproot.open(out)["t"]
    assert tree["f"].typename == "float"
    assert tree["dd"].typename == "double"
    assert tree["fv"].array().layout.content.dtype == np.float32


def test_comparison_of_collections_is_written_as_int(tmp_path: Path) -> None:
    """ROOT's `v > 20.f` is an RVec<int>: Snapshot writes int elements, not bool; a mask
    of it still selects."""
    import uproot

    out = tmp_path / "masks.root"
    df = (hepflow.RDataFrame("t", str(DATA / "float_semantics.root"), client="sync")
          .Define("hi", "v > 20.f").Define("n_hi", "Sum(hi)").Define("sel", "v[hi]"))
    df.Snapshot("t", str(out), ["hi", "n_hi", "sel"])
    tree = uproot.open(out)["t"]
    assert tree["hi"].array().layout.content.dtype == np.int32
    assert tree["n_hi"].typename == "int32_t"
    sel = tree["sel"].array()
    assert ak.all(ak.num(sel) == tree["n_hi"].array())


def test_max_of_an_empty_collection_is_an_error_unless_guarded() -> None:
    """ROOT's Max/Min dereference `end()` of an empty RVec (undefined); hepflow names the
    expression and the entries instead of answering something, and `?:`/`&&` guard it."""
    df = hepflow.RDataFrame("t", str(DATA / "float_semantics.root"), client="sync")
    with pytest.raises(hepflow.EvaluationError,
                       match=r"Min\(v\)` failed on entries \d+-\d+ of .*float_semantics.root.*"
                             r"Min of an empty collection"):
        df.Define("lo", "Min(v)").Sum("lo").GetValue()
    out = df.Define("lo", "v.size() > 0 ? Min(v) : -1.f") \
        .Define("ok", "v.size() > 0 && Max(v) > 30.f").AsNumpy(["lo", "ok"])
    assert out["lo"].dtype == np.float32 and out["ok"].dtype == np.bool_
