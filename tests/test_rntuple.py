"""RNTuple as a source: ROOT-written RNTuples read exactly as uproot reads them.

Every column of every small RNTuple in ../shared/realdata equals uproot's
arrays; chunks follow the RNTuple's clusters; the CMS dimuon analysis on the
RNTuple equals the same analysis through uproot and awkward, and equals the
analysis on a TTree written from the same arrays, locally and on two workers;
a dataset may mix TTree and RNTuple files.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import dask
import numpy as np
import pytest
import uproot
from expr_reference import FLOAT_FUNCS

import hepflow
from hepflow import Dataset, FileSpec, Sample
from hepflow.io.rntuple import SIZEOF

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DIMUON = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
SMALL = sorted(p.name for p in REALDATA.glob("*_rntuple_v1-0-0-0.root")) if REALDATA.is_dir() \
    else []

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(),
                                reason=f"the real ROOT files are not at {REALDATA}")

MUON = ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]


def _ntuple_name(path: Path) -> str:
    with uproot.open(path) as f:
        return next(k.split(";")[0] for k, v in f.classnames().items() if v == "ROOT::RNTuple")


def _expected(ntuple: object, name: str) -> ak.Array:
    """uproot's array of one RDataFrame column name (subfields by dotted path)."""
    base = name[len(SIZEOF):] if name.startswith(SIZEOF) else name
    top, *rest = base.split(".")
    array = ntuple.arrays([top], how=dict)[top]  # type: ignore[attr-defined]
    for part in rest:
        array = array[part]
    if name != base:
        array = ak.num(array, axis=_depth(array))
    return array


def _depth(array: ak.Array) -> int:
    """Nesting of collections (a string is one value, as in RNTuple)."""
    form, depth = array.layout.form, 0
    while isinstance(form, (ak.forms.ListOffsetForm, ak.forms.ListForm, ak.forms.RegularForm)) \
            and form.parameter("__array__") != "string":
        depth, form = depth + 1, form.content
    return depth


@pytest.mark.parametrize("name", SMALL)
def test_every_column_equals_uproot(name: str) -> None:
    path = REALDATA / name
    tree = _ntuple_name(path)
    df = hepflow.RDataFrame(tree, str(path), client="sync", chunk_entries=60)
    columns = df.GetColumnNames()
    with uproot.open(path) as f:
        ntuple = f[tree]
        assert [c for c in columns if not c.startswith(SIZEOF)] == list(ntuple.keys())
        assert df.Count().GetValue() == ntuple.num_entries
        handles = {c: df.Take(c) for c in columns}
        for column, handle in handles.items():
            got = handle.GetValue()
            want = _expected(ntuple, column)
            assert len(got) == len(want), column
            assert ak.to_list(got) == ak.to_list(want), column


def test_column_types_come_from_the_fields() -> None:
    path = REALDATA / "test_stl_containers_rntuple_v1-0-0-0.root"
    df = hepflow.RDataFrame("ntuple", str(path), client="sync")
    # ROOT 6.40 spells RNTuple fields by their field type names
    assert df.GetColumnType("vector_int32") == "ROOT::VecOps::RVec<std::int32_t>"
    assert df.GetColumnType("array_float") == "ROOT::VecOps::RVec<float>"
    assert df.GetColumnType("lorentz_vector.pt") == "float"
    assert df.GetColumnType("array_lv.eta") == "ROOT::VecOps::RVec<float>"
    assert df.GetColumnType(SIZEOF + "vector_int32") == "std::uint64_t"
    assert df.GetColumnType(SIZEOF + "vector_vector_int32") == \
        "ROOT::VecOps::RVec<std::uint64_t>"
    assert df.GetColumnType("string") == "object"
    total = df.Define("s", "Sum(vector_int32) + R_rdf_sizeof_vector_int32").Sum("s")
    with uproot.open(path) as f:
        v = f["ntuple"].arrays(["vector_int32"]).vector_int32
    assert total.GetValue() == int(ak.sum(v) + ak.sum(ak.num(v)))
    with pytest.raises(hepflow.ExpressionError, match="string"):
        df.Define("bad", "string * 2")


@pytest.mark.parametrize("name", ["test_multiple_cluster_groups_rntuple_v1-0-0-0.root",
                                  "test_index_multicluster_rntuple_v1-0-0-0.root"])
