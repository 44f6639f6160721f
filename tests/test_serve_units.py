"""The serving layer's parts on their own: preparation, micro-batching, limits, config, helpers."""

from __future__ import annotations

import argparse
import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepflow.errors import PlanError
from hepflow.ml.features import Features, Jagged
from hepflow.ml.features import raw_inputs as ml_raw_inputs
from hepflow.serve.archive import _safe_name, sniff
from hepflow.serve.batching import MicroBatcher
from hepflow.serve.client import decode_predictions, split_model_url, to_columns
from hepflow.serve.config import load_config, parse_size
from hepflow.serve.errors import (
    BadRequest,
    ConfigError,
    InputError,
    TooLarge,
    UnsupportedMediaType,
)
from hepflow.serve.inputs import (
    InputSpec,
    RawBatch,
    concat,
    encode,
    parse,
    raw_inputs,
)
from hepflow.serve.ratelimit import RateLimiter
from hepflow.serve.registry import fast_preparation_agrees, valid_name
from hepflow.util.jsondata import jsonable

# -- preparation: the fast path equals the training layer's --------------------------------


@st.composite
def batches(draw: Any) -> tuple[Features, RawBatch]:
    length = draw(st.integers(1, 5))
    rows = draw(st.integers(0, 12))
    counts = np.asarray(draw(st.lists(st.integers(0, 8), min_size=rows, max_size=rows)),
                        dtype=np.int64)
    values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    total = int(counts.sum())
    flat = {"a": np.asarray(draw(st.lists(values, min_size=rows, max_size=rows)))}
    jagged = {c: (counts, np.asarray(draw(st.lists(values, min_size=total, max_size=total))))
              for c in ("J_x", "J_y")}
    features = Features(["a"], [Jagged(["J_x", "J_y"], length, pad=-1.0)], label="y")
    return features, RawBatch(rows, {k: v.astype(np.float64) for k, v in flat.items()},
                              {k: (c, v.astype(np.float64)) for k, (c, v) in jagged.items()})


@settings(max_examples=60, deadline=None)
@given(batches())
def test_fast_preparation_equals_the_training_layers(case: tuple[Features, RawBatch]) -> None:
    features, batch = case
    values, mask = raw_inputs(features, batch)
    ref_values, ref_mask = ml_raw_inputs(features, batch.columns())
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(mask, ref_mask)


def test_bundles_use_the_fast_preparation() -> None:
    from hepflow.serve.testing import xgboost_bundle

    assert fast_preparation_agrees(xgboost_bundle(n=300, trees=2))


# -- micro-batching -------------------------------------------------------------------------


def flat_batch(*values: float) -> RawBatch:
    return RawBatch(len(values), {"x": np.asarray(values, dtype=np.float64)}, {})


