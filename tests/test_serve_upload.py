"""Uploading, replacing and deleting models: unsafe archives refused, swaps atomic.

Archives are built here byte by byte with tarfile/zipfile, including the
hostile ones (``../`` names, absolute names, symbolic and hard links, a
compression bomb), and every refusal is checked to leave the served model and
the folders around it untouched.
"""

from __future__ import annotations

import gzip
import io
import json
import stat
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from hepflow.serve.client import archive_folder
from hepflow.serve.config import load_config
from hepflow.serve.testing import FLAT, JAGGED, LocalIssuer, events, running, xgboost_bundle

ROWS = events(50, seed=21)
RAW = {c: ROWS[c] for c in FLAT + JAGGED}


@pytest.fixture(scope="module")
def bundles() -> tuple[Any, Any]:
    return xgboost_bundle(n=800, trees=5, seed=1), xgboost_bundle(n=800, trees=7, seed=2)


@pytest.fixture
def served(tmp_path: Path, issuer: LocalIssuer, bundles: tuple[Any, Any]) -> Iterator[Any]:
    models = tmp_path / "models"
    bundles[0].save(models / "bdt")
    config = load_config(models=models, auth=issuer.auth_config(), limits={
        "max_upload_bytes": "2MiB", "max_unpacked_bytes": "4MiB", "max_archive_files": 8})
    with running(config) as server:
        server.models = models
        yield server


@pytest.fixture(scope="module")
def admin(issuer: LocalIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(['hepflow:admin'], subject='root')}"}