def test_chunks_follow_clusters(name: str) -> None:
    path = REALDATA / name
    with uproot.open(path) as f:
        ntuple = f["ntuple"]
        starts = [c.num_first_entry for c in ntuple.cluster_summaries]
        n = ntuple.num_entries
        one = ntuple.arrays(["int_vector"]).int_vector
    prepared = hepflow.preprocess(Dataset.from_files([str(path)], "ntuple"), chunk_entries=1)
    assert prepared.files[0].format == "rntuple"
    assert list(prepared.files[0].cluster_starts) == starts
    assert [c.entry_start for c in prepared.chunks] == starts  # one chunk per cluster
    assert prepared.chunks[-1].entry_stop == n and prepared.entries == n
    coarse = hepflow.preprocess(Dataset.from_files([str(path)], "ntuple"), chunk_entries=150)
    assert {c.entry_start for c in coarse.chunks} <= set(starts)
    assert len(coarse.chunks) < len(starts)
    for prep in (prepared, coarse):
        df = hepflow.RDataFrame(prep, client="sync")
        got = df.Define("e", "rdfentry_").Take("e")
        total = df.Define("s", "Sum(int_vector)").Sum("s")
        assert np.array_equal(got.GetValue(), np.arange(n))
        assert total.GetValue() == int(ak.sum(one))
    ranged = hepflow.RDataFrame(coarse, client="sync").Range(95, 410)
    assert ak.to_list(ranged.Take("int_vector").GetValue()) == ak.to_list(one[95:410])
    parts = hepflow.RDataFrame(coarse, client="sync")._partitions(["int_vector"]).delayed()
    computed = ak.concatenate(dask.compute(*parts, scheduler="sync"))
    assert ak.to_list(computed["int_vector"]) == ak.to_list(one)


