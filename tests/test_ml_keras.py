"""Keras training with MultiWorkerMirroredStrategy across two real Dask worker processes.

The workers get a cluster of their own (TensorFlow sets up its collectives
once per process, before any other TensorFlow work, so the shared session
cluster is not used for this).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FEATURES = ml.Features(["MET_pt", "nJet", "nMuon"],
                       [ml.Jagged(["Jet_pt", "Jet_btagDeepFlavB"], 4), ml.Jagged("Muon_pt", 2)],
                       label="is_ttbar", weight="genWeight", negative_weights="abs")


def model_fn(input_shape: tuple[int, ...]) -> Any:
    """The MLaaS4HEP contract: input shape in, compiled Keras model out."""
    import keras

    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    return model


@pytest.fixture(scope="module")
def tf_client() -> Iterator[Any]:
    import distributed

    from hepflow.cluster import local_cluster

    with local_cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _selection(files: list[str], client: Any) -> Any:
    df = hepflow.RDataFrame("Events", files, client=client)
    return df.Filter("process != 2").Define("is_ttbar", "process == 1")


_PRINTED: dict[str, str] = {}


@pytest.fixture(scope="module")
def trained(sample_files: list[str], tf_client: Any) -> ml.TrainResult:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = ml.train_keras(_selection(sample_files, tf_client), FEATURES, model_fn,
                                epochs=3, batch_size=512, patience=None)
        time.sleep(0.5)  # the last progress event on its way from the scheduler
    _PRINTED["train"] = out.getvalue()
    return result


def test_epochs_are_printed_on_the_client(trained: ml.TrainResult) -> None:
    """Each epoch's losses reach the client, though the chief trains in a worker process."""
    for epoch in (1, 2, 3):
        assert f"keras epoch {epoch}/3: loss " in _PRINTED["train"]
    assert "val_loss" in _PRINTED["train"]


def test_both_workers_train_to_identical_weights(trained: ml.TrainResult,
                                                 tf_client: Any) -> None:
    reports = trained.workers
    assert len(reports) == 2
    assert {r["worker"] for r in reports} == set(tf_client.scheduler_info()["workers"])
    assert len({r["pid"] for r in reports}) == 2
    assert all(r["replicas"] == 2 for r in reports)
    # every worker fed its own events and took the same steps
    assert all(r["events_train"] > 0 for r in reports)
    assert sum(r["events_train"] for r in reports) == \
        trained.prepared.summary.split_events()["train"]  # type: ignore[union-attr]
    assert reports[0]["steps"] == reports[1]["steps"] == 3 * reports[0]["steps_per_epoch"]
    assert reports[0]["weights_digest"] == reports[1]["weights_digest"]
    assert len(trained.history["loss"]) == len(trained.history["val_loss"]) == 3
    assert trained.history["loss"][-1] < trained.history["loss"][0]
    assert trained.test_auc > 0.9


def test_retraining_reuses_the_workers_collectives(sample_files: list[str],
                                                   tf_client: Any,
                                                   trained: ml.TrainResult) -> None:
    again = ml.train_keras(trained.prepared, None, model_fn, epochs=3, batch_size=512,
                           patience=None)
    assert [r["pid"] for r in again.workers] == [r["pid"] for r in trained.workers]
    assert again.workers[0]["weights_digest"] == again.workers[1]["weights_digest"]
    assert again.test_auc > 0.9


def test_predict_equals_bundle_on_eager_arrays(trained: ml.TrainResult,
                                               sample_files: list[str],
                                               eager: dict[str, ak.Array],
                                               tf_client: Any, tmp_path: Path) -> None:
    trained.save(str(tmp_path / "nn"))
    bundle = ml.load(tmp_path / "nn")
    assert bundle.kind == "keras" and (tmp_path / "nn" / "model.keras").is_file()
    scored = ml.Predict(_selection(sample_files, tf_client), tmp_path / "nn", "nn")
    values = scored.Take("nn").GetValue()
    keep = ak.to_numpy(eager["process"]) != 2
    reference = bundle.predict_columns({c: eager[c][keep] for c in FEATURES.input_columns})
    np.testing.assert_allclose(values, reference, rtol=1e-5, atol=1e-6)
    assert trained.scores["test"].auc() == pytest.approx(trained.test_auc)


def test_local_strategy(sample_files: list[str], tf_client: Any) -> None:
    result = ml.train_keras(_selection(sample_files, tf_client), FEATURES, model_fn,
                            epochs=2, batch_size=256, strategy="local")
    assert result.bundle.kind == "keras"
    assert len(result.workers) == 1 and result.workers[0]["replicas"] == 1
    assert result.test_auc > 0.9


def test_bad_model_functions_fail_before_training(sample_files: list[str],
                                                  tf_client: Any) -> None:
    df = _selection(sample_files, tf_client)

    def not_a_model(shape: tuple[int, ...]) -> Any:
        return "a string"

    def not_compiled(shape: tuple[int, ...]) -> Any:
        import keras

        return keras.Sequential([keras.Input(shape), keras.layers.Dense(1)])

    def raises(shape: tuple[int, ...]) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(PlanError, match=r"must return a compiled keras\.Model, got str"):
        ml.train_keras(df, FEATURES, not_a_model)
    with pytest.raises(PlanError, match="compiled"):
        ml.train_keras(df, FEATURES, not_compiled)
    with pytest.raises(PlanError, match="raised RuntimeError: boom"):
        ml.train_keras(df, FEATURES, raises)
    with pytest.raises(PlanError, match="no column"):
        ml.train_keras(df, ml.Features(["MET"], label="is_ttbar"), model_fn)
