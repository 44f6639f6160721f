"""The Open Inference Protocol (KServe V2) on `hepflow serve`: tritonclient calls a bundle.

One real server (uvicorn on 127.0.0.1, auth on, a local OIDC issuer) serves a
real xgboost bundle with flat and jagged inputs. `tritonclient.http` predicts
through it unchanged, with the bearer token as a header, and gets exactly the
V1 endpoint's scores; hostile V2 bodies get V2 errors with 4xx statuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import awkward as ak
import httpx
import numpy as np
import pytest

from hepflow.serve.config import load_config
from hepflow.serve.testing import FLAT, JAGGED, LocalIssuer, events, running, xgboost_bundle

tritonhttp = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def bdt() -> Any:
    return xgboost_bundle(n=1000, trees=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: LocalIssuer, bdt: Any
           ) -> Iterator[Any]:
    models = tmp_path_factory.mktemp("models")
    bdt.save(models / "bdt")
    config = load_config(models=models, auth=issuer.auth_config(),
                         limits={"max_rows": 5000, "max_body_bytes": 2_000_000})
    with running(config) as server:
        yield server


@pytest.fixture(scope="module")
def token(issuer: LocalIssuer) -> str:
    return issuer.token(["hepflow:predict"])


def padded(data: dict[str, Any], width: int) -> dict[str, np.ndarray]:
    """The V2 tensors of generated events: flat columns, padded jets and the jet count."""
    counts = np.asarray(ak.num(data["Jet_pt"]), dtype=np.int64)
    out = {c: np.asarray(data[c], dtype=np.float32) for c in FLAT}
    for c in JAGGED:
        out[c] = np.asarray(ak.fill_none(ak.pad_none(data[c], width, clip=True), 0.0),
                            dtype=np.float32)
    out["Jet:count"] = np.minimum(counts, width)
    return out


def v1_scores(server: Any, token: str, data: dict[str, Any]) -> np.ndarray:
    body = {"inputs": {c: np.asarray(data[c]).tolist() for c in FLAT}
            | {c: ak.to_list(data[c]) for c in JAGGED}}
    answer = httpx.post(server.url + "/v1/models/bdt:predict", json=body, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return np.asarray(answer.json()["predictions"], dtype=np.float32)


def triton_inputs(tensors: dict[str, np.ndarray], binary: bool) -> list[Any]:
    inputs = []
    for name, array in tensors.items():
        tensor = tritonhttp.InferInput(name, list(array.shape),
                                       "INT64" if array.dtype == np.int64 else "FP32")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_http_predicts_as_v1(server: Any, token: str, bdt: Any,
                                          binary: bool) -> None:
    data = events(200, seed=5, max_jets=6)
    expected = v1_scores(server, token, data)
    np.testing.assert_array_equal(expected, bdt.predict_columns(
        {c: data[c] for c in FLAT + JAGGED}))
    client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
    auth = {"Authorization": f"Bearer {token}"}
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("bdt", headers=auth)
        meta = client.get_model_metadata("bdt", headers=auth)
        assert [i["name"] for i in meta["inputs"]] == [*FLAT, *JAGGED, "Jet:count"]
        assert meta["inputs"][2] == {"name": "Jet_pt", "datatype": "FP32", "shape": [-1, 3]}
        # any width at least the largest count: the server clips to the bundle's 3 jets
        result = client.infer("bdt", triton_inputs(padded(data, 6), binary), headers=auth,
                              outputs=[tritonhttp.InferRequestedOutput("score",
                                                                       binary_data=binary)])
        np.testing.assert_array_equal(result.as_numpy("score"), expected)
        default = client.infer("bdt", triton_inputs(padded(data, 3), binary), headers=auth)
        np.testing.assert_array_equal(default.as_numpy("score"), expected)
        from tritonclient.utils import InferenceServerException

        with pytest.raises(InferenceServerException, match=r"token"):
            client.infer("bdt", triton_inputs(padded(data, 3), binary))
    finally:
        client.close()


@pytest.fixture
def http(server: Any, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        yield client


def body(tensors: dict[str, np.ndarray]) -> bytes:
    """A binary-extension body: JSON header, then every tensor's bytes in order."""
    head = {"inputs": [{"name": n, "shape": list(a.shape),
                        "datatype": "INT64" if a.dtype == np.int64 else "FP32",
                        "parameters": {"binary_data_size": a.nbytes}}
                       for n, a in tensors.items()]}
    text = json.dumps(head).encode()
    return text + b"".join(a.tobytes() for a in tensors.values()), len(text)