def _dimuon(df: hepflow.RDataFrame) -> dict[str, object]:
    """The CMS open-data dimuon spectrum, booked; the values come in one run."""
    sel = (df.Filter("nMuon == 2", "two muons")
             .Filter("Muon_charge[0] != Muon_charge[1]", "opposite charge")
             .Define("mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
    return {"hist": sel.Histo1D(("m", "m", 300, 0.25, 300), "mass"),
            "sum": sel.Sum("mass"), "count": sel.Count(), "pt": df.Sum("Muon_pt"),
            "entries": sel.Define("e", "rdfentry_").Take("e"),
            "range": df.Range(100, 700).Define("n", "nMuon").Sum("n")}


def _values(booked: dict[str, object]) -> dict[str, object]:
    return {k: h.GetValue() for k, h in booked.items()}  # type: ignore[attr-defined]


def _eager_dimuon() -> dict[str, object]:
    with uproot.open(DIMUON) as f:
        ev = f["Events"].arrays(MUON)
    sel = ev[(ev.nMuon == 2)]
    sel = sel[sel.Muon_charge[:, 0] != sel.Muon_charge[:, 1]]
    entries = np.flatnonzero(np.asarray((ev.nMuon == 2) & ak.fill_none(
        ak.firsts(ev.Muon_charge) != ak.firsts(ev.Muon_charge[:, 1:]), False)))
    # in float, as ROOT's InvariantMass of RVec<float> (C's cosf, sinf, sinhf)
    pt, eta, phi, m = (np.asarray(sel[k], dtype=np.float32)
                       for k in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"))

    def c_float(name: str, x: np.ndarray) -> np.ndarray:
        return np.asarray([[FLOAT_FUNCS[name](v) for v in row] for row in x], np.float32)

    px, py, pz = pt * c_float("cos", phi), pt * c_float("sin", phi), pt * c_float("sinh", eta)
    e = np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)
    mass = np.sqrt(np.maximum(e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2
                              - pz.sum(1) ** 2, 0))
    return {"mass": mass, "entries": entries, "pt": float(ak.sum(ev.Muon_pt)),
            "range": int(ak.sum(ev.nMuon[100:700]))}


def _check_against_eager(got: dict[str, object]) -> None:
    want = _eager_dimuon()
    mass = want["mass"]
    assert got["count"] == len(mass) > 300
    np.testing.assert_allclose(got["sum"], mass.astype(np.float64).sum(),  # type: ignore[union-attr]
                               rtol=1e-9)
    ref = np.histogram(mass, bins=300, range=(0.25, 300))[0]
    assert np.abs(got["hist"].values() - ref).sum() <= 2  # type: ignore[attr-defined]
    assert np.array_equal(got["entries"], want["entries"])  # type: ignore[arg-type]
    np.testing.assert_allclose(got["pt"], want["pt"], rtol=1e-6)  # type: ignore[arg-type]
    assert got["range"] == want["range"]


@pytest.fixture(scope="module")
def converted_ttree(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The dimuon RNTuple converted to a NanoAOD-layout TTree (nMuon, Muon_pt[nMuon]) by uproot."""
    path = tmp_path_factory.mktemp("converted") / "dimuon_ttree.root"
    with uproot.open(DIMUON) as f:
        ev = f["Events"].arrays(MUON)
    muon = ak.zip({k[len("Muon_"):]: ev[k] for k in MUON[1:]})
    with uproot.recreate(path) as out:
        out.mktree("Events", {"Muon": muon.type.content}, counter_name=lambda _: "nMuon")
        out["Events"].extend({"Muon": muon})
    return str(path)


@pytest.mark.parametrize("where", ["sync", "cluster"])
def test_dimuon_rntuple_equals_eager_and_its_ttree(where: str, converted_ttree: str,
                                                   request: pytest.FixtureRequest) -> None:
    client = "sync" if where == "sync" else request.getfixturevalue("client")
    on_rntuple = _values(_dimuon(hepflow.RDataFrame("Events", str(DIMUON), client=client,
                                                    chunk_entries=300)))
    _check_against_eager(on_rntuple)
    on_ttree = _values(_dimuon(hepflow.RDataFrame("Events", converted_ttree, client=client,
                                                  chunk_entries=300)))
    assert on_rntuple["hist"] == on_ttree["hist"]
    for key in ("sum", "count", "pt", "range"):
        assert on_rntuple[key] == on_ttree[key], key
    assert np.array_equal(on_rntuple["entries"], on_ttree["entries"])  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["sync", "cluster"])
def test_mixed_ttree_and_rntuple_dataset(where: str, converted_ttree: str,
                                         request: pytest.FixtureRequest) -> None:
    client = "sync" if where == "sync" else request.getfixturevalue("client")
    ds = Dataset((Sample("rntuple", (FileSpec((str(DIMUON),)),)),
                  Sample("ttree", (FileSpec((converted_ttree,)),))))
    df = hepflow.RDataFrame(ds, client=client, chunk_entries=400)
    assert [f.format for f in df._runner.prepared.files] == ["rntuple", "ttree"]  # type: ignore
    assert set(df.GetColumnNames()) == set(MUON)  # RNTuple-only columns are not shared
    booked = _dimuon(df)
    got = _values(booked)
    single = _values(_dimuon(hepflow.RDataFrame("Events", str(DIMUON), client="sync")))
    assert got["count"] == 2 * single["count"]  # type: ignore[operator]
    assert np.array_equal(got["hist"].values(),  # type: ignore[attr-defined]
                          2 * single["hist"].values())  # type: ignore[attr-defined]
    per = booked["hist"].per_sample()  # type: ignore[attr-defined]
    assert per["rntuple"] == per["ttree"] == single["hist"]
    assert np.array_equal(got["entries"], np.concatenate(  # type: ignore[arg-type]
        [single["entries"], single["entries"] + 1000]))  # type: ignore[operator]


def test_rntuple_key_found_by_class_and_missing_key_named(tmp_path: Path) -> None:
    with pytest.raises(hepflow.ReadError, match=r"no TTree or RNTuple named 'Evnts'.*Events"):
        hepflow.RDataFrame("Evnts", str(DIMUON), client="sync")


def test_unreadable_replica_fails_over_and_a_lost_file_is_named(tmp_path: Path) -> None:
    from hepflow.io.reader import close_all

    first, second = tmp_path / "a" / "dimuon.root", tmp_path / "b" / "dimuon.root"
    for target in (first, second):
        target.parent.mkdir()
        target.write_bytes(DIMUON.read_bytes())
    ds = Dataset((Sample("s", (FileSpec((str(first), str(second))),)),))
    prepared = hepflow.preprocess(ds, chunk_entries=1)
    want = hepflow.RDataFrame(prepared, client="sync").Sum("Muon_pt").GetValue()
    first.unlink()
    close_all()
    fast = hepflow.Options(retries=1, backoff=0.0)
    df = hepflow.RDataFrame(prepared, client="sync", options=fast)
    total = df.Sum("Muon_pt")
    assert total.GetValue() == want
    assert total.run_info().complete
    second.unlink()
    close_all()
    with pytest.raises(hepflow.ReadError, match=r"entries 0-1000 of .*dimuon\.root.*all 2 "
                                                r"replicas failed"):
        hepflow.RDataFrame(prepared, client="sync", options=fast).Sum("Muon_pt").GetValue()


def test_dotted_field_names_are_columns_in_expression_strings() -> None:
    path = REALDATA / "test_stl_containers_rntuple_v1-0-0-0.root"
    df = hepflow.RDataFrame("ntuple", str(path), client="sync")
    twice = df.Define("pt2", "lorentz_vector.pt * 2").Sum("pt2")
    etas = df.Filter("lorentz_vector.pt > 0").Define("n", "Sum(array_lv.eta > 0)").Sum("n")
    with uproot.open(path) as f:
        got = f["ntuple"].arrays(["lorentz_vector", "array_lv"])
    pt = ak.to_numpy(got.lorentz_vector.pt).astype(np.float64)
    assert twice.GetValue() == pytest.approx(float(np.sum(2 * pt)), rel=1e-12)
    chosen = got.array_lv.eta[got.lorentz_vector.pt > 0]
    assert etas.GetValue() == int(ak.sum(chosen > 0))
    with pytest.raises(hepflow.ExpressionError, match=r"unknown column `lorentz_vector\.ptt`"):
        df.Define("bad", "lorentz_vector.ptt * 2")
    with pytest.raises(hepflow.ExpressionError, match=r"`\.size` is not supported"):
        df.Define("bad", "vector_int32.size")
