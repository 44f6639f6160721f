"""`df.Predict("score", V2 URL)`: any V2 server as the model, here hepflow's own V2 endpoint.

Over HTTP and gRPC, a chunked RDataFrame scored through the V2 endpoint gives
the same histogram as the local bundle; a server that does not answer is a
`ServeClientError` naming the server, after the retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.serve import ServeClientError
from hepflow.serve.config import load_config
from hepflow.serve.testing import LocalIssuer, events, free_socket, running, xgboost_bundle
from hepflow.serve.v2client import V2Model

pytest.importorskip("tritonclient.grpc")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, issuer: LocalIssuer
           ) -> Iterator[tuple[Any, Any, str]]:
    bundle = xgboost_bundle(n=1000, trees=5)
    models = tmp_path_factory.mktemp("models")
    bundle.save(models / "bdt")
    config = load_config(models=models, auth=issuer.auth_config(), grpc_port=0)
    with running(config) as server:
        yield bundle, server, issuer.token(["hepflow:predict"])


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_predict_through_a_v2_server_gives_the_local_histogram(served, tmp_path, monkeypatch,
                                                                scheme):
    bundle, server, token = served
    data = events(2_500, seed=7)
    path = tmp_path / "events.root"
    with uproot.recreate(path) as f:
        jets = ak.zip({"pt": data["Jet_pt"], "eta": data["Jet_eta"]})
        f.mktree("Events", {"MET_pt": np.float64, "HT": np.float64, "Jet": jets.type})
        f["Events"].extend({"MET_pt": data["MET_pt"], "HT": data["HT"], "Jet": jets})
    monkeypatch.setenv("HEPFLOW_SERVE_TOKEN", token)
    address = server.url.removeprefix("http://") if scheme == "http" else \
        f"127.0.0.1:{server.app.state.grpc.port}"
    df = hepflow.RDataFrame("Events", str(path), client="sync", chunk_entries=1_000)
    remote = df.Predict("score", f"{scheme}://{address}/v2/models/bdt")
    local = df.Predict("score", bundle)
    got = remote.Histo1D(("s", "", 20, 0.0, 1.0), "score").GetValue()
    want = local.Histo1D(("s", "", 20, 0.0, 1.0), "score").GetValue()
    np.testing.assert_array_equal(got.values(flow=True), want.values(flow=True))
    assert got.values().sum() == 2_500


def test_a_collection_of_one_slot_is_padded_not_taken_for_a_flat_column(
        tmp_path, monkeypatch, issuer: LocalIssuer) -> None:
    """A jagged feature of length 1 (the leading muon) is a `[-1, 1]` V2 input with a
    `:count`: events without one are padded (they failed with "subarray lengths are not
    regular" when such an input was taken for a flat column)."""
    bundle = xgboost_bundle(n=1000, trees=5, jets=1)
    models = tmp_path / "models"
    bundle.save(models / "lead")
    data = events(1_500, seed=3)
    counts = np.asarray(ak.num(data["Jet_pt"]))
    assert (counts == 0).any() and (counts > 1).any()
    path = tmp_path / "events.root"
    with uproot.recreate(path) as f:
        jets = ak.zip({"pt": data["Jet_pt"], "eta": data["Jet_eta"]})
        f.mktree("Events", {"MET_pt": np.float64, "HT": np.float64, "Jet": jets.type})
        f["Events"].extend({"MET_pt": data["MET_pt"], "HT": data["HT"], "Jet": jets})
    monkeypatch.setenv("HEPFLOW_SERVE_TOKEN", issuer.token(["hepflow:predict"]))
    with running(load_config(models=models, auth=issuer.auth_config())) as server:
        model = V2Model(f"{server.url}/v2/models/lead")
        assert [i["shape"] for i in model.metadata["inputs"]][2:] == [[-1, 1], [-1, 1], [-1]]
        df = hepflow.RDataFrame("Events", str(path), client="sync", chunk_entries=500)
        got = df.Predict("score", f"{server.url}/v2/models/lead").AsNumpy(["score"])
    want = df.Predict("score", bundle).AsNumpy(["score"])
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6)


def test_a_silent_server_is_named_after_the_retries() -> None:
    sock = free_socket()  # bound, never listening: connections are refused
    port = sock.getsockname()[1]
    sock.close()
    model = V2Model(f"http://127.0.0.1:{port}/v2/models/bdt", "t", retries=1)
    with pytest.raises(ServeClientError, match=f"V2 server 127.0.0.1:{port}, model 'bdt'"):
        _ = model.columns
