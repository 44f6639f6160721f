"""Real pieces for testing and benchmarking the server: an issuer, bundles, a server thread.

Nothing here is a mock. `LocalIssuer` holds RSA keys made on the spot, signs
tokens and serves its JWKS and OIDC discovery document from a real HTTP
server on 127.0.0.1; `xgboost_bundle` and `keras_bundle` train real (tiny)
models on generated events and wrap them with a real feature spec and fitted
normalisation; `ServerThread` runs the real app under uvicorn on a free port.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

# -- a local token issuer -----------------------------------------------------------------


class LocalIssuer:
    """An OIDC issuer on 127.0.0.1: RSA keys, a JWKS endpoint, discovery, signed tokens."""

    def __init__(self, audience: str = "hepflow") -> None:
        self.audience = audience
        self._keys: dict[str, Any] = {}
        self.current = ""
        self.jwks_requests = 0
        self.rotate()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    @staticmethod
    def new_key() -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def rotate(self, *, keep_old: bool = True) -> str:
        """Start signing with a new key (published in the JWKS); returns its key id."""
        kid = uuid.uuid4().hex[:12]
        if not keep_old:
            self._keys.clear()
        self._keys[kid] = self.new_key()
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        import jwt

        keys = []
        for kid, key in self._keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self._keys[self.current].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return pem

    def token(self, scopes: Sequence[str] = ("hepflow:predict",), *, subject: str = "alice",
              audience: str | None = None, issuer: str | None = None, lifetime: float = 3600,
              not_before: float | None = None, groups: Sequence[str] = (),
              key: Any = None, kid: str | None = None, extra: Mapping[str, Any] | None = None,
              ) -> str:
        """A signed RS256 token; every field can be made wrong for a test."""
        import jwt

        now = time.time()
        claims: dict[str, Any] = {"iss": issuer or self.url or "http://127.0.0.1/",
                                  "aud": audience or self.audience, "sub": subject,
                                  "iat": int(now), "exp": int(now + lifetime),
                                  "scope": " ".join(scopes)}
        if groups:
            claims["groups"] = list(groups)
        if not_before is not None:
            claims["nbf"] = int(not_before)
        claims.update(extra or {})
        signing_kid = kid or self.current
        signing_key = key if key is not None else self._keys[self.current]
        return jwt.encode(claims, signing_key, algorithm="RS256",
                          headers={"kid": signing_kid})

    # -- the HTTP side ------------------------------------------------------------------

    def start(self) -> LocalIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/jwks.json":
                    issuer.jwks_requests += 1
                    body = json.dumps(issuer.jwks()).encode()
                elif self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": issuer.url,
                                       "jwks_uri": issuer.url + "/jwks.json"}).encode()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="hepflow-test-issuer").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def auth_config(self, **changes: Any) -> dict[str, Any]:
        """The ``auth`` section of a serve config trusting this issuer via its JWKS URL."""
        return {"issuer": self.url, "audience": self.audience,
                "jwks_url": self.url + "/jwks.json", "jwks_min_refetch_s": 0.0, **changes}


# -- bundles ----------------------------------------------------------------------------------

FLAT = ("MET_pt", "HT")
JAGGED = ("Jet_pt", "Jet_eta")


def events(n: int, seed: int = 0, *, max_jets: int = 6) -> dict[str, Any]:
    """Generated raw columns: two flat, two jagged (one jet collection), and a label."""
    import awkward as ak

    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    met = rng.exponential(30.0, n) + 25.0 * label
    counts = rng.integers(0, max_jets + 1, n)
    total = int(counts.sum())
    jet_pt = rng.exponential(40.0, total) + 20.0
    jet_eta = rng.normal(0.0, 1.5, total)
    owner = np.repeat(np.arange(n), counts)
    jet_pt = jet_pt + 15.0 * label[owner]
    pt = ak.unflatten(jet_pt, counts)
    ht = np.asarray(ak.to_numpy(ak.sum(pt, axis=1)), dtype=np.float64)
    return {"MET_pt": met, "HT": ht, "Jet_pt": pt, "Jet_eta": ak.unflatten(jet_eta, counts),
            "label": label, "event": np.arange(n)}


def _prepared(n: int, seed: int, length: int) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    from hepflow.ml.features import Features, Jagged, raw_inputs, valid_matrix
    from hepflow.ml.normalise import Moments, Normalisation
    from hepflow.ml.prepare import model_inputs

    jagged = [Jagged(JAGGED, length, name="Jet")] if length else []
    features = Features(FLAT, jagged, label="label", classes=("background", "signal"))
    data = events(n, seed)
    values, mask = raw_inputs(features, data)
    moments = Moments.of(values, valid_matrix(features, mask))
    norm = Normalisation.fit(moments, features.value_names, "standard")
    return features, norm, model_inputs(features, norm, values, mask), data["label"]


def xgboost_bundle(*, n: int = 4000, seed: int = 1, trees: int = 20, depth: int = 3,
                   jets: int = 3) -> Any:
    """A real xgboost `Bundle` trained on generated events (flat inputs only if `jets` is 0)."""
    import xgboost

    from hepflow.ml.bundle import Bundle

    features, norm, x, y = _prepared(n, seed, jets)
    booster = xgboost.train({"max_depth": depth, "objective": "binary:logistic",
                             "nthread": 1, "seed": seed}, xgboost.DMatrix(x, label=y),
                            num_boost_round=trees)
    return Bundle("xgboost", bytes(booster.save_raw("ubj")), features, norm,
                  {0: "background", 1: "signal"}, {"trained_by": "hepflow.serve.testing"},
                  {"trees": trees, "depth": depth})


def torch_bundle() -> Any:
    """A small torch network on the test features (`xgboost_bundle`'s), as `train_torch`
    stores it: a TorchScript bundle."""
    from hepflow.ml.bundle import Bundle
    from hepflow.ml.device import import_torch
    from hepflow.ml.torch_train import to_torchscript

    torch = import_torch()
    reference = xgboost_bundle(n=500, trees=2)
    torch.manual_seed(4)
    width = reference.features.n_inputs
    model = torch.nn.Sequential(torch.nn.Linear(width, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 1))
    return Bundle("torch", to_torchscript(model, width, 2), reference.features,
                  reference.normalisation, dict(reference.classes))


def keras_bundle(*, n: int = 2000, seed: int = 2, jets: int = 3, classes: int = 1) -> Any:
    """A real Keras `Bundle` (a small dense network) trained for one epoch."""
    from hepflow.ml.bundle import Bundle
    from hepflow.ml.tfsetup import import_keras

    keras = import_keras()
    features, norm, x, y = _prepared(n, seed, jets)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(8,
                              activation="relu"),
                              keras.layers.Dense(classes, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y.astype(np.float32), epochs=1, batch_size=256, verbose=0)
    with tempfile.TemporaryDirectory(prefix="hepflow-keras-") as tmp:
        file = Path(tmp) / "model.keras"
        model.save(file)
        payload = file.read_bytes()
    return Bundle("keras", payload, features, norm, {0: "background", 1: "signal"},
                  {"trained_by": "hepflow.serve.testing"}, {})


# -- a server on a free port -------------------------------------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    """The app under uvicorn in a background thread, on a free 127.0.0.1 port."""

    def __init__(self, config: Any, *, http: str | None = None) -> None:
        import uvicorn

        from hepflow.serve.app import create_app
        from hepflow.serve.cli import server_config

        self.app = create_app(config)
        self.service = self.app.state.service
        self._socket = free_socket()
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(server_config(self.app, config, http=http,
                                                    log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]}, daemon=True,
                                        name="hepflow-serve-test")

    def start(self, timeout: float = 60.0) -> ServerThread:
        import httpx

        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"the test server at {self.url} did not become ready")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()


@contextmanager
def running(config: Any, *, http: str | None = None) -> Iterator[ServerThread]:
    """A started `ServerThread`, stopped afterwards (even when the test fails)."""
    server = ServerThread(config, http=http)
    try:
        yield server.start()
    finally:
        server.stop()


__all__ = ["FLAT", "JAGGED", "LocalIssuer", "ServerThread", "events", "free_socket",
           "keras_bundle", "running", "torch_bundle", "xgboost_bundle"]
