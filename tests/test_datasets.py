"""Datasets: loaders, samples and metadata, per-sample results, caching, failures and reruns."""

from __future__ import annotations

import json
import os
import time

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

import hepflow
from hepflow import Dataset
from hepflow.dataset.scan import cache_dir
from hepflow.io.reader import close_all


@pytest.fixture(scope="module")
def two_samples(tmp_path_factory):
    from hepflow.samples import make_sample

    base = tmp_path_factory.mktemp("samples")
    dy = make_sample(base / "dy", events=12_000, files=2, seed=21, basket_entries=2_000,
                     name="dy", extra_branches=5)
    tt = make_sample(base / "tt", events=9_000, files=1, seed=22, basket_entries=3_000,
                     name="tt", extra_branches=5)
    return {"dy": [str(p) for p in dy], "tt": [str(p) for p in tt]}


def _eager(paths, branches):
    parts = []
    for p in paths:
        with uproot.open(p) as f:
            parts.append(f["Events"].arrays(branches))
    return ak.concatenate(parts)


def test_loaders_agree(two_samples, tmp_path):
    own = {"tree": "Events", "samples": {
        "dy": {"metadata": {"xsec": 6000.0, "lumi": 10.0}, "files": two_samples["dy"]},
        "tt": {"metadata": {"xsec": 800.0, "lumi": 10.0},
               "files": [{"replicas": two_samples["tt"]}]}}}
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(own))
    coffea = {"dy": {"files": {p: "Events" for p in two_samples["dy"]},
                     "metadata": {"xsec": 6000.0, "lumi": 10.0}},
              "tt": {"files": {p: "Events" for p in two_samples["tt"]},
                     "metadata": {"xsec": 800.0, "lumi": 10.0}}}
    (tmp_path / "coffea.json").write_text(json.dumps(coffea))
    rdf = {"samples": {
        "dy": {"trees": ["Events"], "files": two_samples["dy"],
               "metadata": {"xsec": 6000.0, "lumi": 10.0}},
        "tt": {"trees": ["Events"], "files": two_samples["tt"],
               "metadata": {"xsec": 800.0, "lumi": 10.0}}}}
    (tmp_path / "spec.json").write_text(json.dumps(rdf))
    loaded = [Dataset.load(tmp_path / name) for name in ("own.yaml", "coffea.json",
                                                          "spec.json")]
    for ds in loaded:
        assert [s.name for s in ds] == ["dy", "tt"]
        assert [f.url for f in ds["dy"].files] == two_samples["dy"]
        assert ds["tt"].xsec == 800.0 and ds["dy"].lumi == 10.0
    assert Dataset.from_dict(loaded[0].to_dict()) == loaded[0]
    with pytest.raises(hepflow.PlanError, match="trees"):
        Dataset.from_dict({"samples": {"x": {"trees": ["a", "b"], "files": ["f"]}}})


