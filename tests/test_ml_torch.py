"""PyTorch DDP training on the real 2-worker cluster, TorchScript and ONNX bundles, `Predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml.errors import TrainingError

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.cluster

# The README's Drell-Yan vs ttbar classification (QCD filtered out).
FEATURES = ml.Features(["MET_pt", "nJet", "nMuon"],
                       [ml.Jagged(["Jet_pt", "Jet_btagDeepFlavB"], 4), ml.Jagged("Muon_pt", 2)],
                       label="is_ttbar", weight="genWeight", negative_weights="abs",
                       classes=("Drell-Yan", "ttbar"))


def _selection(files: list[str], client: Any) -> Any:
    df = hepflow.RDataFrame("Events", files, client=client)
    return df.Filter("process != 2", "no QCD").Define("is_ttbar", "process == 1")


def mlp(n_inputs: int) -> Any:
    return torch.nn.Sequential(torch.nn.Linear(n_inputs, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 1))


@pytest.fixture(scope="module")
def prepared(sample_files: list[str], client: Any) -> Any:
    out = ml.prepare(_selection(sample_files, client), FEATURES)
    yield out
    out.release()


@pytest.fixture(scope="module")
def trained(prepared: Any) -> ml.TrainResult:
    return ml.train_torch(prepared, model_fn=mlp, epochs=15, batch_size=256,
                          early_stopping_patience=3, device="auto", set_seed=1)


@pytest.fixture(scope="module")
def boosted(prepared: Any) -> ml.TrainResult:
    return ml.train_xgboost(prepared, params={"max_depth": 3, "eta": 0.3},
                            num_boost_round=200, early_stopping_rounds=5)


def test_ddp_on_two_workers_matches_xgboost(trained: ml.TrainResult,
                                            boosted: ml.TrainResult) -> None:
    assert boosted.test_auc > 0.9
    assert abs(trained.test_auc - boosted.test_auc) < 0.02, (trained.test_auc,
                                                              boosted.test_auc)
    metrics = trained.bundle.metrics
    assert metrics["workers"] == 2 and metrics["devices"] == ["cpu", "cpu"]
    assert len(trained.workers) == 2
    # every rank ran the same epochs; early stopping kept the best validation epoch
    assert {w["epochs"] for w in trained.workers} == {metrics["epochs_run"]}
    losses = trained.history["validation_loss"]
    assert metrics["best_epoch"] == int(np.argmin(losses)) + 1
    assert trained.history["train_loss"][-1] < trained.history["train_loss"][0]
    assert trained.bundle.kind == "torch"


def test_torchscript_and_onnx_bundles_score_alike(trained: ml.TrainResult,
                                                  boosted: ml.TrainResult,
                                                  sample_files: list[str], client: Any,
                                                  tmp_path: Path) -> None:
    df = _selection(sample_files, client)
    for result in (trained, boosted):
        own = result.save(tmp_path / f"{result.bundle.kind}")
        onnx_bundle = ml.to_onnx(result.bundle)
        assert onnx_bundle.kind == "onnx"
        assert onnx_bundle.metrics["exported_from"]["kind"] == result.bundle.kind
        path = onnx_bundle.save(tmp_path / f"{result.bundle.kind}-onnx")
        assert (path / "model.onnx").is_file()
        loaded = ml.load(path)
        assert loaded.features == FEATURES and loaded.classes == result.bundle.classes
        scored = ml.Predict(ml.Predict(df, ml.load(own), "native"), loaded, "onnx")
        cols = scored.AsNumpy(["native", "onnx"])
        assert len(cols["native"]) > 20_000
        np.testing.assert_allclose(cols["onnx"], cols["native"], atol=1e-5, rtol=0)
        assert 0 <= cols["onnx"].min() and cols["onnx"].max() <= 1 and cols["onnx"].std() > 0.3


def test_user_loop_with_dataloader(prepared: Any) -> None:
    """The README's own-loop example: DataLoader batches into a plain PyTorch loop."""
    torch.manual_seed(0)
    model = mlp(FEATURES.n_inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = ml.DataLoader(prepared, batch_size=256, set_seed=0, epochs=3)
    for x, y, w in loader.as_torch():
        optimizer.zero_grad()
        per = torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y,
                                                                   reduction="none")
        ((per * w).sum() / w.sum()).backward()
        optimizer.step()
    test = ml.DataLoader(prepared, batch_size=4096, split="test", shuffle=False)
    labels, scores, weights = [], [], []
    with torch.no_grad():
        for x, y, w in test.as_torch():
            scores.append(torch.sigmoid(model(x)[:, 0]).numpy())
            labels.append(y.numpy())
            weights.append(w.numpy())
    auc = ml.roc_auc(np.concatenate(labels), np.concatenate(scores), np.concatenate(weights))
    assert auc > 0.9


def test_bad_arguments(prepared: Any) -> None:
    with pytest.raises(PlanError, match="device must be one of"):
        ml.train_torch(prepared, model_fn=mlp, device="gpu")
    with pytest.raises(PlanError, match="model_fn"):
        ml.train_torch(prepared, model_fn=None)
    with pytest.raises(PlanError, match="epochs"):
        ml.train_torch(prepared, model_fn=mlp, epochs=0)
    with pytest.raises(TrainingError, match=r"torch\.nn\.Module"):
        ml.train_torch(prepared, model_fn=lambda n: "not a model", epochs=1, timeout_s=60)
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="sees no GPU"):
            ml.train_torch(prepared, model_fn=mlp, device="cuda", epochs=1, timeout_s=60)


def test_onnx_refuses_what_it_cannot_run(tmp_path: Path, trained: ml.TrainResult) -> None:
    bad = ml.Bundle("onnx", b"not an onnx graph", FEATURES, trained.bundle.normalisation,
                    {0: "a", 1: "b"})
    with pytest.raises(PlanError, match="not a valid ONNX model"):
        bad.predict(np.zeros((2, FEATURES.n_inputs), np.float32))
    with pytest.raises(PlanError, match="to_onnx takes"):
        ml.to_onnx("bundle")  # type: ignore[arg-type]
