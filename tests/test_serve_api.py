"""`hepflow serve` over real HTTP: predictions equal `Bundle.predict_columns`, in every format.

One server (uvicorn on a free 127.0.0.1 port, auth on, a local issuer serving
its JWKS) serves a real xgboost bundle and, where TensorFlow is installed, a
real Keras bundle. Every prediction is compared with the bundle's own
`predict_columns` on the same raw columns.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import awkward as ak
import httpx
import numpy as np
import pytest

from hepflow.serve import Client, ServeClientError
from hepflow.serve.client import ARROW, encode_arrow
from hepflow.serve.config import load_config
from hepflow.serve.testing import FLAT, JAGGED, LocalIssuer, events, running, xgboost_bundle

INPUTS = FLAT + JAGGED


@pytest.fixture(scope="module")
def bdt() -> Any:
    return xgboost_bundle()


@pytest.fixture(scope="module")
def keras_model() -> Any:
    """A real Keras bundle, or None where TensorFlow is not installed."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return None
    from hepflow.serve.testing import keras_bundle

    return keras_bundle()


def model_under_test(name: str, bdt: Any, keras_model: Any) -> Any:
    if name == "bdt":
        return bdt
    if keras_model is None:
        pytest.skip("TensorFlow is not installed: Keras bundles cannot be built or served here")
    return keras_model


def served(keras_model: Any) -> list[str]:
    return ["bdt"] if keras_model is None else ["bdt", "nn"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: LocalIssuer, bdt: Any,
           keras_model: Any) -> Iterator[Any]:
    models = tmp_path_factory.mktemp("models")
    bdt.save(models / "bdt")
    if keras_model is not None:
        keras_model.save(models / "nn")
    config = load_config(models=models, auth=issuer.auth_config(),
                         limits={"max_rows": 5000, "max_body_bytes": 2_000_000})
    with running(config) as server:
        yield server


@pytest.fixture(scope="module")
def token(issuer: LocalIssuer) -> str:
    return issuer.token(["hepflow:predict"])


@pytest.fixture
def http(server: Any, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        yield client


def raw(data: dict[str, Any]) -> dict[str, Any]:
    return {c: data[c] for c in INPUTS}


def instances(data: dict[str, Any]) -> list[dict[str, Any]]:
    n = len(data["MET_pt"])
    return [{"MET_pt": float(data["MET_pt"][i]), "HT": float(data["HT"][i]),
             "Jet_pt": ak.to_list(data["Jet_pt"][i]), "Jet_eta": ak.to_list(data["Jet_eta"][i])}
            for i in range(n)]


def columnar(data: dict[str, Any]) -> dict[str, Any]:
    return {"MET_pt": np.asarray(data["MET_pt"]).tolist(), "HT": np.asarray(data["HT"]).tolist(),
            "Jet_pt": ak.to_list(data["Jet_pt"]), "Jet_eta": ak.to_list(data["Jet_eta"])}


@pytest.mark.parametrize("model", ["bdt", "nn"])
def test_json_rowwise_and_columnar_equal_the_bundle(http: httpx.Client, bdt: Any,
                                                    keras_model: Any, model: str) -> None:
    bundle = model_under_test(model, bdt, keras_model)
    data = events(300, seed=11)
    expected = bundle.predict_columns(raw(data))
    rows = http.post(f"/v1/models/{model}:predict", json={"instances": instances(data)})
    assert rows.status_code == 200, rows.text
    cols = http.post(f"/v1/models/{model}:predict", json={"inputs": columnar(data)})
    assert cols.status_code == 200, cols.text
    body = rows.json()
    assert body["model"] == model and body["version"] == bundle.token
    for answer in (body, cols.json()):
        got = np.asarray(answer["predictions"], dtype=np.float32)
        if model == "bdt":
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["bdt", "nn"])
def test_arrow_and_npy_bodies(http: httpx.Client, bdt: Any, keras_model: Any,
                              model: str) -> None:
    bundle = model_under_test(model, bdt, keras_model)
    data = events(2000, seed=12)
    expected = bundle.predict_columns(raw(data))
    body = encode_arrow(raw(data), set(JAGGED))
    answer = http.post(f"/v1/models/{model}:predict", content=body,
                       headers={"Content-Type": ARROW, "Accept": ARROW})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == ARROW
    import pyarrow as pa

    got = pa.ipc.open_stream(answer.content).read_all().column("score").to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5 if model == "nn" else 0)
    npy = http.post(f"/v1/models/{model}:predict", content=body,
                    headers={"Content-Type": ARROW, "Accept": "application/x-npy"})
    np.testing.assert_allclose(np.load(io.BytesIO(npy.content)), expected,
                               rtol=1e-5 if model == "nn" else 0)