def test_hostile_v2_bodies_are_refused_with_v2_errors(http: httpx.Client) -> None:
    tensors = padded(events(4, seed=1), 3)
    good, length = body(tensors)
    url = "/v2/models/bdt/infer"
    ok = http.post(url, content=good, headers={"Inference-Header-Content-Length": str(length)})
    assert ok.status_code == 200, ok.text

    def refused(content: bytes, status: int, words: str, header: int | None = length) -> None:
        headers = {} if header is None else {"Inference-Header-Content-Length": str(header)}
        answer = http.post(url, content=content, headers=headers)
        assert answer.status_code == status, answer.text
        assert words in answer.json()["error"], answer.json()

    refused(good[:-4], 400, "fewer than")                       # bytes missing
    refused(good + b"xxxx", 400, "no input claims")             # bytes left over
    refused(good, 400, "Inference-Header-Content-Length", len(good) + 1)
    refused(good, 400, "not valid JSON", length - 1)
    lie = json.loads(good[:length])
    lie["inputs"][0]["shape"] = [10**12]
    refused(json.dumps(lie).encode(), 413, "events in one request", None)
    lie["inputs"][0]["shape"] = [4, 10**9]
    refused(json.dumps(lie).encode(), 413, "declares 16000000000 bytes", None)
    lie = json.loads(good[:length])
    lie["inputs"][0]["datatype"] = "BYTES"
    refused(json.dumps(lie).encode(), 422, "datatype", None)
    lie = {"inputs": [{"name": "MET_ptt", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    refused(json.dumps(lie).encode(), 422, "did you mean", None)
    lie = {"inputs": [{"name": "MET_pt", "shape": [2], "datatype": "FP32", "data": [1.0]}]}
    refused(json.dumps(lie).encode(), 422, "holds 2 values", None)
    lie = {"inputs": [{"name": n, "shape": [1, 3] if n in JAGGED else [1],
                       "datatype": "INT64" if ":" in n else "FP32",
                       "data": [1.0, 2.0, 3.0] if n in JAGGED else [5 if ":" in n else 1.0]}
                      for n in tensors]}
    refused(json.dumps(lie).encode(), 422, "only 3 wide", None)
    refused(b"{" * 2_000_001, 413, "the limit is 2000000", None)   # the server's body limit
    assert http.get("/v2/models/nope").status_code == 404
    assert "error" in http.get("/v2/models/nope").json()
    assert httpx.get(str(http.base_url) + "/v2/models/bdt").status_code == 401


def test_json_answer_echoes_the_id_and_server_metadata(http: httpx.Client) -> None:
    tensors = padded(events(3, seed=2), 3)
    request = {"id": "r-7", "inputs": [
        {"name": n, "shape": list(a.shape), "datatype": "INT64" if ":" in n else "FP32",
         "data": a.ravel().tolist()} for n, a in tensors.items()]}
    answer = http.post("/v2/models/bdt/infer", json=request)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "r-7" and body["model_name"] == "bdt"
    assert body["outputs"][0]["name"] == "score" and body["outputs"][0]["shape"] == [3]
    assert http.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    version = http.get("/v2/models/bdt").json()["versions"][0]
    assert http.get(f"/v2/models/bdt/versions/{version}/ready").json()["ready"] is True
    assert http.get("/v2/models/bdt/versions/nope/ready").status_code == 404


def test_grpc_port_is_checked_and_on_the_command_line(tmp_path) -> None:
    from hepflow.serve.cli import add_parser
    from hepflow.serve.errors import ConfigError

    with pytest.raises(ConfigError, match="grpc_port 70000"):
        load_config(models=tmp_path, insecure_no_auth=True, grpc_port=70000)
    import argparse

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--models", str(tmp_path), "--grpc-port", "8001"])
    assert args.grpc_port == 8001


@pytest.mark.parametrize("path", ["/v1/models/bdt:predict", "/v2/models/bdt/infer",
                                  "/v2/no/such/route"])
@pytest.mark.parametrize("size,status", [(2_000_001, 413), (1_500_000, 401)])
def test_a_connection_after_a_refused_body_is_not_misread(server: Any, token: str, path: str,
                                                          size: int, status: int) -> None:
    """A body refused unread (too large, no token) closes its connection: the client's next
    request must not be answered from the leftover body (it was 431)."""
    auth = {"Authorization": f"Bearer {token}"} if status == 413 else {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(4):
            big = client.post(path, content=b"{" * size, headers=auth)
            assert big.status_code == (404 if "no/such" in path else status)
            assert big.headers["connection"] == "close"
            assert client.get("/healthz").status_code == 200
