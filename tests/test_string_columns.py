"""String-valued columns (ROOT's `std::string`, type name `string`).

A string column comes from a DefinePerSample (a sample's metadata, a callable),
a Define of string literals, or a `std::string` TTree branch. Strings compare
with strings (`==`, `!=`, `<`, `<=`, `>`, `>=`, lexicographically as
std::string does); every other use fails at build time with a caret. The
branch results are pinned against ROOT 6.40 (scripts/root_refs_strings.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.errors import ExpressionError, PlanError

DATA = Path(__file__).parent / "data"
STRINGS = DATA / "frame" / "strings.root"
REFS = json.loads((DATA / "root_strings_refs.json").read_text())


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from hepflow.samples import make_sample

    out = tmp_path_factory.mktemp("strings")
    return [str(p) for p in make_sample(out, events=3_000, files=2, seed=3, basket_entries=500)]


def _n_muon(path: str) -> np.ndarray:
    with uproot.open(path) as f:
        return np.asarray(f["Events"]["nMuon"].array(library="np"))


# -- build time: strings only compare with strings ------------------------------------------

@pytest.mark.parametrize(("expr", "message"), [
    ('s + 1', "`+` cannot be applied to a string"),
    ('"a" * 2', "`*` cannot be applied to a string"),
    ('s + "x"', "`+` cannot be applied to a string"),
    ('-s', "`-` cannot be applied to a column of type string"),
    ('(int)s', "cannot be applied to a column of type string"),
    ('s == 1', "cannot compare a string with int"),
    ('1.5 < s', "cannot compare a string with double"),
    ('s && true', "`&&` cannot be applied to a string"),
    ('abs(s)', "abs does not take a string"),
    ('x > 1 ? "a" : 1', "both branches of ?: must have the same type"),
    ('s ? 1 : 2', "`?:` cannot be applied to a column of type string"),
    ('s[0]', "cannot index `s`"),
])
def test_arithmetic_on_strings_is_refused_at_build_time(expr: str, message: str) -> None:
    df = hepflow.RDataFrame(4, client="sync").Define("x", "(int)rdfentry_") \
        .Define("s", 'x > 1 ? "many" : "few"')
    with pytest.raises(ExpressionError, match=re.escape(message)) as err:
        df.Define("bad", expr)
    assert "^" in str(err.value)  # the caret under the offending text


def test_a_string_filter_is_refused() -> None:
    df = hepflow.RDataFrame(4, client="sync").Define("s", '"few"')
    with pytest.raises(ExpressionError, match="a filter needs a boolean"):
        df.Filter("s")


# -- Define and DefinePerSample of strings ----------------------------------------------------

def test_define_of_string_literals() -> None:
    df = hepflow.RDataFrame(10, client="sync", chunk_entries=3).Define("x", "(int)rdfentry_")
    g = df.Define("s", 'x % 3 == 0 ? "fizz" : "none"').Define("t", '"none"')
    assert g.GetColumnType("s") == "string"  # ROOT's name for std::string
    want = np.where(np.arange(10) % 3 == 0, "fizz", "none")
    got = g.AsNumpy(["s"])["s"]
    assert got.dtype == object and list(got) == list(want)  # as ROOT's AsNumpy
    assert g.Filter('s == "fizz"').Count().GetValue() == 4
    assert g.Filter("s != t").Count().GetValue() == 4
    assert g.Filter('s < "g"').Count().GetValue() == 4  # "fizz" < "g" < "none"
    assert g.Filter('"none" <= s').Count().GetValue() == 6
    assert g.Filter('x > 5 && s == "none"').Count().GetValue() == 2  # 7 and 8


def test_define_per_sample_on_a_plain_file_list(two_files: list[str]) -> None:
    """A callable gives each file's string; comparisons match an eager count per file."""
    df = hepflow.RDataFrame("Events", two_files, client="sync", chunk_entries=700)
    g = df.DefinePerSample("f", lambda info: Path(info.AsString().split(".root")[0]).name)
    assert g.GetColumnType("f") == "string"
    sizes = [len(_n_muon(p)) for p in two_files]
    assert g.Filter('f == "sample_000"').Count().GetValue() == sizes[0]
    assert g.Filter('f > "sample_000"').Count().GetValue() == sizes[1]
    many = g.Filter('f == "sample_001" && nMuon >= 2').Count().GetValue()
    assert many == int(np.sum(_n_muon(two_files[1]) >= 2))
    assert list(g.Take("f").GetValue()) == ["sample_000"] * sizes[0] + ["sample_001"] * sizes[1]


