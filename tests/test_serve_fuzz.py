"""Schemathesis against the served OpenAPI description, with an admin token: never a 5xx.

Every operation of ``/openapi.json`` is fed schema-driven valid and invalid
requests (bodies, path names, headers). Besides "not a server error", the
answers must match the description: documented status codes, content types,
response schemas and headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from hepflow.serve.config import load_config
from hepflow.serve.testing import LocalIssuer, running, xgboost_bundle

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 12


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
