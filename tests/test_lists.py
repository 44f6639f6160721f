"""Flat-content collection work (hepflow/engine/lists.py) equals awkward's, value for value."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from expr_reference import FLOAT_FUNCS
from hypothesis import given
from hypothesis import strategies as st

from hepflow.engine import lists
from hepflow.engine.values import EvaluationFailure

counts_st = st.lists(st.integers(0, 5), min_size=1, max_size=30)


def _lists(counts: list[int], seed: int, dtype: str = "float32", pad: int = 0) -> ak.Array:
    """Plain list arrays as the reader builds them; `pad` puts them inside a larger buffer."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]) + pad
    data = rng.normal(30, 20, int(offsets[-1])).astype(dtype)
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets),
                                                ak.contents.NumpyArray(data)))


@given(counts_st, st.integers(0, 3), st.integers(0, 2**16))
def test_elementwise_equals_awkward_broadcasting(counts: list[int], pad: int,
                                                 seed: int) -> None:
    a = _lists(counts, seed, pad=pad)
    b = _lists(counts, seed + 1)
    per_event = np.arange(len(counts), dtype=np.float64)
    got = lists.elementwise(lambda x, y, z: x * np.cos(y) + z - 2.0, a, b, per_event)
    want = a * np.cos(b) + per_event - 2.0
    assert ak.to_list(got) == ak.to_list(want)
    assert str(got.type) == str(want.type)


def test_elementwise_shares_offsets_and_declines_what_it_cannot_do() -> None:
    a = _lists([2, 0, 3], 1)
    b = lists.elementwise(np.sqrt, a)
    c = lists.elementwise(np.add, a, b)
    assert c.layout.offsets.data is b.layout.offsets.data
    assert lists.elementwise(np.add, a, _lists([1, 1, 3], 2)) is None  # misaligned
    assert lists.elementwise(np.add, a, ak.Array([[[1.0]], [], [[2.0]]])) is None  # nested
    assert lists.elementwise(np.add, a, ak.Array([[1.0, None], [], [1, 2, 3]])) is None
    assert lists.elementwise(np.add, np.ones(3), 2.0) is None  # no list at all
    assert lists.parts(ak.Array(["ab", "c"])) is None  # strings are not number lists


@given(counts_st, st.integers(0, 3), st.integers(0, 2**16))
def test_select_equals_awkward_masking(counts: list[int], pad: int, seed: int) -> None:
    v = _lists(counts, seed, pad=pad)
    other = ak.Array(ak.contents.ListOffsetArray(v.layout.offsets, ak.contents.NumpyArray(
        np.asarray(_lists(counts, seed + 7, pad=pad).layout.content.data))))
    mask = v > 30
    got, sibling = lists.select(v, mask), lists.select(other, mask)
    assert got is not None and sibling is not None
    assert ak.to_list(got) == ak.to_list(v[mask])
    assert ak.to_list(sibling) == ak.to_list(other[mask])
    if pad == 0:  # one mask, one offsets array: the siblings share their new offsets
        assert got.layout.offsets.data is sibling.layout.offsets.data


@given(counts_st, st.integers(0, 2**16), st.sampled_from(["int32", "int64", "uint32"]))
def test_take_equals_awkward_indexing(counts: list[int], seed: int, itype: str) -> None:
    v = _lists(counts, seed)
    rng = np.random.default_rng(seed)
    picks = [[int(i) for i in rng.integers(0, n, rng.integers(0, 6))] if n else []
             for n in counts]
    raw = ak.values_astype(ak.Array(picks), itype)
    index = ak.Array(ak.contents.ListOffsetArray(
        ak.index.Index64(np.asarray(raw.layout.offsets.data, dtype=np.int64)),
        ak.contents.NumpyArray(np.asarray(ak.flatten(raw), dtype=itype))))
    got = lists.take(v, index)
    assert got is not None
    assert ak.to_list(got) == [[row[i] for i in p] for row, p in zip(ak.to_list(v), picks,
                                                                      strict=True)]


def test_take_declines_out_of_range_indices_for_the_caller_to_name() -> None:
    v = _lists([2, 1], 3)
    assert lists.take(v, ak.Array([[0, 2], [0]])) is None
    assert lists.take(v, ak.Array([[-1], [0]])) is None


def test_memo_never_returns_a_dead_arrays_result() -> None:
    memo = lists.Memo(kept=2)
    a = np.arange(3)
    assert memo.get((a,), lambda: "first") == "first"
    assert memo.get((a,), lambda: "again") == "first"
    b = np.arange(3)
    assert memo.get((b,), lambda: "other") == "other"
    del a
    assert memo.get((np.arange(3),), lambda: "fresh") == "fresh"


def _cosf(phi: ak.Array) -> ak.Array:
    """C's cosf on every element (through ctypes, not hepflow's code)."""
    flat = [FLOAT_FUNCS["cos"](x) for x in ak.to_numpy(ak.flatten(phi))]
    return ak.unflatten(np.asarray(flat, dtype=np.float32), ak.num(phi))


