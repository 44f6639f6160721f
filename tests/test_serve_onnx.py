"""ONNX twins of torch, xgboost and Keras bundles: the same scores as the originals,
through `Bundle.predict` and through a real `hepflow serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.serve.testing import events, free_socket, keras_bundle, torch_bundle, xgboost_bundle

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def bundles() -> dict[str, ml.Bundle]:
    out = {"bdt": xgboost_bundle(), "nn": keras_bundle(), "pt": torch_bundle()}
    out.update({f"{name}_onnx": ml.to_onnx(b) for name, b in list(out.items())})
    return out


COLUMNS = ("MET_pt", "HT", "Jet_pt", "Jet_eta")


def test_onnx_twins_predict_the_same(bundles: dict[str, ml.Bundle], tmp_path: Path) -> None:
    data = {c: events(2_000, seed=9)[c] for c in COLUMNS}
    for name in ("bdt", "nn", "pt"):
        twin = bundles[f"{name}_onnx"]
        assert twin.kind == "onnx" and twin.features == bundles[name].features
        twin.save(tmp_path / name)
        loaded = ml.load(tmp_path / name)
        native = bundles[name].predict_columns(data)
        onnx = loaded.predict_columns(data)
        assert native.shape == onnx.shape == (2_000,)
        np.testing.assert_allclose(onnx, native, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def served(bundles: dict[str, ml.Bundle],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    models = tmp_path_factory.mktemp("models")
    for name, bundle in bundles.items():
        bundle.save(models / name)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-m", "hepflow.serve", "--models", str(models),
                                "--port", str(port), "--insecure-no-auth"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"hepflow serve ended: {process.stderr.read().decode()}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError("hepflow serve did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_served_onnx_bundles_answer_like_the_originals(served: str) -> None:
    from hepflow.serve.client import Client

    data = events(1_500, seed=11)
    client = Client(served)
    for name in ("bdt", "nn", "pt"):
        native = client.predict(name, {c: data[c] for c in COLUMNS})
        onnx = client.predict(f"{name}_onnx", {c: data[c] for c in COLUMNS})
        assert client.model(f"{name}_onnx")["kind"] == "onnx"
        np.testing.assert_allclose(onnx, native, atol=1e-5, rtol=0)


def test_onnx_bundle_without_scores_output_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph([helper.make_node("Identity", ["inputs"], ["out"])], "g",
                              [helper.make_tensor_value_info("inputs", onnx.TensorProto.FLOAT,
                                                             [None, 3])],
                              [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT,
                                                             [None, 3])])
    payload = helper.make_model(graph).SerializeToString()
    reference = xgboost_bundle(n=300, trees=1)
    bad = ml.Bundle("onnx", payload, reference.features, reference.normalisation,
                    dict(reference.classes))
    with pytest.raises(PlanError, match="output `scores`"):
        bad.predict(np.zeros((1, reference.features.n_inputs), np.float32))


def test_to_onnx_refuses_unknown_input() -> None:
    with pytest.raises(PlanError, match=r"to_onnx takes a hepflow\.ml\.Bundle"):
        ml.to_onnx(object())  # type: ignore[arg-type]
    bundle: Any = xgboost_bundle(n=300, trees=1)
    assert ml.to_onnx(ml.to_onnx(bundle)).kind == "onnx"
