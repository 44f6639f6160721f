"""Scaling runs on a real 2-worker LocalCluster, the scaling model, and the benchmark analyses.

The built-in ttbar and training-prep analyses are checked against an eager
awkward/numpy twin on the same sample, like every other lazy result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def observed() -> Iterator[dict[str, Any]]:
    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.observe import install, register_pages

    register_pages()
    with local_cluster(2) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        install(client)
        port = cluster.scheduler.http_server.port
        yield {"cluster": cluster, "client": client, "base": f"http://127.0.0.1:{port}"}


@pytest.fixture(scope="module")
def strong(observed: dict[str, Any], sample_files: list[str],
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from hepflow.bench.plot import write_outputs
    from hepflow.bench.scaling import ScalingConfig, run_scaling

    config = ScalingConfig("dimuon", workers=(1, 2), mode="strong", repeat=2, warmup=1,
                           dataset=tuple(sample_files), chunk_entries=8_000,
                           overhead_tasks=200)
    result = run_scaling(config, client=observed["client"], log=lambda _: None)
    outdir = tmp_path_factory.mktemp("scaling")
    paths = write_outputs(result, outdir)
    return {"result": result, "paths": paths}


def test_scaling_json_has_the_expected_fields(strong):
    data = json.loads(strong["paths"]["json"].read_text())
    assert data["mode"] == "strong" and data["analysis"] == "dimuon"
    assert data["workers"] == [1, 2] and data["repeat"] == 2
    points = data["points"]
    assert [p["workers"] for p in points] == [1, 2]
    for p in points:
        assert p["entries"] == 40_000 and p["accounting_ok"]
        assert 0 < p["min_s"] <= p["median_s"] <= p["max_s"]
        assert len(p["repeats"]) == 2 and p["spread"] >= 0
        assert p["speedup"] > 0 and p["efficiency"] == pytest.approx(p["speedup"] / p["workers"])
        assert set(p["breakdown"]) >= {"decompress", "kernel", "fill", "idle"}
        assert p["chunk_cost"]["entries"] > 0 and p["chunk_cost"]["mean_s"] > 0
        assert p["speedup_best"] > 0 and p["chunk_slowdown"] > 0
    # the 1-worker point really ran on one worker, the 2-worker point on at most two
    assert {r["workers_used"] for r in points[0]["repeats"]} == {1}
    assert {r["workers_used"] for r in points[1]["repeats"]} == {2}
    assert points[0]["speedup"] == pytest.approx(1.0)
    fit = data["fit"]
    assert fit["model"] == "amdahl"
    assert fit["serial_fraction"] is None or 0.0 <= fit["serial_fraction"] <= 1.0
    assert len(fit["workers"]) == len(fit["ideal"]) == len(fit["amdahl"])
    assert data["task_overhead_s"] > 0
    model = data["model"]
    assert [r["workers"] for r in model["predictions"]] == [10, 100, 1000]
    assert all(r["limited_by"] in ("compute", "scheduler", "storage", "network")
               for r in model["predictions"])
    assert model["first_bottleneck"]["resource"]


def test_scaling_plots_are_written(strong):
    png = strong["paths"]["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    html = strong["paths"]["html"].read_text()
    assert "Speed-up" in html and "Efficiency" in html and "cdn.bokeh.org" not in html


def test_scaling_page_shows_the_published_curves(observed, strong):
    from bokeh.client import pull_session

    with pull_session(url=f"{observed['base']}/individual-hepflow-scaling") as session:
        data = session.document.select_one({"name": "hepflow-scaling"}).data
    assert list(data["workers"]) == [1, 2]
    assert list(data["speedup"]) == pytest.approx([p["speedup"]
                                                   for p in strong["result"]["points"]])


def test_weak_scaling_of_an_analysis_file(observed, sample_files, tmp_path):
    from hepflow.bench.scaling import ScalingConfig, run_scaling

    analysis = tmp_path / "muons.py"
    analysis.write_text(
        "import hepflow\nfrom hepflow.analysis import dataset\n"
        "df = hepflow.RDataFrame(dataset())\n"
        "pt = df.Filter('nMuon >= 1', 'a muon').Histo1D(('pt', 'pt', 50, 0, 100), "
        "'Muon_pt')\n")
    config = ScalingConfig(str(analysis), workers=(1, 2), mode="weak", repeat=1, warmup=0,
                           dataset=tuple(sample_files), overhead_tasks=0)
    result = run_scaling(config, client=observed["client"], log=lambda _: None)
    half = 0
    for path in sample_files:  # 3 files for 2 workers: each file's first half
        with uproot.open(path) as f:
            half += max(1, round(f["Events"].num_entries / 2))
    one, two = result["points"]
    assert (one["entries"], two["entries"]) == (half, 40_000)
    assert one["accounting_ok"] and two["accounting_ok"]
    assert result["fit"]["model"] == "gustafson"


def test_amdahl_and_gustafson_fits_recover_the_serial_fraction():
    from hepflow.bench.scaling import amdahl_fit, gustafson_fit

    workers = [1, 2, 4, 8]
    fit = amdahl_fit(workers, [10 * (0.2 + 0.8 / n) for n in workers])
    assert fit["serial_fraction"] == pytest.approx(0.2)
    assert fit["serial_s"] + fit["parallel_s"] == pytest.approx(10)
    assert amdahl_fit(workers, [10 / n for n in workers])["serial_fraction"] == pytest.approx(0)
    assert gustafson_fit(workers, [n - 0.1 * (n - 1) for n in workers]) == pytest.approx(0.1)


def test_model_names_the_first_bottleneck():
    from hepflow.bench.model import Costs, Facility, first_bottleneck, wall_seconds

    costs = Costs(chunk_seconds=1.0, chunk_entries=100_000, chunk_bytes=20e6,
                  task_overhead_s=0.001, serial_s=1.0)
    fast_storage = Facility(events=10**9, storage_gbytes_per_s=1e6, nic_gbits_per_s=1e6)
    first = first_bottleneck(costs, fast_storage)
    # 10,000 chunks of 1 s, 1.14 ms of scheduler time each: about 880 workers
    assert first["resource"] == "scheduler" and 700 < first["workers"] < 1000
    slow_storage = Facility(events=10**9, storage_gbytes_per_s=1.0, nic_gbits_per_s=1e6)
    assert first_bottleneck(costs, slow_storage)["resource"] == "storage"
    t10, limit = wall_seconds(costs, fast_storage, 10)
    assert limit == "compute" and t10 == pytest.approx(1.0 + 1000.0)


def test_bench_model_command(strong, capsys):
    from hepflow.bench.cli import main

    assert main(["bench", "model", str(strong["paths"]["json"]), "--targets", "10,1000"]) == 0
    out = capsys.readouterr().out
    assert "first bottleneck" in out and "1000" in out


# -- the built-in benchmark analyses against their eager twins ------------------------------


def _eager(sample_files: list[str], branches: list[str]) -> ak.Array:
    parts = []
    for path in sample_files:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays(branches))
    return ak.concatenate(parts)


def test_ttbar_analysis_matches_eager_twin(sample_files):
    import hepflow
    from benchmarks.ttbar import book

    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    results = book(df)
    hepflow.RunGraphs(list(results.values()))
    ev = _eager(sample_files, ["Muon_pt", "Muon_eta", "Electron_pt", "Electron_eta", "Jet_pt",
                               "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagDeepFlavB",
                               "Jet_jetId", "genWeight"])
    nlep = (ak.sum((ev.Muon_pt > 30) & (abs(ev.Muon_eta) < 2.1), axis=1)
            + ak.sum((ev.Electron_pt > 30) & (abs(ev.Electron_eta) < 2.1), axis=1))
    ev = ev[nlep == 1]
    ok = (ev.Jet_pt > 25) & (abs(ev.Jet_eta) < 2.4) & (ev.Jet_jetId >= 2)
    jets = ak.zip({"pt": ev.Jet_pt[ok], "eta": ev.Jet_eta[ok], "phi": ev.Jet_phi[ok],
                   "mass": ev.Jet_mass[ok], "btag": ev.Jet_btagDeepFlavB[ok]})
    four = ak.num(jets) >= 4
    ev, jets = ev[four], jets[four]
    nb = ak.sum(jets.btag > 0.5, axis=1)
    r1 = nb >= 1
    ht = np.asarray(ak.sum(ak.values_astype(jets.pt[r1], np.float64), axis=1))
    w1 = np.asarray(ev.genWeight[r1], dtype=np.float64)
    h = results["ht_4j1b"].GetValue()
    expected, _ = np.histogram(ht, bins=h.axes[0].edges, weights=w1)
    np.testing.assert_allclose(h.values(), expected, rtol=1e-9, atol=1e-9)
    j2 = jets[nb >= 2]
    assert results["events_4j2b"].GetValue() == len(j2)
    f8 = {k: ak.values_astype(j2[k], np.float64) for k in ("pt", "eta", "phi", "mass")}
    p4 = ak.zip({"px": f8["pt"] * np.cos(f8["phi"]), "py": f8["pt"] * np.sin(f8["phi"]),
                 "pz": f8["pt"] * np.sinh(f8["eta"]), "btag": j2.btag})
    p4 = ak.with_field(p4, np.sqrt(p4.px**2 + p4.py**2 + p4.pz**2 + f8["mass"]**2), "e")
    a, b, c = ak.unzip(ak.combinations(p4, 3))
    px, py, pz, e = (a[k] + b[k] + c[k] for k in ("px", "py", "pz", "e"))
    tri_pt = np.sqrt(px**2 + py**2)
    has_b = np.maximum(np.maximum(a.btag, b.btag), c.btag) > 0.5
    best = ak.argmax(ak.where(has_b, tri_pt, -1.0), axis=1, keepdims=True)
    mass = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    top = np.asarray(ak.flatten(mass[best]))
    w2 = np.asarray(ev.genWeight[nb >= 2], dtype=np.float64)
    h = results["top_mass_4j2b"].GetValue()
    expected, _ = np.histogram(top, bins=h.axes[0].edges, weights=w2)
    np.testing.assert_allclose(h.values(), expected, rtol=1e-9, atol=1e-9)


def test_training_prep_table_matches_eager_twin(sample_files):
    import hepflow
    from benchmarks.training_prep import JETS, book

    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    results = book(df)
    hepflow.RunGraphs(list(results.values()))
    table = results["table"].GetValue()
    rows = results["rows"].GetValue()
    assert len(table) == 8 + 3 * JETS + 2
    assert all(len(v) == rows for v in table.values())
    ev = _eager(sample_files, ["Muon_pt", "Muon_eta", "Muon_tightId", "Electron_pt",
                               "Electron_eta", "Electron_cutBased", "Jet_pt", "Jet_eta",
                               "process"])
    mu = (ev.Muon_pt > 30) & (abs(ev.Muon_eta) < 2.4) & ev.Muon_tightId
    el = (ev.Electron_pt > 30) & (abs(ev.Electron_eta) < 2.4) & (ev.Electron_cutBased >= 3)
    ev, mu = ev[(ak.sum(mu, axis=1) + ak.sum(el, axis=1)) == 1], mu[
        (ak.sum(mu, axis=1) + ak.sum(el, axis=1)) == 1]
    jet_pt = ev.Jet_pt[(ev.Jet_pt > 25) & (abs(ev.Jet_eta) < 2.4)]
    keep = ak.num(jet_pt) >= 2
    assert rows == int(ak.sum(keep))
    lead = np.asarray(ak.max(jet_pt[keep], axis=1), dtype=np.float64)
    np.testing.assert_array_equal(table["jet1_pt"], lead)
    np.testing.assert_array_equal(table["process"], np.asarray(ev.process[keep]))
    assert results["mean_jet1_pt"].GetValue() == pytest.approx(lead.mean(), rel=1e-12)


def test_builtin_names_resolve():
    from hepflow.bench.scaling import BUILTINS, resolve_analysis

    for name in BUILTINS:
        label, book = resolve_analysis(name)
        assert label == name and callable(book)
    with pytest.raises(ValueError, match="neither a built-in"):
        resolve_analysis(str(Path("no/such/analysis.py")))
