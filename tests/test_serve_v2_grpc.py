"""The V2 gRPC service of `hepflow serve`: `tritonclient.grpc` calls a bundle unchanged.

A real server (HTTP and gRPC on free 127.0.0.1 ports, auth on) serves a real
xgboost bundle; `tritonclient.grpc` predicts with the bearer token as
metadata and gets exactly the V1 endpoint's scores. No token, a bad token and
a missing scope are refused with gRPC's status codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from hepflow.serve.config import load_config
from hepflow.serve.testing import FLAT, JAGGED, LocalIssuer, events, running, xgboost_bundle

tritongrpc = pytest.importorskip("tritonclient.grpc")

from tests.test_serve_v2 import padded, v1_scores  # noqa: E402 - after the importorskip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: LocalIssuer) -> Iterator[Any]:
    models = tmp_path_factory.mktemp("models")
    xgboost_bundle(n=1000, trees=5).save(models / "bdt")
    config = load_config(models=models, auth=issuer.auth_config(), grpc_port=0,
                         limits={"max_rows": 5000, "max_body_bytes": 2_000_000})
    with running(config) as server:
        yield server


def inputs(tensors: dict[str, np.ndarray]) -> list[Any]:
    out = []
    for name, array in tensors.items():
        tensor = tritongrpc.InferInput(name, list(array.shape),
                                       "INT64" if array.dtype == np.int64 else "FP32")
        tensor.set_data_from_numpy(array)
        out.append(tensor)
    return out


def test_tritonclient_grpc_predicts_as_v1(server: Any, issuer: LocalIssuer) -> None:
    from tritonclient.utils import InferenceServerException

    token = issuer.token(["hepflow:predict"])
    data = events(150, seed=9)
    expected = v1_scores(server, token, data)
    port = server.app.state.grpc.port
    client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
    auth = {"authorization": f"Bearer {token}"}
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("bdt", headers=auth)
        meta = client.get_model_metadata("bdt", headers=auth, as_json=True)
        assert [i["name"] for i in meta["inputs"]] == [*FLAT, *JAGGED, "Jet:count"]
        result = client.infer("bdt", inputs(padded(data, 5)), headers=auth)
        np.testing.assert_array_equal(result.as_numpy("score"), expected)
        for headers, words in ((None, "bearer token"), ({"authorization": "Bearer x.y.z"},
                                                        "token"),
                               ({"authorization": "Bearer "
                                 + issuer.token(["hepflow:other"])}, "role")):
            with pytest.raises(InferenceServerException, match=words):
                client.infer("bdt", inputs(padded(data, 5)), headers=headers)
        short = inputs(padded(data, 5))
        short[0].set_shape([3])
        short[0].set_data_from_numpy(np.zeros(3, np.float32))
        short[0].set_shape([150])  # declares 150 values, carries 3
        with pytest.raises(InferenceServerException, match="bytes"):
            client.infer("bdt", short, headers=auth)
        with pytest.raises(InferenceServerException, match="no model"):
            client.infer("nope", inputs(padded(data, 5)), headers=auth)
    finally:
        client.close()


def test_typed_contents_equal_raw_contents(server: Any, issuer: LocalIssuer) -> None:
    """The V2 proto's typed ``contents`` (KServe's clients use them) read as raw ones do."""
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc as pb_grpc

    token = issuer.token(["hepflow:predict"])
    data = events(40, seed=4)
    expected = v1_scores(server, token, data)
    request = pb.ModelInferRequest(model_name="bdt")
    for name, array in padded(data, 4).items():
        tensor = request.inputs.add(name=name, shape=list(array.shape),
                                    datatype="INT64" if array.dtype == np.int64 else "FP32")
        field = tensor.contents.int64_contents if array.dtype == np.int64 else \
            tensor.contents.fp32_contents
        field.extend(array.ravel().tolist())
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(f"127.0.0.1:{server.app.state.grpc.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        answer = stub.ModelInfer(request, metadata=metadata, timeout=30)
        got = np.frombuffer(answer.raw_output_contents[0], "<f4")
        np.testing.assert_array_equal(got, expected)
        del request.inputs[0].contents.fp32_contents[-1]
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(request, metadata=metadata, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "holds 40 values" in refused.value.details()
