"""Bad inputs to `hepflow.ml` raise `PlanError` (a `ValueError`) naming what is wrong.

Wrong types, impossible values, hostile bundle files and non-dataframes are
each fed to the public entry point a user would call, and every refusal must
come before any event is read: the checks run on the client, on arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import HepflowError, PlanError
from hepflow.ml.bundle import MAX_META_DEPTH
from hepflow.serve.testing import xgboost_bundle

GOOD = ml.Features(["MET_pt"], [ml.Jagged("Jet_pt", 2)], label="process")


@pytest.mark.parametrize(("make", "words"), [
    (lambda: ml.Jagged("Jet_pt", 0), "length must be an integer from 1 to 4096"),
    (lambda: ml.Jagged("Jet_pt", 10**9), "from 1 to 4096"),
    (lambda: ml.Jagged("Jet_pt", True), "length must be an integer"),
    (lambda: ml.Jagged("Jet_pt", 2, pad=float("nan")), "pad must be a finite number"),
    (lambda: ml.Jagged("Jet_pt", 2, pad="zero"), "pad must be a finite number"),
    (lambda: ml.Jagged([], 2), "one or more column names"),
    (lambda: ml.Jagged(["Jet_pt", 3], 2), "non-empty text, got 3"),
    (lambda: ml.Jagged(5, 2), "column name or a list of names, got 5"),
    (lambda: ml.Features(5, label="y"), "Features(flat=...) must be a column name"),
    (lambda: ml.Features(["a", None], label="y"), "non-empty text, got None"),
    (lambda: ml.Features(["a"], jagged=5, label="y"), "takes Jagged groups"),
    (lambda: ml.Features(["a"], jagged="Jet_pt", label="y"), "takes Jagged groups"),
    (lambda: ml.Features(["a"], jagged={"Jet_pt": "four"}, label="y"),
     "length must be an integer"),
    (lambda: ml.Features(["a"]), "needs a label"),
    (lambda: ml.Features(["a"], label=3), "label=...) must be a column name"),
    (lambda: ml.Features(["a"], label={"dy": "one"}), "class of sample 'dy' must be"),
    (lambda: ml.Features(["a"], label="y", weight=1.0), "weight=...) must be a column"),
    (lambda: ml.Features(["a"], label="y", split=0.5), "split=...) must be a Split"),
    (lambda: ml.Features(["a"], label="y", classes="sb"), "list of class names"),
    (lambda: ml.Features(["a"], label="y", negative_weights="flip"), "negative_weights"),
    (lambda: ml.Features(["a", "a"], label="y"), "given more than once"),
    (lambda: ml.Features([], label="y"), "at least one flat or jagged"),
    (lambda: ml.Features(["a"], [ml.Jagged([f"c{i}" for i in range(20)], 4096)], label="y"),
     "more than the 65536 hepflow supports"),
    (lambda: ml.Split("most", 0.2, 0.2), "fractions must be numbers"),
    (lambda: ml.Split(0.6, 0.2, float("nan")), "fractions must be numbers"),
    (lambda: ml.Split(0.7, 0.2, 0.2), "add up to 1"),
    (lambda: ml.Split(column=""), "column=...) must be a column name"),
    (lambda: ml.Split(seed=1.5), "seed=...) must be an integer"),
])
def test_bad_feature_specs(make: Any, words: str) -> None:
    with pytest.raises(PlanError) as info:
        make()
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: ml.roc_auc([0, 1, 1], [0.1, 0.9]), "differ in length"),
    (lambda: ml.roc_auc([1, 1], [0.1, 0.9]), "needs events of both classes"),
    (lambda: ml.roc_auc(["a", "b"], [0.1, 0.9]), "arrays of numbers"),
    (lambda: ml.roc_curve([0, 1], ["x", 0.9]), "arrays of numbers"),
])
def test_bad_metric_inputs(call: Any, words: str) -> None:
    with pytest.raises(PlanError, match=words):
        call()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(xgboost_bundle(n=400, trees=3).save(tmp_path_factory.mktemp("b") / "bdt"))


def _damaged(bundle_dir: Path, tmp_path: Path, text: bytes) -> Path:
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "model.ubj").write_bytes((bundle_dir / "model.ubj").read_bytes())
    (folder / "bundle.json").write_bytes(text)
    return folder


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _changed(bundle_dir: Path, change: Any) -> bytes:
    meta = json.loads((bundle_dir / "bundle.json").read_text())
    change(meta)
    return json.dumps(meta).encode()


@pytest.mark.parametrize(("case", "words"), [
    ("deep", "nests lists or objects too deeply"),
    ("deep-metrics", f"more than {MAX_META_DEPTH} deep"),
    ("not-json", "is not valid JSON"),
    ("latin1", "is not UTF-8 text"),
    ("wrong-format", "is not a hepflow model bundle"),
    ("newer", "written by a newer hepflow"),
    ("inputs", "stored inputs do not match"),
    ("norm-names", "normalisation is for other columns"),
    ("norm-huge", "too large for a float"),
    ("empty-model", "model file is empty"),
])
def test_damaged_bundles_fail_to_load_with_the_file_named(bundle_dir: Path, tmp_path: Path,
                                                          case: str, words: str) -> None:
    text = {
        "deep": b"{\"a\": " * 50_000,
        "deep-metrics": _changed(bundle_dir, lambda m: m.update(metrics={"a": _nested(40)})),
        "not-json": b"{nope",
        "latin1": "{\"format\": \"caf\xe9\"}".encode("latin-1"),
        "wrong-format": b"{\"format\": \"pickle\"}",
        "newer": _changed(bundle_dir, lambda m: m.update(version=99)),
        "inputs": _changed(bundle_dir, lambda m: m.update(inputs=["x"])),
        "norm-names": _changed(bundle_dir, lambda m: m["normalisation"].update(
            names=list(reversed(m["normalisation"]["names"])))),
        "norm-huge": _changed(bundle_dir, lambda m: m["normalisation"].update(
            shift=[10**400] * len(m["normalisation"]["shift"]))),
        "empty-model": (bundle_dir / "bundle.json").read_bytes(),
    }[case]
    folder = _damaged(bundle_dir, tmp_path, text)
    if case == "empty-model":
        (folder / "model.ubj").write_bytes(b"")
        with pytest.raises(PlanError, match=words):
            ml.load(folder).model  # noqa: B018 - loading the model is the point
        return
    with pytest.raises(PlanError) as info:
        ml.load(folder)
    assert words in str(info.value)
    assert str(folder / "bundle.json") in str(info.value)


def test_load_missing_or_mistyped_bundle(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="is not a model bundle"):
        ml.load(tmp_path / "nothing")
    with pytest.raises(PlanError, match="a model bundle is a folder path, not int"):
        ml.load(5)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def df(sample_files: list[str]) -> Any:
    return hepflow.RDataFrame("Events", sample_files[0])


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"bundle": 3.5}, "Predict takes a Bundle or a bundle folder, not float"),
    ({"name": ""}, "column name must be non-empty text"),
    ({"name": 5}, "column name must be non-empty text"),
    ({"output": "signal"}, "output must be a class number"),
    ({"output": 7}, "output=7"),
])
def test_bad_predict_arguments(df: Any, bundle_dir: Path, kwargs: dict[str, Any],
                               words: str) -> None:
    arguments: dict[str, Any] = {"bundle": bundle_dir, "name": "score"}
    arguments.update(kwargs)
    with pytest.raises(PlanError, match=words):
        ml.Predict(df, **arguments)


def test_predict_on_a_dataframe_without_the_inputs(df: Any, bundle_dir: Path) -> None:
    with pytest.raises(PlanError, match="trained on columns MET_pt, HT"):
        ml.Predict(df, bundle_dir)


@pytest.mark.parametrize(("call", "words"), [
    (lambda df: ml.train_xgboost(df, GOOD, num_boost_round=0), "num_boost_round must be"),
    (lambda df: ml.train_xgboost(df, GOOD, num_boost_round="10"), "num_boost_round must be"),
    (lambda df: ml.train_xgboost(df, GOOD, early_stopping_rounds=1.5),
     "early_stopping_rounds must be an integer >= 1 or None"),
    (lambda df: ml.train_xgboost(df, GOOD, params=[("eta", 0.1)]), "params must be a mapping"),
    (lambda df: ml.train_xgboost(df), "features are missing"),
    (lambda df: ml.train_xgboost({"MET_pt": [1.0]}, GOOD), "expected a hepflow.RDataFrame"),
    (lambda df: ml.train_xgboost(df, "MET_pt"), "expected hepflow.ml.Features, got str"),
    (lambda df: ml.train_xgboost(df, GOOD, normalisation="zscore"),
     "normalisation must be 'standard', 'minmax' or 'none'"),
    (lambda df: ml.train_xgboost(df, ml.Features(["MET_ptt"], label="process")),
     "no column `MET_ptt`; did you mean `MET_pt`"),
    (lambda df: ml.train_keras(df, GOOD, None), "model_fn must be a function"),
    (lambda df: ml.train_keras(df, GOOD, lambda shape: None, epochs=0), "epochs must be"),
    (lambda df: ml.train_keras(df, GOOD, lambda shape: None, batch_size=2.5),
     "batch_size must be"),
    (lambda df: ml.train_keras(df, GOOD, lambda shape: None, patience=-1), "patience must be"),
    (lambda df: ml.train_keras(df, GOOD, lambda shape: None, strategy="horovod"),
     "strategy must be"),
    (lambda df: ml.prepare(object(), GOOD), "expected a hepflow.RDataFrame, got object"),
])
def test_bad_training_arguments_fail_before_any_work(df: Any, call: Any, words: str) -> None:
    with pytest.raises(HepflowError) as info:
        call(df)
    assert isinstance(info.value, PlanError)
    assert words in str(info.value)


def test_a_good_bundle_still_loads_and_predicts(bundle_dir: Path) -> None:
    bundle = ml.load(bundle_dir)
    columns = {"MET_pt": np.array([10.0, 50.0]), "HT": np.array([100.0, 300.0]),
               "Jet_pt": [[30.0], [50.0, 40.0, 20.0]], "Jet_eta": [[0.1], [1.0, -1.0, 2.0]]}
    import awkward as ak

    columns["Jet_pt"] = ak.Array(columns["Jet_pt"])
    columns["Jet_eta"] = ak.Array(columns["Jet_eta"])
    assert bundle.predict_columns(columns).shape == (2,)


def test_keras_payloads_are_checked_before_keras_reads_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    import hepflow.ml.bundle as bundle_module

    with pytest.raises(PlanError, match="not a Keras archive"):
        bundle_module.load_model("keras", b"not a zip at all", "token-not-a-zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.weights.h5", b"\0" * 2000)
    monkeypatch.setattr(bundle_module, "MAX_KERAS_UNPACKED", 1000)
    with pytest.raises(PlanError, match="unpacks to 2000 bytes in 1 files"):
        bundle_module.load_model("keras", buffer.getvalue(), "token-bomb")