def test_per_sample_results_in_one_pass(two_samples):
    ds = Dataset.from_dict({"samples": {
        "dy": {"metadata": {"xsec": 6000.0, "lumi": 2.0, "sumw": 12_000.0},
               "files": two_samples["dy"]},
        "tt": {"metadata": {"xsec": 800.0, "lumi": 2.0, "sumw": 9_000.0},
               "files": two_samples["tt"]}}})
    df = hepflow.RDataFrame(ds, client="sync", chunk_entries=4_000)
    w = (df.DefinePerSample("norm", "xsec * lumi / sumw")
           .DefinePerSample("sid", lambda info: info.index)
           .Define("w", "norm * genWeight")
           .Define("is_dy", 'rdfsampleinfo_.GetSampleName() == "dy"')
           .Define("lumi2", 'rdfsampleinfo_.GetD("lumi") * 2'))
    h = w.Histo1D(("met", "met", 20, 0, 200), "MET_pt", "w")
    n = w.Filter("is_dy").Count()
    sid = w.Sum("sid")
    lumi = w.Mean("lumi2")
    per = h.per_sample()
    dy, tt = _eager(two_samples["dy"], ["MET_pt", "genWeight"]), \
        _eager(two_samples["tt"], ["MET_pt", "genWeight"])
    for events, norm, name in ((dy, 6000.0 * 2 / 12_000, "dy"), (tt, 800.0 * 2 / 9_000, "tt")):
        ref = np.histogram(np.asarray(events.MET_pt, dtype=float), bins=20, range=(0, 200),
                           weights=norm * np.asarray(events.genWeight, dtype=float))[0]
        np.testing.assert_allclose(per[name].values(), ref, rtol=1e-10)
    np.testing.assert_allclose(h.GetValue().values(),
                               per["dy"].values() + per["tt"].values(), rtol=1e-12)
    assert n.GetValue() == len(dy)
    assert n.per_sample() == {"dy": len(dy), "tt": 0}
    assert sid.GetValue() == len(tt)
    assert lumi.GetValue() == 4.0
    info = h.run_info()
    assert info.per_sample == {"dy": (len(dy), len(dy)), "tt": (len(tt), len(tt))}
    assert info.complete and info.metrics.bytes_compressed > 0


def test_metadata_errors_at_build_time(two_samples):
    ds = Dataset.from_dict({"samples": {
        "dy": {"metadata": {"xsec": 1.0}, "files": two_samples["dy"]},
        "tt": {"metadata": {}, "files": two_samples["tt"]}}})
    df = hepflow.RDataFrame(ds, client="sync")
    with pytest.raises(hepflow.ExpressionError, match="missing in sample"):
        df.Define("x", 'rdfsampleinfo_.GetD("xsec")')
    with pytest.raises(hepflow.ExpressionError, match="unknown column `xsec`"):
        df.DefinePerSample("x", "xsec * 2")


def test_preprocessing_is_cached(two_samples, monkeypatch):
    ds = Dataset.from_files(two_samples["dy"] + two_samples["tt"], "Events")
    first = hepflow.preprocess(ds)
    import hepflow.dataset.scan as pre

    def no_open(*args, **kwargs):
        raise AssertionError("a cached file must not be opened again")

    monkeypatch.setattr(pre, "inspect_file", no_open)
    start = time.perf_counter()
    second = hepflow.preprocess(ds)
    assert time.perf_counter() - start < 0.5
    assert second.files == first.files and second.chunks == first.chunks
    assert any(cache_dir().glob("*.json"))


def test_chunks_by_bytes_are_cluster_aligned(two_samples):
    # One file: the bytes per entry of one file set the byte target of its chunks.
    ds = Dataset.from_files(two_samples["dy"][:1], "Events")
    by_entries = hepflow.preprocess(ds, chunk_entries=4_000)
    per_entry = by_entries.files[0].compressed_bytes / by_entries.files[0].num_entries
    by_bytes = hepflow.preprocess(ds, chunk_bytes=int(per_entry * 4_000))
    assert [c.num_entries for c in by_bytes.chunks] == [c.num_entries for c in
                                                        by_entries.chunks]
    for chunk in by_bytes.chunks:
        assert chunk.entry_start % 2_000 == 0