def test_npy_needs_flat_inputs(http: httpx.Client) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 2)))
    answer = http.post("/v1/models/bdt:predict", content=buffer.getvalue(),
                       headers={"Content-Type": "application/x-npy"})
    assert answer.status_code == 415
    assert "jagged" in answer.json()["message"]


@pytest.mark.parametrize("kind", ["numpy", "awkward", "pandas", "json"])
def test_python_client(server: Any, token: str, bdt: Any, keras_model: Any,
                       kind: str) -> None:
    data = events(2500, seed=13)
    expected = bdt.predict_columns(raw(data))
    if kind == "awkward":
        given: Any = ak.zip({c: data[c] for c in INPUTS}, depth_limit=1)
    elif kind == "pandas":
        pd = pytest.importorskip("pandas")
        given = pd.DataFrame({"MET_pt": data["MET_pt"], "HT": data["HT"],
                              "Jet_pt": list(ak.to_list(data["Jet_pt"])),
                              "Jet_eta": list(ak.to_list(data["Jet_eta"]))})
    else:
        given = data
    with Client(server.url, token=token, batch_rows=1000, binary=kind != "json") as client:
        got = client.predict("bdt", given)
        assert [m["name"] for m in client.models()] == served(keras_model)
    np.testing.assert_array_equal(got, expected)


def test_model_listing_and_details(http: httpx.Client, bdt: Any, keras_model: Any) -> None:
    listing = http.get("/v1/models").json()["models"]
    assert [m["name"] for m in listing] == served(keras_model)
    info = http.get("/v1/models/bdt").json()
    assert info["kind"] == "xgboost" and info["version"] == bdt.token
    assert info["inputs"] == list(INPUTS)
    assert info["jagged"] == {"Jet_pt": 3, "Jet_eta": 3}
    assert info["features"] == json.loads(json.dumps(bdt.features.to_dict()))
    assert info["normalisation"]["method"] == "standard"
    assert info["classes"] == {"0": "background", "1": "signal"}
    assert info["metrics"] == {"trees": 20, "depth": 3}
    assert info["provenance"]["trained_by"] == "hepflow.serve.testing"
    assert http.get("/v1/models/nope").status_code == 404


def good_instance() -> dict[str, Any]:
    return {"MET_pt": 40.0, "HT": 120.0, "Jet_pt": [60.0, 40.0], "Jet_eta": [0.1, -1.2]}


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"instances": [{**good_instance(), "MET_Pt": 1.0}]}, 422, "did you mean `MET_pt`"),
    ({"instances": [{k: v for k, v in good_instance().items() if k != "HT"}]}, 422, "HT"),
    ({"instances": [{**good_instance(), "MET_pt": "forty"}]}, 422, "numbers"),
    ({"instances": [{**good_instance(), "MET_pt": [1.0, 2.0]}]}, 422, "jagged"),
    ({"instances": [{**good_instance(), "Jet_pt": 5.0}]}, 422, "jagged"),
    ({"instances": [{**good_instance(), "Jet_pt": [1.0]}]}, 422, "same number"),
    ({"instances": [{**good_instance(), "MET_pt": None}]}, 422, "MET_pt"),
    ({"instances": [{**good_instance(), "Jet_eta": [0.1, "x"]}]}, 422, "numbers"),
    ({"inputs": {"MET_pt": [1.0, 2.0], "HT": [1.0], "Jet_pt": [[], []],
                 "Jet_eta": [[], []]}}, 422, "HT"),
    ({"instances": "all"}, 400, "list of objects"),
    ({"rows": []}, 400, "instances"),
    ([1, 2, 3], 400, "instances"),
])
def test_bad_input_is_4xx(http: httpx.Client, body: Any, status: int, words: str) -> None:
    answer = http.post("/v1/models/bdt:predict", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]


