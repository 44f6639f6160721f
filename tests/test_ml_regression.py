"""Regression with xgboost and Keras on the real 2-worker cluster: the leading muon's true pT.

The sample knows the truth (`GenMuon_pt`, smeared into `Muon_pt` with
sigma/pT = 1 % + 0.01 % x pT), so the trained model's bias and resolution are
checked twice: against a numpy computation on the events of the test split,
rebuilt eagerly from the files with uproot and predicted with the bundle, and
against the physics (the resolution cannot beat the smearing by much, and a
working regression is close to it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml import plots, regression
from hepflow.ml.split import TEST

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INPUTS = ["mu_pt", "mu_eta", "mu_iso"]
FEATURES = ml.Features(INPUTS, label="gen_pt", task="regression")


def selection(files: list[str], client: Any) -> Any:
    df = hepflow.RDataFrame("Events", files, client=client).Filter("nMuon >= 1")
    return (df.Define("mu_pt", "Muon_pt[0]").Define("mu_eta", "Muon_eta[0]")
            .Define("mu_iso", "Muon_pfRelIso04_all[0]").Define("gen_pt", "GenMuon_pt[0]"))


@pytest.fixture(scope="module")
def reg_client() -> Iterator[Any]:
    """Workers of this module's own: the Keras scoring loads TensorFlow into them."""
    import distributed

    from hepflow.cluster import local_cluster

    with local_cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def test_events(eager: dict[str, ak.Array]) -> dict[str, np.ndarray]:
    """The test split's events, selected and assigned eagerly, as numpy columns."""
    keep = ak.to_numpy(eager["nMuon"]) >= 1
    cols = {"mu_pt": eager["Muon_pt"][keep][:, 0], "mu_eta": eager["Muon_eta"][keep][:, 0],
            "mu_iso": eager["Muon_pfRelIso04_all"][keep][:, 0],
            "gen_pt": eager["GenMuon_pt"][keep][:, 0], "event": eager["event"][keep]}
    out = {k: np.asarray(ak.to_numpy(v)) for k, v in cols.items()}
    test = FEATURES.split.assign(out["event"]) == TEST
    return {k: v[test] for k, v in out.items()}


