"""`df.Predict("score", URL)`: a served model called from the graph, batch per chunk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.serve.config import load_config
from hepflow.serve.testing import LocalIssuer, events, running, xgboost_bundle


@pytest.fixture(scope="module")
def served_bdt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, str]]:
    issuer = LocalIssuer().start()
    try:
        bundle = xgboost_bundle()
        models = tmp_path_factory.mktemp("models")
        bundle.save(models / "bdt")
        config = load_config(models=models, auth=issuer.auth_config())
        with running(config) as server:
            yield bundle, server, issuer.token(["hepflow:predict"])
    finally:
        issuer.stop()


def test_predict_from_a_served_model_equals_the_bundle(served_bdt, tmp_path, monkeypatch):
    bundle, server, token = served_bdt
    data = events(3_000, seed=5)
    path = tmp_path / "events.root"
    with uproot.recreate(path) as f:
        jets = ak.zip({"pt": data["Jet_pt"], "eta": data["Jet_eta"]})
        f.mktree("Events", {"MET_pt": np.float64, "HT": np.float64, "Jet": jets.type,
                            "event": np.int64})
        f["Events"].extend({"MET_pt": data["MET_pt"], "HT": data["HT"], "Jet": jets,
                            "event": data["event"]})
    monkeypatch.setenv("HEPFLOW_SERVE_TOKEN", token)
    df = hepflow.RDataFrame("Events", str(path), client="sync", chunk_entries=1_000)
    scored = df.Predict("score", f"{server.url}/v1/models/bdt")
    got = scored.Take("score").GetValue()
    want = bundle.predict_columns({c: data[c] for c in ("MET_pt", "HT", "Jet_pt", "Jet_eta")})
    np.testing.assert_allclose(np.asarray(got).ravel(), np.asarray(want).ravel(), rtol=1e-6)