def test_nan_wrong_type_and_size(http: httpx.Client) -> None:
    nan_body = json.dumps({"instances": [{**good_instance(), "MET_pt": float("nan")}]})
    answer = http.post("/v1/models/bdt:predict", content=nan_body,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "NaN" in answer.json()["message"]
    assert http.post("/v1/models/bdt:predict", content=b"{not json",
                     headers={"Content-Type": "application/json"}).status_code == 400
    assert http.post("/v1/models/bdt:predict", content=b"x=1",
                     headers={"Content-Type": "text/csv"}).status_code == 415
    assert http.post("/v1/models/bdt:predict", content=b"garbage",
                     headers={"Content-Type": ARROW}).status_code == 400
    big = http.post("/v1/models/bdt:predict", content=b"[" + b"1," * 1_100_000 + b"1]",
                    headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    many = events(5001, seed=3)
    rows = http.post("/v1/models/bdt:predict", content=encode_arrow(raw(many), set(JAGGED)),
                     headers={"Content-Type": ARROW})
    assert rows.status_code == 413 and "5000" in rows.json()["message"]
    empty = http.post("/v1/models/bdt:predict", json={"instances": []})
    assert empty.status_code == 200 and empty.json()["predictions"] == []
    assert http.post("/v1/models/nope:predict", json={"instances": []}).status_code == 404


def test_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    answer = http.post("/v1/models/bdt:predict", content=(b" " * 65536 for _ in range(48)),
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_errors_never_leak_tracebacks(http: httpx.Client) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = http.post("/v1/models/bdt:predict", content=deep,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "Traceback" not in answer.text and "File \"" not in answer.text


def test_concurrent_clients_get_their_own_answers(server: Any, token: str, bdt: Any) -> None:
    datasets = [events(1 + i % 7, seed=100 + i) for i in range(120)]
    expected = [bdt.predict_columns(raw(d)) for d in datasets]
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      limits=httpx.Limits(max_connections=16)) as client:
        def ask(i: int) -> np.ndarray:
            answer = client.post("/v1/models/bdt:predict",
                                 json={"instances": instances(datasets[i])})
            assert answer.status_code == 200, answer.text
            return np.asarray(answer.json()["predictions"], dtype=np.float32)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(ask, range(len(datasets))))
    for got, want in zip(answers, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_health_readiness_openapi_and_metrics(server: Any, http: httpx.Client,
                                              keras_model: Any) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["models"] == served(keras_model)
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "/v1/models/{name}:predict" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    http.post("/v1/models/bdt:predict", json={"instances": [good_instance()] * 3})
    text = httpx.get(server.url + "/metrics").text
    sample = {}
    for line in text.splitlines():
        if line.startswith("hepflow_serve_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            sample[name] = float(value)
    ok = 'hepflow_serve_requests_total{code="200",endpoint="predict",model="bdt"}'
    assert sample[ok] >= 1
    assert sample['hepflow_serve_rows_predicted_total{model="bdt"}'] >= 3
    assert sample['hepflow_serve_request_seconds_count{endpoint="predict",model="bdt"}'] >= 1
    assert 'hepflow_serve_model_calls_total{model="bdt"}' in sample
    assert not any('model="nope"' in k for k in sample)


def test_remote_model_in_a_dataframe(tmp_path: Path, server: Any, token: str, bdt: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import uproot

    import hepflow
    from hepflow.samples import make_sample
    from hepflow.serve import RemoteModel

    files = make_sample(tmp_path, events=3000, files=1, extra_branches=0, seed=4)
    monkeypatch.setenv("HEPFLOW_SERVE_TOKEN", token)
    model = RemoteModel(server.url + "/v1/models/bdt", batch_rows=700)
    df = hepflow.RDataFrame("Events", [str(f) for f in files], client="sync")
    scored = df.Define("HT", lambda pt: ak.sum(pt, axis=1), ["Jet_pt"]).Define(
        "score", model, model.columns)
    got = np.asarray(scored.AsNumpy(["score"])["score"])
    with uproot.open(files[0]) as f:
        tree = f["Events"].arrays(["MET_pt", "Jet_pt", "Jet_eta"])
    columns = {"MET_pt": tree["MET_pt"], "HT": ak.sum(tree["Jet_pt"], axis=1),
               "Jet_pt": tree["Jet_pt"], "Jet_eta": tree["Jet_eta"]}
    np.testing.assert_array_equal(got, bdt.predict_columns(columns))


def test_client_errors_are_readable(server: Any, token: str) -> None:
    with Client(server.url, token=token) as client:
        with pytest.raises(ServeClientError) as err:
            client.model("nope")
        assert err.value.status == 404
        with pytest.raises(ValueError, match="HT"):
            client.predict("bdt", {"MET_pt": np.ones(3)})


def test_micro_batching_stacks_concurrent_requests(server: Any, token: str, bdt: Any,
                                                   keras_model: Any) -> None:
    """Many one-row requests at once go through fewer model calls than requests."""
    model_under_test("nn", bdt, keras_model)
    def calls() -> float:
        for line in httpx.get(server.url + "/metrics").text.splitlines():
            if line.startswith('hepflow_serve_model_calls_total{model="nn"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = calls()
    barrier = threading.Barrier(24)
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      limits=httpx.Limits(max_connections=24)) as client:
        def ask(_: int) -> int:
            barrier.wait()
            return client.post("/v1/models/nn:predict",
                               json={"instances": [good_instance()]}).status_code

        with ThreadPoolExecutor(24) as pool:
            assert set(pool.map(ask, range(24))) == {200}
    made = calls() - before
    assert 1 <= made < 24, f"{made} model calls for 24 concurrent requests"
    assert math.isfinite(made)