class Model:
    """Doubles x; records the batch sizes it was called with; can be slow or fail."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, batch: RawBatch) -> np.ndarray:
        with self.lock:
            self.calls.append(batch.rows)
        if self.delay:
            time.sleep(self.delay)
        x = batch.flat["x"]
        if (x < 0).any():
            raise ValueError("negative input")
        return (2 * x).astype(np.float32)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def test_requests_of_one_loop_turn_share_a_call() -> None:
    model = Model()
    with ThreadPoolExecutor(2) as pool:
        async def go() -> list[np.ndarray]:
            batcher = MicroBatcher(model, executor=pool, inline_rows=100)
            return await asyncio.gather(*(batcher.predict(flat_batch(i, i + 0.5))
                                          for i in range(10)))

        answers = run_async(go())
    assert model.calls == [20]
    for i, answer in enumerate(answers):
        np.testing.assert_array_equal(answer, [2 * i, 2 * i + 1])


def test_max_rows_splits_and_a_bad_request_fails_alone() -> None:
    model = Model()
    with ThreadPoolExecutor(2) as pool:
        async def go() -> list[Any]:
            batcher = MicroBatcher(model, executor=pool, max_rows=4, inline_rows=0)
            jobs = [batcher.predict(flat_batch(1, 2)), batcher.predict(flat_batch(-1)),
                    batcher.predict(flat_batch(3)), batcher.predict(flat_batch(4, 5, 6))]
            return await asyncio.gather(*jobs, return_exceptions=True)

        answers = run_async(go())
    assert isinstance(answers[1], ValueError)
    np.testing.assert_array_equal(answers[0], [2, 4])
    np.testing.assert_array_equal(answers[2], [6])
    np.testing.assert_array_equal(answers[3], [8, 10, 12])
    assert max(model.calls) <= 4


def test_requests_queue_behind_a_running_call() -> None:
    model = Model(delay=0.05)
    with ThreadPoolExecutor(1) as pool:
        async def go() -> None:
            batcher = MicroBatcher(model, executor=pool, concurrency=1)
            first = asyncio.ensure_future(batcher.predict(flat_batch(1)))
            await asyncio.sleep(0.01)  # the first call is running now
            rest = [asyncio.ensure_future(batcher.predict(flat_batch(i))) for i in range(5)]
            await asyncio.sleep(0)
            await asyncio.gather(first, *rest)

        run_async(go())
    assert model.calls == [1, 5]


def test_large_requests_are_spread_over_the_threads() -> None:
    model = Model(delay=0.02)
    with ThreadPoolExecutor(2) as pool:
        async def go() -> None:
            batcher = MicroBatcher(model, executor=pool, concurrency=2, split_rows=1000)
            big = [batcher.predict(flat_batch(*range(3000))) for _ in range(2)]
            small = [batcher.predict(flat_batch(1)) for _ in range(10)]
            await asyncio.gather(*big, *small)

        run_async(go())
    assert sorted(model.calls) == [3000, 3010]


def test_cancelled_requests_are_skipped_and_delay_is_bounded() -> None:
    model = Model()
    with ThreadPoolExecutor(1) as pool:
        async def go() -> float:
            batcher = MicroBatcher(model, executor=pool, max_delay_s=0.02)
            doomed = asyncio.ensure_future(batcher.predict(flat_batch(7)))
            await asyncio.sleep(0)
            doomed.cancel()
            start = time.perf_counter()
            await batcher.predict(flat_batch(1))
            return time.perf_counter() - start

        took = run_async(go())
    assert model.calls == [1]
    assert 0.015 <= took < 1.0


# -- limits, config and helpers -------------------------------------------------------------


def test_rate_limiter_buckets() -> None:
    limiter = RateLimiter(2.0, burst=3)
    assert [limiter.check("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a", now=0.0) == pytest.approx(0.5)
    assert limiter.check("b", now=0.0) == 0.0
    assert limiter.check("a", now=0.5) == 0.0
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(2.1) == "3"
    assert RateLimiter(0).check("x") == 0.0


def test_config_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "serve.yaml").write_text(
        "models: models\nport: 9000\nlimits: {max_body_bytes: 1MiB, rate_limit_per_s: 5}\n"
        "auth: {issuer: 'https://iam.example/', audience: [a, b],"
        " jwks_url: 'https://iam.example/jwk'}\n")
    config = load_config(tmp_path / "serve.yaml")
    assert config.models == tmp_path / "models" and config.port == 9000
    assert config.limits.max_body_bytes == 2**20 and config.limits.rate_limit_per_s == 5.0
    assert config.auth is not None and config.auth.audience == ("a", "b")
    assert parse_size("1.5GB") == 1_500_000_000 and parse_size(512) == 512
    assert config.jobs.max_user_output_bytes == 4 * 2**30  # the default
    (tmp_path / "jobs.yaml").write_text("jobs: {max_user_output_bytes: 2GiB}\n")
    jobs = load_config(tmp_path / "jobs.yaml", models=tmp_path, insecure_no_auth=True).jobs
    assert jobs.max_user_output_bytes == 2 * 2**30


@pytest.mark.parametrize(("text", "words"), [
    ("limts: {}\n", "did you mean `limits`"),
    ("limits: {max_rows: lots}\n", "integer"),
    ("port: 70000\n", "not a TCP port"),
    ("limits: {max_body_bytes: huge}\n", "cannot read size"),
    ("batching: {max_delay_ms: -1}\n", "max_delay_ms"),
    ("limits: {header_timeout_s: 0}\n", "header_timeout_s must be a positive"),
    ("limits: {keep_alive_s: -1}\n", "keep_alive_s must be a positive"),
    ("limits: {max_connections: 0}\n", "max_connections must be at least 1"),
    ("limits: {max_header_bytes: 0}\n", "max_header_bytes must be at least 1"),
    ("jobs: {max_user_output_bytes: 0}\n", "jobs.max_user_output_bytes must be at least 1"),
    ("auth: {issuer: x}\n", "missing audience"),
    ("[unclosed\n", "not valid YAML"),
])
def test_config_mistakes(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "serve.yaml").write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_config(tmp_path / "serve.yaml", models=tmp_path, insecure_no_auth=True)


@pytest.mark.parametrize("name", ["../x", "/abs", "a/../../b", "a\\b", "a\x00b",
                                  "a/b/c/d/e/f"])
def test_unsafe_member_names(name: str) -> None:
    with pytest.raises(InputError):
        _safe_name(name)


def test_safe_member_names_and_sniffing() -> None:
    assert str(_safe_name("./bundle/model.ubj")) == "bundle/model.ubj"
    assert _safe_name("./") is None
    assert sniff(io.BytesIO(b"PK\x03\x04rest")) == "zip"
    assert sniff(io.BytesIO(b"\x1f\x8b rest")) == "tar"
    with pytest.raises(UnsupportedMediaType):
        sniff(io.BytesIO(b"hello"))
    assert valid_name("bdt-v2.1") and not valid_name(".x") and not valid_name("a..b")
    assert not valid_name("a/b") and not valid_name("a:predict")


SPEC = InputSpec(("a", "b"), (("J_x", "J_y"),), allow_nan=False, max_rows=10)


def test_npy_and_arrow_bodies() -> None:
    flat_spec = InputSpec(("a", "b"), (), allow_nan=False, max_rows=10)
    buffer = io.BytesIO()
    np.save(buffer, np.array([(1.0, 2.0), (3.0, 4.0)], dtype=[("a", "f4"), ("b", "f8")]))
    batch = parse(buffer.getvalue(), "application/x-npy", flat_spec)
    np.testing.assert_array_equal(batch.flat["b"], [2.0, 4.0])
    buffer = io.BytesIO()
    np.save(buffer, np.array([["x", "y"]]))
    with pytest.raises(InputError):
        parse(buffer.getvalue(), "application/x-npy", flat_spec)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadRequest, match="object arrays"):
        parse(buffer.getvalue(), "application/x-npy", flat_spec)
    deep = b'{"inputs": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    with pytest.raises(BadRequest, match="nests lists or objects too deeply"):
        parse(deep, "application/json", flat_spec)
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse(b'{"inputs": {"a": [' + b"9" * 5000 + b"]}}", "application/json", flat_spec)

    import pyarrow as pa

    jets = pa.array([[1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0]]).slice(1, 3)
    table = pa.table({"a": [1, 2, 3], "b": [0.5, 0.5, 0.5], "J_x": jets, "J_y": jets})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    batch = parse(sink.getvalue().to_pybytes(), "application/vnd.apache.arrow.stream", SPEC)
    counts, content = batch.jagged["J_x"]
    np.testing.assert_array_equal(counts, [0, 1, 3])
    np.testing.assert_array_equal(content, [3.0, 4.0, 5.0, 6.0])
    nulls = pa.table({"a": [1, None, 3], "b": [0.5] * 3, "J_x": jets, "J_y": jets})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, nulls.schema) as writer:
        writer.write_table(nulls)
    with pytest.raises(InputError, match="nulls"):
        parse(sink.getvalue().to_pybytes(), "application/vnd.apache.arrow.stream", SPEC)


def test_json_limits_and_nan() -> None:
    rows = b'{"inputs": {"a": [1,2,3,4,5,6,7,8,9,10,11], "b": [], "J_x": [], "J_y": []}}'
    with pytest.raises(TooLarge):
        parse(rows, "application/json", SPEC)
    nan_spec = InputSpec(("a",), (), allow_nan=True, max_rows=10)
    batch = parse(b'{"instances": [{"a": NaN}]}', "application/json", nan_spec)
    assert np.isnan(batch.flat["a"][0])
    with pytest.raises(InputError, match="NaN"):
        parse(b'{"inputs": {"a": [1e400]}}', "application/json",
              InputSpec(("a",), (), allow_nan=False))
    with pytest.raises(InputError, match=r"beyond ±3\.4e"):  # infinite as float32
        parse(b'{"inputs": {"a": [1.0, -1e39]}}', "application/json",
              InputSpec(("a",), (), allow_nan=False))


def test_response_encoding_and_metadata() -> None:
    body = encode(np.asarray([0.5, np.nan], np.float32), "application/json", "m", "v")
    assert body == b'{"model":"m","version":"v","predictions":[0.5,null]}'
    npy = encode(np.ones((2, 3), np.float32), "application/x-npy", "m", "v")
    assert decode_predictions(npy, "application/x-npy").shape == (2, 3)
    arrow = encode(np.ones((2, 3), np.float32), "application/vnd.apache.arrow.stream", "m", "v")
    assert decode_predictions(arrow, "application/vnd.apache.arrow.stream").shape == (2, 3)
    assert jsonable({"x": np.float32(1.5), "y": float("inf"), 3: (1, np.arange(2))}) == \
        {"x": 1.5, "y": None, "3": [1, [0, 1]]}
    assert concat([flat_batch(1), flat_batch(2, 3)]).flat["x"].tolist() == [1, 2, 3]


def test_client_helpers() -> None:
    assert split_model_url("https://h:8443/p/v1/models/bdt:predict") == \
        ("https://h:8443/p", "bdt")
    with pytest.raises(ValueError):
        split_model_url("https://h/models/bdt")
    columns, rows = to_columns(np.ones((4, 2)), ["a", "b"], set())
    assert rows == 4 and columns["b"].shape == (4,)
    records = ak.Array({"a": [1.0, 2.0], "J": [[1.0], []]})
    columns, rows = to_columns(records, ["a", "J"], {"J"})
    assert rows == 2 and ak.to_list(columns["J"]) == [[1.0], []]
    with pytest.raises(ValueError, match="different numbers"):
        to_columns({"a": [1, 2], "b": [1]}, ["a", "b"], set())
    with pytest.raises(PlanError, match="predict takes a dict of columns"):
        to_columns("text", ["a"], set())


def test_cli_parser() -> None:
    from hepflow.serve.cli import add_parser

    parser = argparse.ArgumentParser(prog="hepflow")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", "--models", "m", "--port", "9001",
                              "--insecure-no-auth"])
    assert args.models == "m" and args.port == 9001 and args.insecure_no_auth
    assert callable(args.func)


def test_request_timeout_is_503(tmp_path: Path) -> None:
    import httpx

    from hepflow.serve.testing import running, xgboost_bundle

    xgboost_bundle(n=300, trees=2).save(tmp_path / "bdt")
    config = load_config(models=tmp_path, insecure_no_auth=True,
                         limits={"request_timeout_s": 0.05},
                         batching={"max_delay_ms": 400})
    row = {"instances": [{"MET_pt": 1.0, "HT": 2.0, "Jet_pt": [], "Jet_eta": []}]}
    with running(config) as server:
        answer = httpx.post(server.url + "/v1/models/bdt:predict", json=row)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "limit" in answer.json()["message"]


def test_client_errors_are_hepflow_errors(tmp_path: Path) -> None:
    import socket

    from hepflow.serve.client import Client, ServeClientError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", timeout=2, retries=0) as client:
        assert client.ready() is False
        with pytest.raises(ServeClientError, match=f"no answer from http://127.0.0.1:{port}"
                                                   "/v1/models") as info:
            client.models()
        assert info.value.status == 0 and "HTTP 0" not in str(info.value)
        with pytest.raises(PlanError, match="cannot read the bundle archive"):
            client.upload("x", tmp_path / "missing.tar.gz")
        with pytest.raises(PlanError, match="upload takes a Bundle"):
            client.upload("x", 42)
    with pytest.raises(PlanError, match="batch_rows must be at least 1"):
        Client("http://127.0.0.1:1", batch_rows=0)
