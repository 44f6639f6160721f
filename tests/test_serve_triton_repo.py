"""`export_triton`: a bundle as a Triton model repository entry that Triton's parser reads.

The config is parsed with Triton's own `ModelConfig` message (from tritonclient),
and the written ONNX model, run with onnxruntime on the inputs prepared as
``hepflow/bundle.json`` describes, gives the bundle's scores.
"""

from __future__ import annotations

import numpy as np
import pytest

from hepflow.errors import PlanError
from hepflow.ml.bundle import load
from hepflow.ml.prepare import columns_to_inputs
from hepflow.serve.testing import FLAT, JAGGED, events, xgboost_bundle
from hepflow.serve.triton_repo import export_triton

pytest.importorskip("onnxmltools")
model_config = pytest.importorskip("tritonclient.grpc.model_config_pb2")


def test_export_triton_writes_a_repository_triton_reads(tmp_path) -> None:
    import onnxruntime
    from google.protobuf import text_format

    bundle = xgboost_bundle(n=800, trees=4)
    folder = export_triton(bundle, tmp_path / "repo", "bdt")
    config = text_format.Parse((folder / "config.pbtxt").read_text(),
                               model_config.ModelConfig())
    assert config.name == "bdt" and config.platform == "onnxruntime_onnx"
    assert config.input[0].name == "inputs"
    assert list(config.input[0].dims) == [-1, bundle.features.n_inputs]
    assert config.output[0].data_type == model_config.TYPE_FP32
    assert config.parameters["hepflow_columns"].string_value == ",".join(FLAT + JAGGED)

    prep = load(folder / "hepflow")  # the preprocessing, as bundle.json describes it
    data = events(300, seed=3)
    x = columns_to_inputs(prep.features, prep.normalisation,
                          {c: data[c] for c in FLAT + JAGGED})
    session = onnxruntime.InferenceSession(str(folder / "1" / "model.onnx"))
    got = session.run(["scores"], {"inputs": x.astype(np.float32)})[0]
    want = bundle.predict_columns({c: data[c] for c in FLAT + JAGGED})
    np.testing.assert_allclose(np.asarray(got).ravel(), np.asarray(want).ravel(), atol=1e-5)
    with pytest.raises(PlanError, match="exists already"):
        export_triton(bundle, tmp_path / "repo", "bdt")
    with pytest.raises(PlanError, match="valid model name"):
        export_triton(bundle, tmp_path / "repo", "../x")
