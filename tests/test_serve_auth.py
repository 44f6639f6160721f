"""Token checks of `hepflow serve` against a real local issuer (keys made here, JWKS on 127.0.0.1).

Each way a token can be wrong gets its own answer: 401 with a Bearer
challenge for a missing or invalid token, 403 with ``insufficient_scope`` for
a valid token without the role; a rotated issuer key is picked up by
refetching the JWKS, and refetches are themselves limited.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from hepflow.serve.config import load_config
from hepflow.serve.errors import ConfigError
from hepflow.serve.testing import LocalIssuer, running, xgboost_bundle

ROW = {"instances": [{"MET_pt": 40.0, "HT": 120.0, "Jet_pt": [60.0], "Jet_eta": [0.1]}]}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    xgboost_bundle(n=800, trees=5).save(folder / "bdt")
    return folder


@pytest.fixture(scope="module")
def server(issuer: LocalIssuer, models: Path) -> Iterator[Any]:
    auth = issuer.auth_config(leeway_s=30,
                              predict={"scopes": ["hepflow:predict"], "groups": ["/cms"]},
                              admin={"scopes": ["hepflow:admin"], "groups": ["/cms/admins"]})
    with running(load_config(models=models, auth=auth)) as server:
        yield server


def predict(server: Any, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.url + "/v1/models/bdt:predict", json=ROW, headers=headers)


def challenge(answer: httpx.Response) -> str:
    return answer.headers.get("www-authenticate", "")


def test_valid_token_predicts(server: Any, issuer: LocalIssuer) -> None:
    answer = predict(server, issuer.token())
    assert answer.status_code == 200, answer.text


def test_missing_token_is_401_with_a_challenge(server: Any) -> None:
    for answer in (predict(server, None), predict(server, None, Authorization="Basic YTpi")):
        assert answer.status_code == 401
        assert challenge(answer) == 'Bearer realm="hepflow"'
        assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize(("make", "words"), [
    (lambda i: "not.a.jwt", "malformed"),
    (lambda i: i.token(lifetime=-120), "expired"),
    (lambda i: i.token(audience="someone-else"), "audience"),
    (lambda i: i.token(issuer="https://evil.example/"), "issuer"),
    (lambda i: i.token(key=LocalIssuer.new_key()), "signature"),
    (lambda i: i.token(not_before=time.time() + 600), "not yet valid"),
    (lambda i: i.token(kid="no-such-key"), "unknown key"),
    (lambda i: jwt.encode({"iss": i.url, "aud": i.audience, "exp": time.time() + 60,
                           "scope": "hepflow:predict"}, None, algorithm="none"),
     "algorithm"),
    (lambda i: jwt.encode({"iss": i.url, "aud": i.audience, "exp": time.time() + 60,
                           "scope": "hepflow:predict"}, "x" * 32, algorithm="HS256"),
     "algorithm"),
    (lambda i: i.token(extra={"exp": None}), "exp"),
])
def test_bad_tokens_are_401(server: Any, issuer: LocalIssuer, make: Any, words: str) -> None:
    answer = predict(server, make(issuer))
    assert answer.status_code == 401, answer.text
    assert words in answer.json()["message"]
    assert challenge(answer).startswith('Bearer realm="hepflow", error="invalid_token"')


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_times_must_be_json_numbers(server: Any, issuer: LocalIssuer, claim: str) -> None:
    """RFC 7519 NumericDate is a JSON number: "1700000000" is refused, 1.7e9 + 0.5 is not."""
    now = time.time()
    good = {"exp": now + 3600.5, "nbf": now - 60.5, "iat": now - 60.5}[claim]
    assert predict(server, issuer.token(extra={claim: good})).status_code == 200
    answer = predict(server, issuer.token(extra={claim: str(int(good))}))
    assert answer.status_code == 401, answer.text
    assert f"token claim {claim} is not a NumericDate" in answer.json()["message"]
    assert predict(server, issuer.token(extra={claim: True})).status_code == 401


def test_clock_skew_is_tolerated(server: Any, issuer: LocalIssuer) -> None:
    assert predict(server, issuer.token(lifetime=-10)).status_code == 200
    assert predict(server, issuer.token(not_before=time.time() + 10)).status_code == 200


def test_missing_scope_is_403(server: Any, issuer: LocalIssuer) -> None:
    answer = predict(server, issuer.token(scopes=["openid", "profile"]))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in challenge(answer)
    assert 'scope="hepflow:predict"' in challenge(answer)
    upload = httpx.put(server.url + "/v1/models/other", content=b"x",
                       headers={"Authorization": f"Bearer {issuer.token()}"})
    assert upload.status_code == 403 and "admin" in upload.json()["message"]
    delete = httpx.delete(server.url + "/v1/models/bdt",
                          headers={"Authorization": f"Bearer {issuer.token()}"})
    assert delete.status_code == 403


def test_groups_map_to_roles_and_admin_implies_predict(server: Any, issuer: LocalIssuer) -> None:
    assert predict(server, issuer.token(scopes=[], groups=["/cms"])).status_code == 200
    assert predict(server, issuer.token(scopes=[], groups=["/atlas"])).status_code == 403
    assert predict(server, issuer.token(scopes=["hepflow:admin"])).status_code == 200
    admin_by_group = issuer.token(scopes=[], groups=["/cms/admins"])
    answer = httpx.delete(server.url + "/v1/models/missing",
                          headers={"Authorization": f"Bearer {admin_by_group}"})
    assert answer.status_code == 404  # authorised; there is just no such model


def test_rotated_key_is_fetched(server: Any, issuer: LocalIssuer) -> None:
    old_token = issuer.token()
    before = issuer.jwks_requests
    issuer.rotate()
    answer = predict(server, issuer.token())
    assert answer.status_code == 200, answer.text
    assert issuer.jwks_requests == before + 1
    assert predict(server, old_token).status_code == 200  # the old key is still published
    issuer.rotate(keep_old=False)
    retired = issuer.token(key=LocalIssuer.new_key(), kid="retired")
    assert predict(server, retired).status_code == 401


def test_unknown_keys_do_not_hammer_the_issuer(issuer: LocalIssuer, models: Path) -> None:
    auth = issuer.auth_config(jwks_min_refetch_s=60)
    with running(load_config(models=models, auth=auth)) as server:
        start = issuer.jwks_requests
        for i in range(5):
            assert predict(server, issuer.token(kid=f"made-up-{i}")).status_code == 401
        assert issuer.jwks_requests - start <= 1
        assert predict(server, issuer.token()).status_code == 200


def test_oidc_discovery_and_rate_limit(issuer: LocalIssuer, models: Path) -> None:
    auth = {"issuer": issuer.url, "audience": issuer.audience}
    config = load_config(models=models, auth=auth,
                         limits={"rate_limit_per_s": 0.5, "rate_limit_burst": 2})
    with running(config) as server:
        token = issuer.token(subject="bob")
        assert predict(server, token).status_code == 200
        assert predict(server, token).status_code == 200
        limited = predict(server, token)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert predict(server, issuer.token(subject="carol")).status_code == 200
        metrics = httpx.get(server.url + "/metrics").text
        assert "hepflow_serve_rate_limited_total 1.0" in metrics


def test_configured_public_key(tmp_path: Path, issuer: LocalIssuer, models: Path) -> None:
    (tmp_path / "issuer.pem").write_bytes(issuer.public_pem())
    (tmp_path / "serve.yaml").write_text(
        f"auth:\n  issuer: {issuer.url}\n  audience: {issuer.audience}\n"
        "  public_key_file: issuer.pem\n")
    with running(load_config(tmp_path / "serve.yaml", models=models)) as server:
        assert predict(server, issuer.token()).status_code == 200
        assert predict(server, issuer.token(key=LocalIssuer.new_key())).status_code == 401


def test_auth_is_only_off_by_the_explicit_flag(tmp_path: Path, models: Path) -> None:
    with pytest.raises(ConfigError, match="insecure-no-auth"):
        load_config(models=models)
    (tmp_path / "serve.yaml").write_text("insecure_no_auth: true\n")
    with pytest.raises(ConfigError, match="cannot be set in a config file"):
        load_config(tmp_path / "serve.yaml", models=models)
    with pytest.raises(ConfigError, match="https"):
        load_config(models=models, auth={"issuer": "x", "audience": "y",
                                         "jwks_url": "http://idp.example/jwks"})
    with pytest.raises(ConfigError, match="symmetric"):
        load_config(models=models, auth={"issuer": "x", "audience": "y",
                                         "algorithms": ["HS256"]})
    with running(load_config(models=models, insecure_no_auth=True)) as server:
        assert predict(server, None).status_code == 200


def test_cli_warns_when_auth_is_off(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hepflow.serve", "--models",
                           str(tmp_path / "missing"), "--insecure-no-auth"],
                          capture_output=True, text=True, timeout=60)
    assert "WARNING: --insecure-no-auth" in done.stderr
    assert done.returncode == 2 and "does not exist" in done.stderr
