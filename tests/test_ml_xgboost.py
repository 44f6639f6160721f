"""xgboost.dask training on the real 2-worker cluster, bundles, and `Predict` in the graph."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml import plots

pytestmark = pytest.mark.cluster

FEATURES = ml.Features(["MET_pt", "nJet", "nMuon"],
                       [ml.Jagged(["Jet_pt", "Jet_btagDeepFlavB"], 4), ml.Jagged("Muon_pt", 2)],
                       label="is_ttbar", weight="genWeight", negative_weights="abs",
                       classes=("Drell-Yan", "ttbar"))


def _selection(files: list[str], client: Any) -> Any:
    df = hepflow.RDataFrame("Events", files, client=client)
    return df.Filter("process != 2", "no QCD").Define("is_ttbar", "process == 1")


_PRINTED: dict[str, str] = {}


@pytest.fixture(scope="module")
def trained(sample_files: list[str], client: Any) -> ml.TrainResult:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = ml.train_xgboost(_selection(sample_files, client), FEATURES,
                                  {"max_depth": 3, "eta": 0.3}, num_boost_round=200,
                                  early_stopping_rounds=5)
        time.sleep(0.5)  # the last progress event on its way from the scheduler
    _PRINTED["train"] = out.getvalue()
    return result


def test_progress_best_iteration_and_plots(trained: ml.TrainResult) -> None:
    """Rounds and validation metrics printed on the client; best round kept; HEP plots."""
    assert "xgboost round 10/200: validation_auc" in _PRINTED["train"]
    assert "validation_logloss" in _PRINTED["train"]
    best = trained.bundle.metrics["best_iteration"]
    assert best == trained.booster.num_boosted_rounds() - 1
    assert best + 1 < 200
    fig = plots.roc_figure(trained)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and "rejection" in ax.get_ylabel()
    assert ax.get_xlabel() == "Signal efficiency"
    test_line = ax.get_lines()[0]
    assert np.all(np.asarray(test_line.get_ydata()) >= 1.0)
    fig = plots.history_figure(trained)
    loss, auc = fig.axes
    assert loss.get_ylabel() == "loss" and auc.get_ylabel() == "AUC"
    assert {ln.get_label() for ln in auc.get_lines()} >= {"validation_auc", "train_auc"}
    assert all("auc" not in ln.get_label() for ln in loss.get_lines())


def test_separates_drell_yan_from_ttbar(trained: ml.TrainResult) -> None:
    assert trained.test_auc > 0.9
    assert trained.auc == trained.test_auc
    booster = trained.booster
    rounds = booster.num_boosted_rounds()
    assert set(trained.history) == {"train_auc", "train_logloss", "validation_auc",
                                    "validation_logloss"}
    # early stopping on the validation log loss; the booster is cut at the best round
    history = trained.history["validation_logloss"]
    assert rounds == int(np.argmin(history)) + 1 < 200
    assert trained.bundle.classes == {0: "Drell-Yan", 1: "ttbar"}
    assert trained.bundle.metrics["workers"] == 2
    assert trained.scores["test"].score.shape == trained.scores["test"].label.shape


def test_bundle_roundtrip_and_provenance(trained: ml.TrainResult, tmp_path: Path) -> None:
    path = trained.save(str(tmp_path / "bundle"))
    assert (path / "bundle.json").is_file() and (path / "model.ubj").is_file()
    loaded = ml.load(path)
    assert loaded.token == trained.bundle.token
    assert loaded.features == FEATURES
    assert loaded.metrics["test_auc"] == pytest.approx(trained.test_auc)
    prov = loaded.provenance
    assert prov["hepflow_version"] == hepflow.__version__
    assert "Filter 'no QCD': process != 2" in prov["selection"]
    assert sum(s["entries"] for s in prov["dataset"]["samples"].values()) == 40_000
    with pytest.raises(PlanError, match="not a model bundle"):
        ml.load(tmp_path)


def test_predict_equals_bundle_on_eager_arrays(trained: ml.TrainResult,
                                               sample_files: list[str],
                                               eager: dict[str, ak.Array],
                                               client: Any) -> None:
    sel = _selection(sample_files, client)
    scored = ml.Predict(sel, trained.bundle, "score")
    hist = scored.Histo1D(("score", "score", 20, 0.0, 1.0), "score", "genWeight")
    tight = scored.Filter("score > 0.5", "ttbar-like").Count()
    values = scored.Take("score").GetValue()  # one pass for all three
    keep = ak.to_numpy(eager["process"]) != 2
    columns = {c: eager[c][keep] for c in FEATURES.input_columns}
    reference = trained.bundle.predict_columns(columns)
    np.testing.assert_allclose(values, reference, rtol=0, atol=1e-6)
    h = hist.GetValue()
    expected, _ = np.histogram(reference, bins=20, range=(0.0, 1.0),
                               weights=ak.to_numpy(eager["genWeight"][keep]))
    np.testing.assert_allclose(h.values(), expected, rtol=1e-5, atol=1e-3)
    assert tight.GetValue() == int(np.count_nonzero(reference > 0.5))
    assert "Predict[xgboost model" in scored.explain()


def test_predict_with_wrong_columns_fails_clearly(trained: ml.TrainResult,
                                                  sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    renamed = df.Define("is_ttbar", "process == 1").Define("MET", "MET_pt")
    bad = ml.Features(["MET", "nJet"], label="is_ttbar")
    bundle = ml.Bundle("xgboost", trained.bundle.model_bytes, bad,
                       trained.bundle.normalisation, trained.bundle.classes)
    with pytest.raises(PlanError, match="trained on columns MET, nJet"):
        ml.Predict(df, bundle)
    wrong_kind = ml.Features(["Jet_pt"], label="process")
    bundle = ml.Bundle("xgboost", trained.bundle.model_bytes, wrong_kind,
                       trained.bundle.normalisation, trained.bundle.classes)
    with pytest.raises(PlanError, match="is a collection"):
        ml.Predict(renamed, bundle)


def test_plots(trained: ml.TrainResult, tmp_path: Path) -> None:
    written = plots.all_plots(trained, tmp_path)
    for path in written.values():
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_multiclass_and_prepared_reuse(sample_files: list[str], client: Any) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client=client)
    spec = ml.Features(["MET_pt", "nJet", "nMuon", "nElectron"], [ml.Jagged("Jet_pt", 2)],
                       label="process")
    prepared = ml.prepare(df, spec)
    result = ml.train_xgboost(prepared, params={"max_depth": 3}, num_boost_round=15)
    assert result.test_auc > 0.8
    assert result.scores["test"].score.shape[1] == 3
    with pytest.raises(PlanError, match="pass output="):
        ml.Predict(df, result.bundle)
    third = ml.Predict(df, result.bundle, "p_qcd", output=2).Mean("p_qcd").GetValue()
    assert 0.3 < third < 0.7  # half the sample is QCD
    prepared.release()
