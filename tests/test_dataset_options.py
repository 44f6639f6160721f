"""Dataset options are applied exactly or refused: steps, ranges, friends, metadata, keys.

Also the places files come from: fsspec URLs (`simplecache::...`, `file://`)
and `root://` globs expanded by listing the directory on a real XRootD server.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import dask
import numpy as np
import pytest
import uproot
import yaml

import hepflow
from hepflow import Dataset
from hepflow.testing import (
    FAST_FAIL_CLIENT_SETTINGS,
    XRootDServer,
    client_settings,
    xrootd_available,
)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DIMUON = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two NanoAOD-like files of 3,000 entries, clusters of 1,000."""
    from hepflow.samples import make_sample

    base = tmp_path_factory.mktemp("options")
    return [str(p) for p in make_sample(base, events=6_000, files=2, seed=5,
                                        basket_entries=1_000)]


def _eager(paths: list[str], branch: str) -> np.ndarray:
    parts = []
    for p in paths:
        with uproot.open(p) as f:
            parts.append(np.asarray(f["Events"][branch].array(library="np")))
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def friend_files(files: list[str], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A friend chain of 6,000 entries cut 2,500 + 3,500 (so chunks straddle its files).

    `w` is the main chain's MET_pt times two, so alignment is checked entry by entry; the
    first file is a TTree, the second an RNTuple.
    """
    base = tmp_path_factory.mktemp("friends")
    met = _eager(files, "MET_pt").astype(np.float64)
    out = [str(base / "calib_1.root"), str(base / "calib_2.root")]
    with uproot.recreate(out[0]) as f:
        f.mktree("Calib", {"w": np.float64, "k": np.int32})
        f["Calib"].extend({"w": 2 * met[:2_500], "k": np.arange(2_500, dtype=np.int32)})
    with uproot.recreate(out[1]) as f:
        f.mkrntuple("Calib", {"w": np.float64, "k": np.int32})
        f["Calib"].extend({"w": 2 * met[2_500:],
                           "k": np.arange(2_500, 6_000, dtype=np.int32)})
    return out


def test_coffea_steps_are_the_entries_read(files: list[str]) -> None:
    fileset = {"dy": {"files": {
        files[0]: {"object_path": "Events", "steps": [[0, 10], [1_500, 2_700]]},
        files[1]: {"object_path": "Events", "steps": [[2_999, 3_000]], "num_entries": 3_000}},
        "metadata": {"xsec": 2.0}}}
    prepared = hepflow.preprocess(Dataset.from_dict(fileset), chunk_entries=500)
    spans = [(c.file_index, c.entry_start, c.entry_stop) for c in prepared.chunks]
    assert spans == [(0, 0, 10), (0, 1_500, 2_000), (0, 2_000, 2_700), (1, 2_999, 3_000)]
    df = hepflow.RDataFrame(prepared, client="sync")
    met = _eager(files, "MET_pt")
    want = np.concatenate([met[0:10], met[1_500:2_700], met[3_000 + 2_999:]])
    total, count = df.Sum("MET_pt"), df.Count()
    entries = df.Define("e", "rdfentry_").Take("e")
    norm = df.DefinePerSample("x", 'rdfsampleinfo_.GetD("xsec")').Sum("x")
    assert count.GetValue() == len(want) == 1_211
    assert total.GetValue() == pytest.approx(float(np.sum(want, dtype=np.float64)), rel=1e-12)
    assert np.array_equal(entries.GetValue(), np.r_[0:10, 1_500:2_700, 5_999])
    assert norm.GetValue() == 2.0 * 1_211
    assert count.run_info().complete


def test_rdatasetspec_range_and_friends(files: list[str], friend_files: list[str],
                                        tmp_path: Path) -> None:
    spec = {"samples": {"dy": {"trees": ["Events"], "files": files,
                               "metadata": {"xsec": 1.5, "tag": "dy"}}},
            "friends": {"calib": {"trees": ["Calib"], "files": friend_files}},
            "range": [1_200, 5_100]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    df = hepflow.RDataFrame(str(tmp_path / "spec.json"), client="sync", chunk_entries=700)
    assert {"calib.w", "calib.k"} <= set(df.GetColumnNames())
    assert df.GetColumnType("calib.k") == "Int_t"  # a friend branch: its leaf type, as ROOT
    met = _eager(files, "MET_pt").astype(np.float64)
    ratio = df.Define("r", lambda w, m: w / m, ["calib.w", "MET_pt"])
    k = df.Take("calib.k")
    ratios = ratio.Take("r")
    total = df.Sum("calib.w")
    count = df.Count()
    assert count.GetValue() == 3_900
    assert np.array_equal(k.GetValue(), np.arange(1_200, 5_100))
    assert np.all(ratios.GetValue() == 2.0)
    assert total.GetValue() == pytest.approx(2 * met[1_200:5_100].sum(), rel=1e-12)
    chunks = df._runner.chunks  # type: ignore[attr-defined]
    assert any(len(c.friends) == 2 for c in chunks)  # a chunk across both friend files
    as_string = df.Filter("calib.k % 2 == 0").Define("r", "calib.w / MET_pt").Sum("r")
    assert as_string.GetValue() == pytest.approx(2.0 * len(range(1_200, 5_100, 2)), rel=1e-12)
    # AsAwkward's per-chunk arrays, as plain Dask tasks (no dask-awkward needed)
    lazy = ak.concatenate(dask.compute(*df._partitions(["calib.k", "MET_pt"]).delayed(),
                                       scheduler="sync"))
    assert np.array_equal(ak.to_numpy(lazy["calib.k"]), np.arange(1_200, 5_100))


def test_friends_on_a_cluster(files: list[str], friend_files: list[str],
                              client: object) -> None:
    ds = Dataset.from_dict({"tree": "Events", "samples": {"a": {"files": files}},
                            "friends": {"calib": {"tree": "Calib", "files": friend_files}}})
    df = hepflow.RDataFrame(ds, client=client, chunk_entries=1_000)
    h = df.Histo1D(("w", "w", 40, 0, 400), "calib.w")
    met = _eager(files, "MET_pt").astype(np.float64)
    ref = np.histogram(2 * met, bins=40, range=(0, 400))[0]
    assert np.array_equal(h.GetValue().values(), ref)


def test_friend_with_other_entry_count_is_refused(files: list[str],
                                                  friend_files: list[str]) -> None:
    spec = {"samples": {"dy": {"trees": ["Events"], "files": files}},
            "friends": {"calib": {"trees": ["Calib"], "files": friend_files[:1]}}}
    with pytest.raises(hepflow.PlanError, match=r"friend 'calib' has 2500 entries.*6000"):
        hepflow.RDataFrame(spec, client="sync")


def test_hepflow_yaml_entry_ranges(files: list[str], tmp_path: Path) -> None:
    own = {"tree": "Events", "samples": {
        "a": {"files": [{"url": files[0], "entries": [100, 1_100]}]},
        "b": {"files": [{"url": files[1], "steps": [[0, 5], [2_000, 3_000]]}]}}}
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(own))
    ds = Dataset.load(tmp_path / "own.yaml")
    assert Dataset.from_dict(ds.to_dict()) == ds
    df = hepflow.RDataFrame(ds, client="sync", chunk_entries=400)
    n = df.Count()
    assert n.GetValue() == 1_000 + 1_005
    assert n.per_sample() == {"a": 1_000, "b": 1_005}
    assert hepflow.preprocess(ds).entries_per_sample() == {"a": 1_000, "b": 1_005}


@pytest.mark.parametrize("data, match", [
    ({"tree": "Events", "samples": {"a": {"files": ["x.root"], "metdata": {}}}},
     r"sample 'a': unknown key 'metdata'; did you mean `metadata`"),
    ({"tree": "Events", "samples": {"a": {"files": [{"url": "x.root", "step": [[0, 1]]}]}}},
     r"unknown key 'step'"),
    ({"tree": "Events", "samples": {"a": {"files": ["x.root"]}}, "friend": {}},
     r"unknown key 'friend'"),
    ({"samples": {"a": {"trees": ["T"], "files": ["x.root"], "range": [0, 1]}}},
     r"sample 'a': unknown key 'range'"),
    ({"samples": {"a": {"trees": ["T"], "files": ["x.root"]}}, "ranges": [1]},
     r"unknown key 'ranges'"),
    ({"a": {"files": {"x.root": {"object_path": "T", "stepz": [[0, 1]]}}}},
     r"file 'x.root': unknown key 'stepz'"),
    ({"a": {"files": {"x.root": "T"}, "meta": {}}}, r"unknown key 'meta'"),
    ({"a": {"files": {"x.root": {"object_path": "T", "steps": [[5, 1]]}}}},
     r"not an entry range"),
    ({"a": {"files": {"x.root": {"object_path": "T", "steps": [[0, 5], [3, 8]]}}}},
     r"must not overlap"),
    ({"tree": "T", "samples": {"a": {"files": ["x.root"], "metadata": {"xs": [1, 2]}}}},
     r"metadata 'xs' must be a string or a number"),
    ({"samples": {"a": {"trees": ["T"], "files": ["x.root"]}}, "range": [1, 2, 3]},
     r"'range' is \[end\] or \[begin, end\]"),
])
def test_dataset_files_refuse_what_they_cannot_apply(data: dict[str, object], match: str) -> None:
    with pytest.raises(hepflow.PlanError, match=match):
        Dataset.from_dict(data)


def test_ranges_beyond_the_file_and_wrong_identity_are_refused(files: list[str]) -> None:
    beyond = {"a": {"files": {files[0]: {"object_path": "Events", "steps": [[0, 3_001]]}}}}
    with pytest.raises(hepflow.PlanError, match=r"\[0, 3001\).*only 3000 entries"):
        hepflow.preprocess(Dataset.from_dict(beyond))
    count = {"a": {"files": {files[0]: {"object_path": "Events", "num_entries": 10}}}}
    with pytest.raises(hepflow.PlanError, match="says 10 entries, the file has 3000"):
        hepflow.preprocess(Dataset.from_dict(count))
    other = {"a": {"files": {files[0]: {"object_path": "Events", "uuid": "not-this-one"}}}}
    with pytest.raises(hepflow.PlanError, match="different file"):
        hepflow.preprocess(Dataset.from_dict(other))
    spec = {"samples": {"a": {"trees": ["Events"], "files": files}}, "range": [0, 6_001]}
    with pytest.raises(hepflow.PlanError, match="ends after the 6000 entries"):
        hepflow.preprocess(Dataset.from_dict(spec))


def test_fsspec_urls_read_like_local_files(files: list[str]) -> None:
    cached = "simplecache::file://" + files[0]
    plain = "file://" + files[1]
    df = hepflow.RDataFrame("Events", [cached, plain], client="sync", chunk_entries=1_000)
    total = df.Sum("MET_pt")
    assert total.GetValue() == pytest.approx(float(_eager(files, "MET_pt").sum(
        dtype=np.float64)), rel=1e-12)
    assert total.run_info().metrics.bytes_compressed > 0
    pattern = "simplecache::file://" + str(Path(files[0]).parent / "*.root")
    listed = hepflow.RDataFrame("Events", pattern, client="sync")
    assert [f.url for f in listed._runner.prepared.files] == [  # type: ignore[attr-defined]
        "simplecache::file://" + p for p in sorted(files)]
    with pytest.raises(hepflow.PlanError, match="no files match"):
        hepflow.RDataFrame("Events", "simplecache::file:///nonexistent/dir/*.root",
                           client="sync")
    # a replica that is not there is failed over to the next, through the same fsspec path
    ds = Dataset((hepflow.Sample("s", (hepflow.FileSpec(
        ("simplecache::file:///nonexistent/dir/sample_000.root", cached)),)),))
    over = hepflow.RDataFrame(ds, client="sync", options=hepflow.Options(retries=1, backoff=0))
    first = over.Sum("MET_pt")
    assert first.GetValue() == pytest.approx(float(_eager(files[:1], "MET_pt").sum(
        dtype=np.float64)), rel=1e-12)
    assert first.run_info().complete


@pytest.fixture(scope="module")
def site(files: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    if not xrootd_available():
        pytest.skip("the xrootd server binary is missing: apt-get install "
                    "$(cat deployments/xrootd/debian-packages.txt)")
    pytest.importorskip("fsspec_xrootd", reason="fsspec-xrootd handles root:// for uproot")
    data = tmp_path_factory.mktemp("site")
    (data / "store").mkdir()
    for p in files:
        shutil.copy(p, data / "store" / Path(p).name)
    shutil.copy(DIMUON, data / "store" / "dimuon_rntuple.root")
    with client_settings(FAST_FAIL_CLIENT_SETTINGS), XRootDServer(data, name="opts") as srv:
        yield srv


@pytest.mark.xrootd
@pytest.mark.timeout(120)
def test_root_glob_is_listed_on_the_server(site: XRootDServer, files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", site.url("store/sample_*.root"), client="sync")
    urls = [f.url for f in df._runner.prepared.files]  # type: ignore[attr-defined]
    assert urls == [site.url("store/" + Path(p).name) for p in sorted(files)]
    assert df.Sum("MET_pt").GetValue() == pytest.approx(
        float(_eager(sorted(files), "MET_pt").sum(dtype=np.float64)), rel=1e-12)
    with pytest.raises(hepflow.PlanError, match="no files match"):
        hepflow.RDataFrame("Events", site.url("store/nothing_*.root"), client="sync")


@pytest.mark.xrootd
@pytest.mark.timeout(120)
@pytest.mark.skipif(not DIMUON.exists(), reason=f"the real ROOT files are not at {REALDATA}")
def test_remote_rntuple_through_xrootd_and_simplecache(site: XRootDServer) -> None:
    with uproot.open(DIMUON) as f:
        pt = f["Events"]["Muon_pt"].array()
    for url in (site.url("store/dimuon_rntuple.root"),
                "simplecache::" + site.url("store/dimuon_rntuple.root")):
        df = hepflow.RDataFrame("Events", url, client="sync", chunk_entries=250)
        got = df.Take("Muon_pt")
        assert ak.to_list(got.GetValue()) == ak.to_list(pt), url


def test_failed_chunks_of_a_dataset_with_friends_are_not_rerun_without_them(
        files: list[str], friend_files: list[str]) -> None:
    """`failed_dataset()` cannot keep friends aligned on a subset: it says so, not drops them."""
    from hepflow.core.chunk import Chunk
    from hepflow.results.partials import Failure
    from hepflow.results.runinfo import RunInfo

    ds = Dataset.from_dict({"tree": "Events", "samples": {"a": {"files": files}},
                            "friends": {"calib": {"tree": "Calib", "files": friend_files}}})
    chunk = Chunk(0, 0, files[0], "Events", 0, 1_000, 0, sample="a")
    info = RunInfo(1, 1_000, 0, 0.1, ("MET_pt",), failures=(Failure(chunk, "gone"),),
                   dataset=ds)
    with pytest.raises(ValueError, match=r"friends \(calib\) are aligned entry by entry"):
        info.failed_dataset()
    alone = Dataset.from_dict({"tree": "Events", "samples": {"a": {"files": files}}})
    plain = RunInfo(1, 1_000, 0, 0.1, ("MET_pt",), failures=(Failure(chunk, "gone"),),
                    dataset=alone)
    rerun = plain.failed_dataset()
    assert [(f.entry_start, f.entry_stop) for _, f in rerun.files] == [(0, 1_000)]