def eager_report(true: np.ndarray, pred: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """Bias and resolution written out in plain numpy, bin by bin."""
    r = (pred.astype(np.float64) - true) / true

    def stats(x: np.ndarray) -> dict[str, float]:
        q16, q84 = np.quantile(x, [0.16, 0.84])
        return {"events": x.size, "bias": x.mean(), "std": x.std(), "width68": (q84 - q16) / 2}

    bins = []
    for i in range(len(edges) - 1):
        upper = true <= edges[i + 1] if i == len(edges) - 2 else true < edges[i + 1]
        bins.append(stats(r[(true >= edges[i]) & upper]))
    return {"overall": stats(r), "bins": bins}


def check_against_eager(result: ml.TrainResult, events: dict[str, np.ndarray]) -> None:
    rep = result.regression
    assert rep is not None and np.isnan(result.test_auc)
    pred = result.bundle.predict_columns({c: events[c] for c in INPUTS})
    true = events["gen_pt"].astype(np.float64)
    # the workers scored the same events as the eager rebuild (up to the order)
    test = result.scores["test"]
    np.testing.assert_allclose(np.sort(test.label), np.sort(events["gen_pt"]))
    np.testing.assert_allclose(np.sort(test.score), np.sort(pred), rtol=1e-6, atol=1e-4)
    edges = np.array([b["low"] for b in rep["bins"]] + [rep["bins"][-1]["high"]])
    want = eager_report(true, pred, edges)
    for got, exp in zip([rep["overall"], *rep["bins"]], [want["overall"], *want["bins"]],
                        strict=True):
        assert got["events"] == exp["events"]
        for key in ("bias", "std", "width68"):
            assert got[key] == pytest.approx(exp[key], rel=1e-4, abs=1e-6), key


@pytest.fixture(scope="module")
def xgb_result(sample_files: list[str], reg_client: Any) -> ml.TrainResult:
    return ml.train_xgboost(selection(sample_files, reg_client), FEATURES,
                            {"max_depth": 3, "eta": 0.3}, num_boost_round=100, progress=False)


def test_xgboost_regression_bias_and_resolution(xgb_result: ml.TrainResult,
                                                test_events: dict[str, np.ndarray]) -> None:
    assert xgb_result.bundle.metrics["params"]["objective"] == "reg:squarederror"
    assert xgb_result.bundle.classes == {}
    check_against_eager(xgb_result, test_events)
    overall = xgb_result.regression["overall"]  # type: ignore[index]
    # the generator smears by 1 % + 0.01 % x pT (about 1.3 % here): a model of Muon_pt
    # cannot do much better, and a working one is not much worse
    assert abs(overall["bias"]) < 0.01
    assert 0.008 < overall["width68"] < 0.035
    assert len(xgb_result.regression["bins"]) == 5  # type: ignore[index]
    assert "regression" in repr(xgb_result)


@pytest.mark.parametrize(("objective", "xgb_name", "metric"),
                         [("huber", "reg:pseudohubererror", "validation_mphe"),
                          ("quantile", "reg:quantileerror", "validation_quantile")])
def test_xgboost_robust_objectives(sample_files: list[str], reg_client: Any,
                                   test_events: dict[str, np.ndarray], objective: str,
                                   xgb_name: str, metric: str) -> None:
    result = ml.train_xgboost(selection(sample_files, reg_client), FEATURES,
                              {"max_depth": 3, "eta": 0.3}, num_boost_round=60,
                              objective=objective, quantile_alpha=0.5, progress=False)
    assert result.bundle.metrics["params"]["objective"] == xgb_name
    assert metric in result.history
    check_against_eager(result, test_events)
    overall = result.regression["overall"]  # type: ignore[index]
    assert abs(overall["bias"]) < 0.01 and overall["width68"] < 0.035


def test_predict_unchanged_for_a_regression(xgb_result: ml.TrainResult, sample_files: list[str],
                                            reg_client: Any, eager: dict[str, ak.Array],
                                            tmp_path: Path) -> None:
    xgb_result.save(tmp_path / "reg")
    bundle = ml.load(tmp_path / "reg")
    assert bundle.features.task == "regression"
    values = np.asarray(ml.Predict(selection(sample_files, reg_client), bundle, "pt_reg")
                        .Take("pt_reg").GetValue())
    keep = ak.to_numpy(eager["nMuon"]) >= 1
    cols = {"mu_pt": eager["Muon_pt"][keep][:, 0], "mu_eta": eager["Muon_eta"][keep][:, 0],
            "mu_iso": eager["Muon_pfRelIso04_all"][keep][:, 0]}
    np.testing.assert_allclose(values, bundle.predict_columns(cols), rtol=1e-6)
    truth = ak.to_numpy(eager["GenMuon_pt"][keep][:, 0])
    assert abs(np.median(values / truth) - 1) < 0.01  # a pT in GeV, not a probability


def test_regression_plots(xgb_result: ml.TrainResult, tmp_path: Path) -> None:
    fig = plots.resolution_figure(xgb_result)
    response, width = fig.axes
    assert "response" in response.get_ylabel().lower()
    assert "resolution" in width.get_ylabel().lower()
    rep = xgb_result.regression
    assert rep is not None
    ys = np.asarray(response.get_lines()[0].get_ydata(), dtype=np.float64)
    np.testing.assert_allclose(ys, [b["response"] for b in rep["bins"]])
    assert plots.resolution(xgb_result, tmp_path / "res.png").stat().st_size > 0
    assert set(plots.all_plots(xgb_result, tmp_path / "all")) == {"resolution", "history"}
    with pytest.raises(PlanError, match=r"plots\.resolution"):
        plots.roc_figure(xgb_result)
    with pytest.raises(PlanError, match="regression"):
        plots.resolution_figure(_classification_stub(xgb_result))


def _classification_stub(result: ml.TrainResult) -> ml.TrainResult:
    return ml.TrainResult(result.bundle, result.history, 0.5, result.scores)


def keras_model_fn(input_shape: tuple[int, ...]) -> Any:
    """A small dense regression: linear output, Huber loss on the pT in GeV."""
    import keras

    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.Huber(delta=2.0))
    return model


def test_keras_regression(sample_files: list[str], reg_client: Any,
                          test_events: dict[str, np.ndarray]) -> None:
    result = ml.train_keras(selection(sample_files, reg_client), FEATURES, keras_model_fn,
                            epochs=15, batch_size=256, patience=None, progress=False, seed=1)
    assert len(result.workers) == 2  # MultiWorkerMirroredStrategy over this module's workers
    check_against_eager(result, test_events)
    overall = result.regression["overall"]  # type: ignore[index]
    assert abs(overall["bias"]) < 0.03 and overall["width68"] < 0.06


def test_regression_errors(sample_files: list[str], reg_client: Any) -> None:
    with pytest.raises(PlanError, match="task"):
        ml.Features(INPUTS, label="gen_pt", task="ranking")  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="no classes"):
        ml.Features(INPUTS, label="gen_pt", task="regression", classes=("a", "b"))
    with pytest.raises(PlanError, match="objective must be"):
        ml.train_xgboost(selection(sample_files, reg_client), FEATURES, objective="poisson")
    classify = ml.Features(INPUTS, label="nMuon")
    with pytest.raises(PlanError, match="for a regression"):
        ml.train_xgboost(selection(sample_files, reg_client), classify, objective="huber")
    with pytest.raises(PlanError, match="non-integer"):
        ml.train_xgboost(selection(sample_files, reg_client), ml.Features(INPUTS, label="gen_pt"),
                         progress=False)
    with pytest.raises(PlanError, match="classifies only"):
        ml.train_torch(selection(sample_files, reg_client), FEATURES, lambda n: None)
    with pytest.raises(PlanError, match="no classes to balance"):
        ml.train_xgboost(selection(sample_files, reg_client), FEATURES, balance_classes=True,
                         progress=False)
    with pytest.raises(PlanError, match="non-zero true value"):
        regression.report(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
