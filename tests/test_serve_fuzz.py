"""Schemathesis against the served OpenAPI description, with an admin token: never a 5xx.

Every operation of ``/openapi.json`` is fed schema-driven valid and invalid
requests (bodies, path names, headers). Besides "not a server error", the
answers must match the description: documented status codes, content types,
response schemas and headers.

Random bytes almost never make an archive, so the upload bodies come from a
strategy registered for the archive media types: tar (plain or compressed) and
zip archives of a real bundle whose ``bundle.json`` is mutated (deep nesting,
huge numbers, infinities, wrong types, unknown keys, random JSON, random
bytes), with hostile members added (``..``, absolute names, links, devices)
and sometimes truncated.
"""

from __future__ import annotations

import functools
import io
import json
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from hepflow.serve.config import load_config
from hepflow.serve.testing import LocalIssuer, running, xgboost_bundle

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 12
UPLOAD_EXAMPLES = 250
ARCHIVE_TYPES = ("application/x-tar", "application/gzip", "application/zip",
                 "application/octet-stream")


@functools.cache
def good_files() -> dict[str, bytes]:
    """The files of one small, valid xgboost bundle (built once per process)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = xgboost_bundle(n=400, trees=3, seed=5).save(Path(tmp) / "b")
        return {p.name: p.read_bytes() for p in folder.iterdir()}


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


HOSTILE_VALUES = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40), st.floats(), st.text(max_size=20),
    st.booleans(), st.none(), st.lists(st.integers(), max_size=4),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.integers(min_value=33, max_value=900).map(lambda d: _nested(d, 1)),
    st.sampled_from([10**4000, float("inf"), -float("inf"), float("nan"), "", [], {}]),
)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats() | st.integers()
                           | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in parsed JSON a value can be swapped (the root excluded)."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


@st.composite
def bundle_json(draw: st.DrawFn) -> bytes:
    """A bundle.json: the good one, mutated in a few places, or something else entirely."""
    how = draw(st.sampled_from(["good", "mutated", "mutated", "mutated", "json", "bytes",
                                "deep"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "deep":
        depth = draw(st.sampled_from([100, 1000, 100_000]))
        return b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    if how == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    meta = json.loads(good_files()["bundle.json"])
    if how == "mutated":
        places = _paths(meta)
        for _ in range(draw(st.integers(1, 3))):
            *parent, key = draw(st.sampled_from(places))
            holder = meta
            for step in parent:
                holder = holder[step]
            if draw(st.booleans()) and isinstance(holder, dict):
                holder[draw(st.text(min_size=1, max_size=8))] = draw(HOSTILE_VALUES)
            else:
                holder[key] = draw(HOSTILE_VALUES)
            places = _paths(meta)
    try:
        return json.dumps(meta).encode()
    except ValueError:  # a 10**4000 integer: Python's own digit limit
        return json.dumps(meta, default=str).encode()


HOSTILE_NAMES = st.sampled_from([
    "../escaped.txt", "/tmp/hepflow-fuzz-escaped", "a/../../escaped", "a\\b", "x\x00y",
    "a/b/c/d/e/f", "./bundle.json", "bundle.json", "model.ubj", "sub/", "", ".",
])
KINDS = st.sampled_from(["file", "file", "dir", "symlink", "hardlink", "fifo", "device"])


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """A tar or zip of a (mutated) bundle, maybe with hostile members, maybe truncated."""
    files = good_files()
    top = draw(st.sampled_from(["", "", "bundle/", "a/b/"]))
    members: list[tuple[str, str, bytes]] = [
        (top + "bundle.json", "file", draw(bundle_json())),
        (top + "model.ubj", "file",
         files["model.ubj"] if draw(st.integers(0, 4)) else draw(st.binary(max_size=64)))]
    for _ in range(draw(st.integers(0, 3))):
        members.insert(draw(st.integers(0, len(members))),
                       (draw(HOSTILE_NAMES), draw(KINDS), draw(st.binary(max_size=32))))
    if draw(st.booleans()):
        members = members[::-1]
    fmt = draw(st.sampled_from(["w", "w:gz", "w:bz2", "w:xz", "zip"]))
    buffer = io.BytesIO()
    if fmt == "zip":
        with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
            warnings.simplefilter("ignore", UserWarning)  # duplicate names are on purpose
            for name, kind, data in members:
                info = zipfile.ZipInfo(name or "empty")
                if kind == "symlink":
                    info.external_attr = (0o120777) << 16
                elif kind == "dir":
                    info.external_attr = (0o040755) << 16
                archive.writestr(info, data)
    else:
        types = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                 "device": tarfile.CHRTYPE}
        with tarfile.open(fileobj=buffer, mode=fmt) as archive:  # type: ignore[call-overload]
            for name, kind, data in members:
                info = tarfile.TarInfo(name)
                if kind == "file":
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                else:
                    info.type = types[kind]
                    info.linkname = "bundle.json" if kind == "hardlink" else "/etc/passwd"
                    archive.addfile(info)
    body = buffer.getvalue()
    if draw(st.integers(0, 9)) == 0:
        body = body[:draw(st.integers(0, len(body)))]
    return body


schemathesis.openapi.media_type(ARCHIVE_TYPES[0], archives(), aliases=ARCHIVE_TYPES[1:])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    issuer = LocalIssuer().start()
    models: Path = tmp_path_factory.mktemp("models")
    xgboost_bundle(n=800, trees=5).save(models / "bdt")
    config = load_config(models=models, auth=issuer.auth_config(),
                         limits={"max_rows": 1000, "max_body_bytes": 200_000,
                                 "max_upload_bytes": 200_000})
    try:
        with running(config) as server:
            yield server, issuer.token(["hepflow:admin"])
    finally:
        issuer.stop()


def test_schemathesis_finds_no_server_error(target: tuple[Any, str]) -> None:
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    server, token = target
    document = httpx.get(server.url + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, response_headers_conformance]
    headers = {"Authorization": f"Bearer {token}"}
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call(base_url=server.url, headers=headers)
                case.validate_response(response, checks=checks)

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): no negative cases exist.
                assert mode == GenerationMode.NEGATIVE, operation.label
                continue
            ran += 1
    assert ran >= 10
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_schemathesis_uploads_of_hostile_archives_and_bundles(target: tuple[Any, str]) -> None:
    """PUT with generated archives: every answer documented, no 5xx, no escape, bounded time."""
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    server, token = target
    schema = schemathesis.openapi.from_dict(httpx.get(server.url + "/openapi.json").json())
    operation = schema["/v1/models/{name}"]["PUT"]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    headers = {"Authorization": f"Bearer {token}"}
    statuses: dict[int, int] = {}
    started = time.monotonic()

    @settings(max_examples=UPLOAD_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(base_url=server.url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    check()
    assert time.monotonic() - started < 120
    assert statuses.get(422, 0) >= 20, statuses  # hostile bundles were refused ...
    assert statuses.get(200, 0) + statuses.get(201, 0) >= 1, statuses  # ... good ones served
    assert not Path("/tmp/hepflow-fuzz-escaped").exists()
    assert httpx.get(server.url + "/healthz").status_code == 200
    answer = httpx.get(server.url + "/v1/models/bdt", headers=headers)
    assert answer.status_code in (200, 404)  # replaced or deleted by the fuzzer, never broken