def test_define_per_sample_on_a_spec(two_files: list[str], tmp_path: Path) -> None:
    """ROOT's df0xx: a sample's string metadata, as a column and compared to a literal."""
    spec = {"samples": {
        "a": {"trees": ["Events"], "files": [two_files[0]], "metadata": {"cat": "signal"}},
        "b": {"trees": ["Events"], "files": [two_files[1]], "metadata": {"cat": "background"}}}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    df = hepflow.FromSpec(path, client="sync", chunk_entries=700)
    by_call = df.DefinePerSample("cat", 'rdfsampleinfo_.GetS("cat")')
    by_key = df.DefinePerSample("cat", "cat")
    n0, n1 = (len(_n_muon(p)) for p in two_files)
    for g in (by_call, by_key):
        assert g.GetColumnType("cat") == "string"
        assert g.Filter('cat == "signal"').Count().GetValue() == n0
        assert g.Filter('cat != "signal"').Count().GetValue() == n1
        assert g.Filter('cat < "c"').Count().GetValue() == n1
        got = g.Define("hi", 'cat == "signal" ? nMuon : -1').AsNumpy(["hi"])["hi"]
        want = np.concatenate([_n_muon(two_files[0]), np.full(n1, -1)])
        np.testing.assert_array_equal(got, want)
    named = df.Define("name", "rdfsampleinfo_.GetSampleName()")
    assert named.GetColumnType("name") == "string"
    assert named.Filter('name == "b"').Count().GetValue() == n1


# -- std::string branches, against ROOT -----------------------------------------------------

def _strings_frame() -> Any:
    return hepflow.RDataFrame("Events", str(STRINGS), client="sync")


def test_string_branch_type_and_values() -> None:
    df = _strings_frame()
    assert df.GetColumnType("s") == REFS["column_type"]
    got = df.AsNumpy(["s"])["s"]
    assert got.dtype == object and list(got) == REFS["as_numpy"]
    with uproot.open(STRINGS) as f:
        assert list(df.Take("s").GetValue()) == ak.to_list(f["Events"]["s"].array())


@pytest.mark.parametrize("expr", sorted(REFS["counts"]))
def test_string_branch_comparisons_match_root(expr: str) -> None:
    assert _strings_frame().Filter(expr).Count().GetValue() == REFS["counts"][expr]


def test_string_branch_display_matches_root() -> None:
    ascii_rows = REFS["display"].split("| 6 ")[0]  # ROOT pads "béta" by bytes, not letters
    got = _strings_frame().Display(["s", "x"], 7).AsString()
    assert got.startswith(ascii_rows)


def test_single_quotes_are_no_string() -> None:
    """As in C++, where 'abc' is not a string; rdfsampleinfo_ keys may still use them."""
    df = hepflow.RDataFrame(4, client="sync")
    with pytest.raises(ExpressionError, match="double quotes"):
        df.Define("s", "'abc'")


def test_snapshot_of_a_string_column_is_refused_when_booked(tmp_path: Path) -> None:
    """What the checker accepts must run: a text column Snapshot cannot write fails at once."""
    df = hepflow.RDataFrame(4, client="sync").Define("s", '"abc"').Define("x", "1")
    with pytest.raises(PlanError, match=r"column.*s hold text"):
        df.Snapshot("t", str(tmp_path / "out.root"), ["x", "s"])
    assert not (tmp_path / "out.root").exists()