def test_skip_policy_reports_exactly_and_rerun_completes(two_samples, tmp_path):
    import shutil

    broken_dir = tmp_path / "site"
    broken_dir.mkdir()
    copies = [shutil.copy(p, broken_dir) for p in two_samples["dy"]]
    ds = Dataset.from_dict({"samples": {"dy": {"files": copies},
                                        "tt": {"files": two_samples["tt"]}}})
    prepared = hepflow.preprocess(ds, chunk_entries=2_000)
    clean = hepflow.RDataFrame(prepared, client="sync")
    h_clean = clean.Histo1D(("m", "m", 50, 0, 200), "MET_pt").GetValue()
    n_clean = clean.Count().GetValue()
    # the second file disappears from its site (and no worker holds it open any more)
    os.rename(copies[1], str(copies[1]) + ".gone")
    close_all()
    opts = hepflow.Options(read_policy="skip", retries=0)
    df = hepflow.RDataFrame(prepared, client="sync", options=opts)
    h = df.Histo1D(("m", "m", 50, 0, 200), "MET_pt")
    n = df.Count()
    info = h.run_info()
    lost = [c for c in prepared.chunks if c.url == copies[1]]
    assert [f.chunk for f in info.failures] == lost
    assert all(copies[1] in f.reason for f in info.failures)
    assert info.entries_processed == n_clean - sum(c.num_entries for c in lost)
    assert not info.complete and "NOT PROCESSED" in str(info)
    assert info.per_sample["dy"] == (12_000, 12_000 - sum(c.num_entries for c in lost))
    rerun_ds = info.failed_dataset()
    os.rename(str(copies[1]) + ".gone", copies[1])
    rerun = hepflow.RDataFrame(rerun_ds, client="sync")
    h2 = rerun.Histo1D(("m", "m", 50, 0, 200), "MET_pt")
    assert n.GetValue() + rerun.Count().GetValue() == n_clean
    assert np.array_equal((h.GetValue() + h2.GetValue()).values(flow=True),
                          h_clean.values(flow=True))
    with pytest.raises(hepflow.ReadError, match=r"entries \d+-\d+ of .*dy_001\.root"):
        os.rename(copies[1], str(copies[1]) + ".gone")
        close_all()
        hepflow.RDataFrame(prepared, client="sync", options=hepflow.Options(retries=0)
                           ).Count().GetValue()