EXPRESSIONS = {
    "Jet_pt * cos(Jet_phi * 1.) + nJet":  # a double angle: std::cos(double), all in double
        lambda pt, eta, phi, mass, n: pt * np.cos(ak.values_astype(phi, np.float64)) + n,
    "Jet_pt * cos(Jet_phi) + nJet":  # floats stay float: std::cos(float) is C's cosf
        lambda pt, eta, phi, mass, n: pt * _cosf(phi) + ak.values_astype(n, np.float32),
    "Jet_pt[Jet_pt > 30 && abs(Jet_eta) < 2.4]":
        lambda pt, eta, phi, mass, n: pt[(pt > 30) & (abs(eta) < 2.4)],
    "Take(Jet_pt, Argsort(-Jet_pt))":
        lambda pt, eta, phi, mass, n: pt[ak.argsort(-pt, stable=True)],
    "Where(Jet_pt > 40.f, Jet_pt, 40.f) - Jet_mass":  # float with float is float, as in C++
        lambda pt, eta, phi, mass, n: np.maximum(pt, np.float32(40.0)) - mass,
    "-Jet_eta * 2 > 1 || !(Jet_pt < 50)":
        lambda pt, eta, phi, mass, n: (-eta * 2 > 1) | ~(pt < 50),
}


@pytest.fixture(scope="module")
def jet_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hepflow.samples import make_sample

    return str(make_sample(tmp_path_factory.mktemp("lists"), events=3000, files=1, seed=3)[0])


@pytest.mark.parametrize("expr", list(EXPRESSIONS))
def test_expressions_on_the_flat_path_equal_eager_awkward(expr: str, jet_file: str) -> None:
    import uproot

    import hepflow

    got = hepflow.RDataFrame("Events", [jet_file], client="sync").Define("x", expr).Take("x")
    events = uproot.open(jet_file)["Events"].arrays(["Jet_pt", "Jet_eta", "Jet_phi",
                                                     "Jet_mass", "nJet"])
    want = EXPRESSIONS[expr](*(events[k] for k in ("Jet_pt", "Jet_eta", "Jet_phi",
                                                   "Jet_mass", "nJet")))
    assert ak.to_list(got.GetValue()) == ak.to_list(want)


def test_the_flat_path_is_taken_on_read_columns(jet_file: str, tmp_path: Path) -> None:
    """Read lists of one counter share offsets, so their arithmetic stays on numpy."""
    import hepflow

    def check(pt: ak.Array, phi: ak.Array) -> ak.Array:
        assert lists.parts(pt) is not None
        assert pt.layout.offsets.data is phi.layout.offsets.data
        return pt

    df = hepflow.RDataFrame("Events", [jet_file], client="sync").Filter("nJet > 1")
    assert len(df.Define("y", check, ["Jet_pt", "Jet_phi"]).Take("y").GetValue()) > 0


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_combinations_equal_awkwards_in_order(k: int) -> None:
    from hepflow.engine.vecops import guard_elements

    rng = np.random.default_rng(k)
    counts = rng.integers(0, 9, 500)
    counts[:3] = [0, k - 1, k]  # no element, too few, exactly one combination
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    v = lists.wrap(offsets, rng.random(int(offsets[-1])))
    got = lists.combinations(v, k, guard_elements)
    want = ak.argcombinations(v, k, axis=1)
    assert got is not None and ak.to_list(ak.num(got)) == ak.to_list(ak.num(want))
    for i in range(k):
        assert ak.to_list(got[str(i)]) == ak.to_list(want[str(i)])
        assert got[str(i)].layout.offsets.data is got["0"].layout.offsets.data


def test_combinations_refuse_huge_tables_and_totals() -> None:
    from hepflow.engine.vecops import guard_elements

    many = lists.wrap(np.array([0, 500], dtype=np.int64), np.zeros(500))
    assert lists.combinations(many, 4, guard_elements) is None  # awkward's path, guarded there
    events = 200_000
    offsets = np.arange(0, 60 * events + 1, 60, dtype=np.int64)
    wide = lists.wrap(offsets, np.zeros(int(offsets[-1])))
    with pytest.raises(EvaluationFailure, match="Combinations would create"):
        lists.combinations(wide, 3, guard_elements)


def test_trijet_takes_equal_awkward(jet_file: str) -> None:
    """`Combinations` + `Take` in expressions: the awkward version's values, in its order."""
    import uproot

    import hepflow

    df = (hepflow.RDataFrame("Events", [jet_file], client="sync")
          .Define("tri", "Combinations(Jet_pt, 3)")
          .Define("x", "Take(Jet_pt, tri[0]) + Take(Jet_eta, tri[1]) * Take(Jet_phi, tri[2])")
          .Define("best", "ArgMax(x)"))
    got_x, got_best = df.Take("x"), df.Take("best")
    ev = uproot.open(jet_file)["Events"].arrays(["Jet_pt", "Jet_eta", "Jet_phi"])
    a, b, c = ak.unzip(ak.argcombinations(ev.Jet_pt, 3, axis=1))
    # float arithmetic on float branches stays float, as in C++
    want = ev["Jet_pt"][a] + ev["Jet_eta"][b] * ev["Jet_phi"][c]
    assert ak.to_list(got_x.GetValue()) == ak.to_list(want)
    best = ak.fill_none(ak.argmax(want, axis=1), 0)  # ROOT: 0 for no element
    assert got_best.GetValue().tolist() == ak.to_list(best)
