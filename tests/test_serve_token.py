"""`hepflow serve keygen` / `hepflow serve token`: trying the server with auth on, locally."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from hepflow.cli import main
from hepflow.serve.config import load_config
from hepflow.serve.testing import running, xgboost_bundle


def _config(tmp_path: Path, public: str) -> Path:
    config = tmp_path / "serve.yaml"
    config.write_text(f"auth: {{issuer: hepflow-local, audience: hepflow, "
                      f"public_key_file: {public}}}\n")
    return config


def _token(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["serve", "token", *argv])
    out, err = capsys.readouterr()
    return status, out.strip(), err


def test_local_token_is_accepted_by_the_configured_server(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "keygen", str(tmp_path / "local.key")]) == 0
    assert "local.pub" in capsys.readouterr().out
    assert stat.S_IMODE((tmp_path / "local.key").stat().st_mode) == 0o600
    config = _config(tmp_path, "local.pub")
    status, token, _ = _token(capsys, "--config", str(config), "--key",
                              str(tmp_path / "local.key"))
    assert status == 0
    status, admin, _ = _token(capsys, "--config", str(config), "--key",
                              str(tmp_path / "local.key"), "--scope", "hepflow:admin")
    assert status == 0
    xgboost_bundle(trees=3).save(tmp_path / "models" / "bdt")
    with running(load_config(config, models=tmp_path / "models")) as server:
        def get(tok: str) -> int:
            return httpx.get(f"{server.url}/v1/models/bdt",
                             headers={"Authorization": f"Bearer {tok}"}).status_code

        def delete(tok: str) -> int:
            return httpx.delete(f"{server.url}/v1/models/bdt",
                                headers={"Authorization": f"Bearer {tok}"}).status_code

        assert get(token) == 200
        assert get(token[:-4] + "AAAA") == 401
        assert delete(token) == 403                  # predict scope only
        assert delete(admin) in (200, 204)


def test_refused_unless_the_server_is_configured_for_that_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "keygen", str(tmp_path / "mine.key")])
    main(["serve", "keygen", str(tmp_path / "other.key")])
    capsys.readouterr()
    config = _config(tmp_path, "other.pub")
    status, out, err = _token(capsys, "--config", str(config), "--key",
                              str(tmp_path / "mine.key"))
    assert status != 0 and out == ""
    assert "not the public half of" in err and "no token was made" in err
    site = tmp_path / "site.yaml"
    site.write_text("auth: {issuer: https://iam.example.org/, audience: hepflow}\n")
    status, out, err = _token(capsys, "--config", str(site), "--key",
                              str(tmp_path / "mine.key"))
    assert status != 0 and out == "" and "does not accept local tokens" in err
    assert main(["serve", "keygen", str(tmp_path / "mine.key")]) != 0   # never overwrites
    assert "exists" in capsys.readouterr().err