def bundle_bytes(bundle: Any, tmp: Path) -> dict[str, bytes]:
    folder = tmp / f"b-{bundle.token[:8]}"
    bundle.save(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def tar_of(members: list[tuple[str, bytes | None, bytes]], mode: str = "w:gz") -> bytes:
    """(name, type, data-or-link-target) members; type None means a regular file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind is None:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.type = kind
                info.linkname = data.decode()
                archive.addfile(info)
    return buffer.getvalue()


def predict(server: Any, headers: dict[str, str], name: str = "bdt") -> httpx.Response:
    return httpx.post(f"{server.url}/v1/models/{name}:predict", headers=headers,
                      json={"inputs": {"MET_pt": RAW["MET_pt"].tolist(),
                                       "HT": RAW["HT"].tolist(),
                                       "Jet_pt": RAW["Jet_pt"].tolist(),
                                       "Jet_eta": RAW["Jet_eta"].tolist()}}, timeout=30)


def put(server: Any, headers: dict[str, str], body: bytes, name: str = "bdt",
        content_type: str = "application/gzip") -> httpx.Response:
    return httpx.put(f"{server.url}/v1/models/{name}", content=body, timeout=60,
                     headers={**headers, "Content-Type": content_type})


def test_upload_new_and_replace(served: Any, admin: dict[str, str], bundles: tuple[Any, Any],
                                tmp_path: Path) -> None:
    second = bundles[1]
    folder = tmp_path / "second"
    second.save(folder)
    created = put(served, admin, archive_folder(folder), name="bdt2")
    assert created.status_code == 201, created.text
    assert created.json()["version"] == second.token
    got = np.asarray(predict(served, admin, "bdt2").json()["predictions"], np.float32)
    np.testing.assert_array_equal(got, second.predict_columns(RAW))
    replaced = put(served, admin, archive_folder(folder))
    assert replaced.status_code == 200 and replaced.json()["version"] == second.token
    answer = predict(served, admin).json()
    assert answer["version"] == second.token
    np.testing.assert_array_equal(np.asarray(answer["predictions"], np.float32),
                                  second.predict_columns(RAW))
    assert (served.models / "bdt2" / "bundle.json").is_file()
    assert sorted(p.name for p in served.models.iterdir()) == ["bdt", "bdt2"]


def test_zip_with_a_top_folder(served: Any, admin: dict[str, str], bundles: tuple[Any, Any],
                               tmp_path: Path) -> None:
    files = bundle_bytes(bundles[1], tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"mybundle/{name}", data)
    answer = put(served, admin, buffer.getvalue(), content_type="application/zip")
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == bundles[1].token


def hostile_tars(files: dict[str, bytes]) -> dict[str, bytes]:
    good = [(n, None, d) for n, d in files.items()]
    return {
        "dotdot": tar_of([*good, ("../escaped.txt", None, b"owned")]),
        "nested-dotdot": tar_of([*good, ("sub/../../escaped.txt", None, b"owned")]),
        "absolute": tar_of([*good, ("/tmp/hepflow-escaped.txt", None, b"owned")]),
        "symlink": tar_of([*good, ("link", tarfile.SYMTYPE, b"/etc/passwd")]),
        "symlink-model": tar_of([(n, None, d) for n, d in files.items()
                                 if n == "bundle.json"]
                                + [("model.ubj", tarfile.SYMTYPE, b"/etc/passwd")]),
        "hardlink": tar_of([*good, ("hard", tarfile.LNKTYPE, b"bundle.json")]),
        "device": tar_of([*good, ("dev", tarfile.CHRTYPE, b"")]),
        "fifo": tar_of([*good, ("fifo", tarfile.FIFOTYPE, b"")]),
    }


@pytest.mark.parametrize("kind", ["dotdot", "nested-dotdot", "absolute", "symlink",
                                  "symlink-model", "hardlink", "device", "fifo"])
def test_hostile_tar_is_refused(served: Any, admin: dict[str, str], bundles: tuple[Any, Any],
                                tmp_path: Path, kind: str) -> None:
    body = hostile_tars(bundle_bytes(bundles[1], tmp_path))[kind]
    answer = put(served, admin, body)
    assert answer.status_code == 422, answer.text
    assert predict(served, admin).json()["version"] == bundles[0].token
    assert not (served.models.parent / "escaped.txt").exists()
    assert not Path("/tmp/hepflow-escaped.txt").exists()
    assert sorted(p.name for p in served.models.iterdir()) == ["bdt"]


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute"])
def test_hostile_zip_is_refused(served: Any, admin: dict[str, str], bundles: tuple[Any, Any],
                                tmp_path: Path, kind: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in bundle_bytes(bundles[1], tmp_path).items():
            archive.writestr(name, data)
        if kind == "symlink":
            info = zipfile.ZipInfo("link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
        else:
            archive.writestr("../escaped.txt" if kind == "dotdot" else "/tmp/escaped.txt", "x")
    answer = put(served, admin, buffer.getvalue(), content_type="application/zip")
    assert answer.status_code == 422, answer.text
    assert predict(served, admin).json()["version"] == bundles[0].token
    assert sorted(p.name for p in served.models.iterdir()) == ["bdt"]


def test_size_and_count_limits(served: Any, admin: dict[str, str], bundles: tuple[Any, Any],
                               tmp_path: Path) -> None:
    files = bundle_bytes(bundles[1], tmp_path)
    too_big = put(served, admin, b"\x1f\x8b" + b"0" * (3 * 2**20))
    assert too_big.status_code == 413
    bomb = tar_of([*[(n, None, d) for n, d in files.items()],
                   ("padding.bin", None, b"\0" * (5 * 2**20))])
    assert len(bomb) < 2**20  # small on the wire, 5 MiB unpacked
    assert put(served, admin, bomb).status_code == 413
    many = tar_of([*[(n, None, d) for n, d in files.items()],
                   *[(f"f{i}", None, b"x") for i in range(10)]])
    assert put(served, admin, many).status_code == 413
    assert put(served, admin, b"just text", content_type="text/plain").status_code == 415
    assert put(served, admin, b"not an archive at all").status_code == 415
    assert put(served, admin, b"").status_code == 400
    assert put(served, admin, gzip.compress(b"not a tar")).status_code == 422
    assert predict(served, admin).json()["version"] == bundles[0].token


def test_broken_bundle_does_not_replace(served: Any, admin: dict[str, str],
                                        bundles: tuple[Any, Any], tmp_path: Path) -> None:
    files = bundle_bytes(bundles[1], tmp_path)
    broken_model = tar_of([("bundle.json", None, files["bundle.json"]),
                           ("model.ubj", None, b"this is no xgboost model")])
    answer = put(served, admin, broken_model)
    assert answer.status_code == 422 and "cannot be loaded" in answer.json()["message"]
    meta = json.loads(files["bundle.json"])
    meta["model_file"] = "../../../../etc/passwd"
    sneaky = tar_of([("bundle.json", None, json.dumps(meta).encode()),
                     ("model.ubj", None, files["model.ubj"])])
    answer = put(served, admin, sneaky)
    assert answer.status_code == 422 and "plain file name" in answer.json()["message"]
    no_bundle = tar_of([("readme.txt", None, b"hello")])
    assert put(served, admin, no_bundle).status_code == 422
    assert put(served, admin, tar_of([(n, None, d) for n, d in files.items()]),
               name="..").status_code in (404, 405, 422)
    assert put(served, admin, tar_of([(n, None, d) for n, d in files.items()]),
               name=".hidden").status_code == 422
    answer = predict(served, admin)
    assert answer.json()["version"] == bundles[0].token
    assert sorted(p.name for p in served.models.iterdir()) == ["bdt"]


def test_delete(served: Any, admin: dict[str, str]) -> None:
    assert httpx.delete(f"{served.url}/v1/models/bdt", headers=admin).status_code == 204
    assert predict(served, admin).status_code == 404
    assert not (served.models / "bdt").exists()
    assert httpx.delete(f"{served.url}/v1/models/bdt", headers=admin).status_code == 404
    assert httpx.get(f"{served.url}/v1/models", headers=admin).json() == {"models": []}


def test_parallel_clients_while_the_model_is_replaced(
        served: Any, admin: dict[str, str], bundles: tuple[Any, Any], tmp_path: Path) -> None:
    """Every answer is wholly the old model's or wholly the new one's, and none fails."""
    expected = {b.token: b.predict_columns(RAW) for b in bundles}
    archives = []
    for b in bundles:
        folder = tmp_path / b.token
        b.save(folder)
        archives.append(archive_folder(folder))
    stop = threading.Event()
    seen: dict[str, int] = {}

    def client() -> int:
        answers = 0
        with httpx.Client(base_url=served.url, headers=admin, timeout=30) as http:
            while not stop.is_set():
                answer = http.post("/v1/models/bdt:predict", json={"inputs": {
                    "MET_pt": RAW["MET_pt"].tolist(), "HT": RAW["HT"].tolist(),
                    "Jet_pt": RAW["Jet_pt"].tolist(), "Jet_eta": RAW["Jet_eta"].tolist()}})
                assert answer.status_code == 200, answer.text
                body = answer.json()
                np.testing.assert_array_equal(np.asarray(body["predictions"], np.float32),
                                              expected[body["version"]])
                seen[body["version"]] = seen.get(body["version"], 0) + 1
                answers += 1
        return answers

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(client) for _ in range(6)]
        for i in range(6):
            assert put(served, admin, archives[(i + 1) % 2]).status_code == 200
            time.sleep(0.05)
        stop.set()
        total = sum(f.result() for f in futures)
    assert total > 20
    assert set(seen) == {b.token for b in bundles}


def test_interrupted_swap_is_recovered(tmp_path: Path, issuer: LocalIssuer,
                                       bundles: tuple[Any, Any],
                                       admin: dict[str, str]) -> None:
    models = tmp_path / "models"
    bundles[0].save(models / ".old-bdt-0123456789ab")
    bundles[1].save(models / ".upload-bdt-ba9876543210" / "x")
    with running(load_config(models=models, auth=issuer.auth_config())) as server:
        assert predict(server, admin).json()["version"] == bundles[0].token
    assert sorted(p.name for p in models.iterdir()) == ["bdt"]


def test_a_broken_bundle_on_disk_does_not_stop_the_others(
        tmp_path: Path, issuer: LocalIssuer, bundles: tuple[Any, Any],
        admin: dict[str, str]) -> None:
    models = tmp_path / "models"
    bundles[0].save(models / "bdt")
    bundles[1].save(models / "broken")
    (models / "broken" / "model.ubj").write_bytes(b"garbage")
    with running(load_config(models=models, auth=issuer.auth_config())) as server:
        ready = httpx.get(server.url + "/readyz").json()
        assert ready == {"status": "ready", "models": ["bdt"], "failed": ["broken"]}
        assert predict(server, admin).status_code == 200
        assert predict(server, admin, "broken").status_code == 404
        files = bundle_bytes(bundles[1], tmp_path)
        fixed = put(server, admin, tar_of([(n, None, d) for n, d in files.items()]),
                    name="broken")
        assert fixed.status_code == 200, fixed.text  # replaced the broken folder
        assert httpx.get(server.url + "/readyz").json()["failed"] == []


def _meta_with(files: dict[str, bytes], change: Any) -> bytes:
    meta = json.loads(files["bundle.json"])
    change(meta)
    return json.dumps(meta).encode()


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: (case, bundle.json from the good one, words the 422 message must hold)
HOSTILE_META: list[tuple[str, Any, str]] = [
    ("100000 nested brackets", lambda files: b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    ("deep metrics", lambda f: _meta_with(f, lambda m: m.update(metrics={"x": _deep(500)})),
     "more than 32 deep"),
    ("5000-digit version", lambda f: f["bundle.json"].replace(b'"version": 1',
                                                              b'"version": ' + b"9" * 5000),
     "not valid JSON"),
    ("version as text", lambda f: _meta_with(f, lambda m: m.update(version="1")),
     "version must be a positive integer"),
    ("infinite shift", lambda f: _meta_with(
        f, lambda m: m["normalisation"].update(shift=[1e999] * len(m["normalisation"]["shift"]))),
     "finite numbers"),
    ("huge jagged length", lambda f: _meta_with(
        f, lambda m: m["features"]["jagged"][0].update(length=10**30)),
     "length must be an integer from 1 to 4096"),
    ("features as text", lambda f: _meta_with(f, lambda m: m.update(features="abc")),
     "features must be a mapping"),
    ("unknown feature key", lambda f: _meta_with(
        f, lambda m: m["features"]["jagged"][0].update(lenght=3)), "unknown key `lenght`"),
    ("flat as a number", lambda f: _meta_with(f, lambda m: m["features"].update(flat=5)),
     "flat=...) must be a column name or a list"),
    ("classes as a list", lambda f: _meta_with(f, lambda m: m.update(classes=[0, 1])),
     "`classes` must be an object"),
    ("class key not a number", lambda f: _meta_with(
        f, lambda m: m.update(classes={"²": "signal"})), "class numbers to names"),
    ("split fraction as text", lambda f: _meta_with(
        f, lambda m: m["features"]["split"].update(train="most")), "split.train: wrong type"),
    ("top level a list", lambda f: b"[1, 2, 3]", "must hold a JSON object"),
    ("not UTF-8", lambda f: b"\xff\xfe{}", "not UTF-8"),
    ("unknown top key", lambda f: _meta_with(f, lambda m: m.update(evil=1)),
     "unknown key(s) evil"),
]


@pytest.mark.parametrize(("case", "make", "words"), HOSTILE_META,
                         ids=[c[0] for c in HOSTILE_META])
def test_hostile_bundle_json_is_a_422_with_a_message(
        served: Any, admin: dict[str, str], bundles: tuple[Any, Any], tmp_path: Path,
        case: str, make: Any, words: str) -> None:
    files = bundle_bytes(bundles[1], tmp_path)
    body = tar_of([("bundle.json", None, make(files)), ("model.ubj", None, files["model.ubj"])])
    answer = put(served, admin, body)
    assert answer.status_code == 422, (case, answer.status_code, answer.text)
    message = answer.json()["message"]
    assert words in message, message
    assert ".upload-" not in message and str(served.models) not in message
    assert predict(served, admin).json()["version"] == bundles[0].token
    assert sorted(p.name for p in served.models.iterdir()) == ["bdt"]


def test_a_torchscript_upload_is_refused_and_its_onnx_twin_taken(
        tmp_path: Path, issuer: LocalIssuer, admin: dict[str, str]) -> None:
    """A TorchScript archive is a program the server would load: uploads take ONNX (issue
    23), unless the operator lists `torch` in limits.upload_kinds."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    import hepflow.ml as ml
    from hepflow.serve.testing import torch_bundle

    native = torch_bundle()
    for bundle, name in ((native, "pt"), (ml.to_onnx(native), "pt_onnx")):
        bundle.save(tmp_path / name)
    models = tmp_path / "models"
    models.mkdir()
    config = load_config(models=models, auth=issuer.auth_config())
    with running(config) as server:
        refused = put(server, admin, archive_folder(tmp_path / "pt"), name="pt")
        assert refused.status_code == 422, refused.text
        assert "torch bundles" in refused.text and "ONNX" in refused.text
        assert not (models / "pt").exists()
        taken = put(server, admin, archive_folder(tmp_path / "pt_onnx"), name="pt")
        assert taken.status_code == 201, taken.text
        got = np.asarray(predict(server, admin, "pt").json()["predictions"], np.float32)
        np.testing.assert_allclose(got, native.predict_columns(RAW), atol=1e-5, rtol=0)
    allowing = load_config(models=models, auth=issuer.auth_config(),
                           limits={"upload_kinds": ["xgboost", "onnx", "torch"]})
    with running(allowing) as server:
        assert put(server, admin, archive_folder(tmp_path / "pt"), name="pt2").status_code == 201