def test_corrupt_and_wrong_files_are_refused(two_samples, tmp_path):
    import shutil

    victim = shutil.copy(two_samples["dy"][0], tmp_path / "dy_000.root")
    prepared = hepflow.preprocess(Dataset.from_files([victim], "Events"), chunk_entries=2_000)
    data = open(victim, "rb").read()
    with open(victim, "wb") as f:
        f.write(data[: len(data) // 2])
    close_all()
    df = hepflow.RDataFrame(prepared, client="sync", options=hepflow.Options(retries=0))
    with pytest.raises(hepflow.ReadError, match=r"dy_000\.root") as info:
        df.Sum("MET_pt").GetValue()
    assert "entries" in str(info.value)
    shutil.copy(two_samples["dy"][1], victim)
    close_all()
    df = hepflow.RDataFrame(prepared, client="sync", options=hepflow.Options(retries=0))
    with pytest.raises(hepflow.ReadError, match="different file"):
        df.Count().GetValue()


def test_second_run_over_100_files_starts_at_once(tmp_path, client, monkeypatch):
    from hepflow.samples import make_sample

    paths = [str(p) for p in make_sample(tmp_path, events=20_000, files=100, seed=3,
                                         basket_entries=200, extra_branches=3)]
    ds = Dataset.from_dict({"samples": {"a": {"files": paths[:50]}, "b": {"files": paths[50:]}}})
    first = hepflow.RDataFrame(ds, client=client)
    assert first.Count().GetValue() == 20_000
    import hepflow.dataset.scan as scan

    def no_open(*args, **kwargs):
        raise AssertionError("a cached file must not be opened on the client")

    monkeypatch.setattr(scan, "inspect_file", no_open)
    monkeypatch.setattr("uproot.open", no_open)
    took = []  # best of three: a moment of load on 2 cores must not fail the check
    for _ in range(3):
        start = time.perf_counter()
        df = hepflow.RDataFrame(ds, client=client)
        handle = df.Filter("nMuon >= 1").Count()
        df.dask_graph()
        took.append(time.perf_counter() - start)
    assert min(took) < 0.5, took
    monkeypatch.undo()
    assert handle.per_sample()["a"] + handle.per_sample()["b"] == handle.GetValue()


def test_dataset_file_mistakes_are_plan_errors(tmp_path):
    """A missing file, a folder, undecodable bytes or bad YAML: one clear PlanError each."""
    from hepflow import Dataset, PlanError

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("samples: [unclosed\n  more: {\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00samples")
    for path, words in ((tmp_path / "missing.yaml", "cannot read the dataset file"),
                        (tmp_path, "is a folder"), (binary, "cannot read the dataset file"),
                        (bad_yaml, "cannot parse dataset file")):
        with pytest.raises(PlanError, match=words) as info:
            Dataset.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def _alias_bomb(levels: int) -> str:
    """YAML of a few hundred bytes whose aliases expand to 9**levels leaves."""
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    lines.append(f"samples: {{s: {{files: [f.root], metadata: {{x: *l{levels - 1}}}}}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)
def test_hostile_dataset_files_are_one_line_plan_errors(tmp_path):
    """NUL in names, deep nesting, alias bombs and FIFOs: a PlanError each, at once, in
    little memory (a FIFO would block whoever opens it forever: pytest-timeout catches that)."""
    import tracemalloc

    from hepflow import PlanError
    from hepflow.dataset.scan import inspect_file

    (tmp_path / "nul.yaml").write_text('samples: {a: {files: ["a\\0b.root"]}}\n')
    (tmp_path / "deep.yaml").write_text("[" * 10_000)
    (tmp_path / "deep.json").write_text("[" * 10_000)
    (tmp_path / "nested.json").write_text("[" * 200 + "]" * 200)
    (tmp_path / "bomb.yaml").write_text(_alias_bomb(9))
    os.mkfifo(tmp_path / "fifo.yaml")
    os.mkfifo(tmp_path / "fifo.root")
    fifo = str(tmp_path / "fifo.root")
    cases = [
        (lambda: Dataset.load(tmp_path / "nul.yaml"), "cannot contain a NUL"),
        (lambda: Dataset.load(str(tmp_path / "x\0.yaml")), "cannot contain a NUL"),
        (lambda: Dataset.from_dict({"samples": {"a": {"files": ["a\0b.root"]}}}),
         "cannot contain a NUL"),
        (lambda: Dataset.from_files(["a\0b.root"], "Events"), "cannot contain a NUL"),
        (lambda: hepflow.RDataFrame("Events", "x\0.root", client="sync"),
         "cannot contain a NUL"),
        (lambda: Dataset.load(tmp_path / "deep.yaml"), "nest more than 32 levels"),
        (lambda: Dataset.load(tmp_path / "deep.json"), "nest more than 32 levels"),
        (lambda: Dataset.load(tmp_path / "nested.json"), "nest more than 32 levels"),
        (lambda: Dataset.load(tmp_path / "bomb.yaml"), "aliases .* are not allowed"),
        (lambda: Dataset.load(tmp_path / "fifo.yaml"), "FIFO .*not a regular file"),
        (lambda: hepflow.preprocess(Dataset.from_files([fifo], "Events")),
         "FIFO .*not a regular file"),
        (lambda: hepflow.RDataFrame("Events", fifo, client="sync"),
         "FIFO .*not a regular file"),
    ]
    for case, words in cases:
        start = time.perf_counter()
        with pytest.raises(PlanError, match=words) as info:
            case()
        assert time.perf_counter() - start < 5, words
        assert "\n" not in str(info.value)
        tracemalloc.start()
        with pytest.raises(PlanError):
            case()
        assert tracemalloc.get_traced_memory()[1] < 50e6, words
        tracemalloc.stop()
    # a worker asked to open it refuses it too, rather than blocking
    with pytest.raises(hepflow.ReadError, match=r"FIFO .*not a regular file"):
        inspect_file(fifo, "Events")


@pytest.mark.cluster
def test_preprocessing_shows_a_bar_of_files_described(two_samples, client, capfd):
    """Describing many files on the cluster takes minutes: a bar counts them."""
    ds = Dataset.from_files(two_samples["dy"] + two_samples["tt"], "Events")
    prepared = hepflow.preprocess(ds, client=client, use_cache=False)
    assert len(prepared.files) == 3
    err = capfd.readouterr().err
    assert "preprocessing" in err and "3/3" in err
