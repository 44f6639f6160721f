"""`V2Model`: any Open Inference Protocol (KServe V2) server as a column function.

``df.Predict("score", "https://triton.example.org:8000/v2/models/bdt")`` sends
each chunk's events to the server in batches of `batch_rows`, as binary
tensors over HTTP; ``grpc://host:8001/v2/models/bdt`` does the same over gRPC
(with tritonclient). The server may be `hepflow serve` or NVIDIA Triton.

The model's inputs come from its V2 metadata, in order; each is a column of
the same name:

* shape ``[-1]`` or ``[-1, 1]``: one number per event;
* shape ``[-1, width]``: a jagged column, padded with zeros (clipped) to
  `width` entries (``-1`` as width: the chunk's longest row);
* an input named ``<collection>:count`` (hepflow's own V2 endpoint) is not a
  column: it is the entry count of the jagged input just before it.

The first output is the score. Answers 429 and 503 and dropped connections
are retried (`retries` times, with backoff); anything else is a
`ServeClientError` naming the server and the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from hepflow.errors import PlanError
from hepflow.serve.client import TOKEN_ENV, ServeClientError, Token, _retry_after

_NUMPY = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64,
          "INT32": np.int32, "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8,
          "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64}


def split_v2_url(url: str) -> tuple[str, str, str]:
    """(scheme, host:port, model) of ``http(s)|grpc://host[:port]/v2/models/NAME``."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    head, _, name = path.rpartition("/v2/models/")
    if parts.scheme not in ("http", "https", "grpc") or not parts.netloc or not name \
            or "/" in name or head:
        raise PlanError(f"{url!r} is not a V2 model URL (http(s)://host:port/v2/models/NAME "
                        "or grpc://host:port/v2/models/NAME)")
    return parts.scheme, parts.netloc, name


class V2Model:
    """A model on a V2 server as a column function: ``df.Define("score", m, m.columns)``.

    `token` as for `RemoteModel`: a string, a callable (called per request) or
    None to read ``$HEPFLOW_SERVE_TOKEN`` where the call runs; it is sent as
    ``Authorization: Bearer``. Pickles without its connection (for Dask workers).
    """

    def __init__(self, url: str, token: Token = None, *, batch_rows: int = 10_000,
                 timeout: float = 120.0, retries: int = 3, verify: bool | str = True) -> None:
        if batch_rows < 1:
            raise PlanError("batch_rows must be at least 1")
        self.url = url
        self.scheme, self.address, self.name = split_v2_url(url)
        self.token = token
        self.batch_rows = batch_rows
        self.timeout = timeout
        self.retries = retries
        self.verify = verify
        self._meta: dict[str, Any] | None = None
        self._transport: Any = None

    # -- plumbing --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = self.token if self.token is not None else os.environ.get(TOKEN_ENV)
        value = token() if callable(token) else token
        return {"authorization": f"Bearer {value}"} if value else {}

    def _fail(self, status: int, message: str) -> ServeClientError:
        return ServeClientError(status, f"V2 server {self.address}, model {self.name!r}: "
                                f"{message}")

    def _retrying(self, call: Callable[[], Any]) -> Any:
        """Run `call`, retrying busy answers (429/503) and lost connections with backoff."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except _Retry as busy:
                if attempt == self.retries:
                    raise self._fail(busy.status, busy.message) from None
                time.sleep(busy.wait * (attempt + 1))
        raise AssertionError("unreachable")

    def _transport_(self) -> Any:
        if self._transport is None:
            self._transport = (_Grpc(self) if self.scheme == "grpc" else _Http(self))
        return self._transport

    # -- the model -------------------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        """The model's V2 metadata (asked from the server once)."""
        if self._meta is None:
            self._meta = self._retrying(self._transport_().metadata)
            if not self._meta.get("inputs") or not self._meta.get("outputs"):
                raise self._fail(0, "the model metadata lists no inputs or no outputs")
        return self._meta

    @property
    def columns(self) -> tuple[str, ...]:
        """The input columns the model reads (its V2 inputs, less the ``:count`` ones)."""
        return tuple(i["name"] for i in self.metadata["inputs"]
                     if not i["name"].endswith(":count"))

    def tensors(self, columns: dict[str, Any]) -> list[tuple[str, str, np.ndarray]]:
        """(name, datatype, array) of every V2 input, from the columns of one batch."""
        import awkward as ak

        out: list[tuple[str, str, np.ndarray]] = []
        counts: np.ndarray | None = None
        for spec in self.metadata["inputs"]:
            name, datatype, shape = spec["name"], spec["datatype"], list(spec["shape"])
            dtype = _NUMPY.get(datatype)
            if dtype is None:
                raise PlanError(f"{self.url}: input {name!r} is {datatype}; only numeric "
                                "inputs can be sent from columns")
            if name.endswith(":count"):
                if counts is None:
                    raise PlanError(f"{self.url}: {name!r} follows no jagged input")
                out.append((name, datatype, counts.astype(dtype)))
                continue
            value = columns[name]
            # `[-1, 1]` is a flat column to Triton but a one-slot collection (the leading
            # muon) to hepflow's endpoint: the column itself says which it is.
            if len(shape) == 2 and (shape[1] != 1 or _is_list(value)):
                array = ak.Array(value) if not isinstance(value, np.ndarray) else value
                if isinstance(array, np.ndarray) and array.ndim == 2:
                    padded, counts = array, np.full(len(array), array.shape[1], np.int64)
                else:
                    lengths = np.asarray(ak.num(array, axis=1), dtype=np.int64)
                    width = shape[1] if shape[1] > 0 else int(lengths.max(initial=0))
                    counts = np.minimum(lengths, width)
                    padded = ak.to_numpy(ak.fill_none(ak.pad_none(array, width, clip=True),
                                                      0))
                out.append((name, datatype, np.ascontiguousarray(padded, dtype=dtype)))
            else:
                flat = np.asarray(ak.to_numpy(value) if isinstance(value, ak.Array)
                                  else value, dtype=dtype)
                out.append((name, datatype, flat.reshape(-1, 1) if len(shape) == 2
                            else flat.reshape(-1)))
        return out

    def predict(self, columns: dict[str, Any]) -> np.ndarray:
        """Scores of all events of `columns`, in batches of `batch_rows`."""
        rows = len(next(iter(columns.values()))) if columns else 0
        output = self.metadata["outputs"][0]["name"]
        transport = self._transport_()
        parts = []
        for start in range(0, rows, self.batch_rows):
            batch = {c: v[start:start + self.batch_rows] for c, v in columns.items()}
            tensors = self.tensors(batch)
            parts.append(self._retrying(lambda t=tensors: transport.infer(t, output)))
        if not parts:
            return np.zeros(0, np.float32)
        return np.concatenate(parts)

    def __call__(self, *columns: Any) -> np.ndarray:
        names = self.columns
        if len(columns) != len(names):
            raise PlanError(f"{self.name} reads {len(names)} columns ({', '.join(names)}), "
                            f"got {len(columns)}")
        return self.predict(dict(zip(names, columns, strict=True)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_transport"] = None
        return state

    def __repr__(self) -> str:
        return f"V2Model({self.url!r})"


def _is_list(value: Any) -> bool:
    """Whether a column holds a list per event (a collection), not one number."""
    import awkward as ak

    if isinstance(value, np.ndarray):
        return value.ndim > 1
    return bool(ak.Array(value).ndim > 1)


class _Retry(Exception):
    """A busy answer or a lost connection: worth another try."""

    def __init__(self, status: int, message: str, wait: float = 0.5) -> None:
        super().__init__(message)
        self.status, self.message, self.wait = status, message, wait


class _Http:
    """V2 over HTTP(S) with httpx, binary tensors both ways."""

    def __init__(self, model: V2Model) -> None:
        import httpx

        self.model = model
        self.base = f"{'https' if model.scheme == 'https' else 'http'}://{model.address}"
        self.http = httpx.Client(base_url=self.base, timeout=model.timeout,
                                 verify=model.verify)

    def _send(self, method: str, path: str, content: bytes | None = None,
              headers: dict[str, str] | None = None) -> Any:
        import httpx

        try:
            answer = self.http.request(method, path, content=content,
                                       headers={**self.model._headers(), **(headers or {})})
        except httpx.TransportError as err:
            raise _Retry(0, f"no answer: {type(err).__name__}: {err}") from err
        if answer.status_code in (429, 503):
            raise _Retry(answer.status_code, _message(answer),
                         _retry_after(answer.headers.get("retry-after")))
        if answer.status_code >= 400:
            raise self.model._fail(answer.status_code, _message(answer))
        return answer

    def metadata(self) -> dict[str, Any]:
        answer = self._send("GET", f"/v2/models/{self.model.name}")
        try:
            meta: dict[str, Any] = answer.json()
        except ValueError:
            raise self.model._fail(answer.status_code, "the metadata is not JSON; is this a "
                                   "V2 server?") from None
        return meta

    def infer(self, tensors: list[tuple[str, str, np.ndarray]], output: str) -> np.ndarray:
        head = {"inputs": [{"name": n, "datatype": d, "shape": list(a.shape),
                            "parameters": {"binary_data_size": a.nbytes}}
                           for n, d, a in tensors],
                "outputs": [{"name": output, "parameters": {"binary_data": True}}]}
        text = json.dumps(head).encode()
        body = text + b"".join(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
                               for _, _, a in tensors)
        answer = self._send("POST", f"/v2/models/{self.model.name}/infer", body, {
            "Inference-Header-Content-Length": str(len(text)),
            "Content-Type": "application/octet-stream"})
        return _decode(self.model, answer.content,
                       answer.headers.get("inference-header-content-length"), output)

    def close(self) -> None:
        self.http.close()


def _message(answer: Any) -> str:
    try:
        data = answer.json()
    except ValueError:
        return str(answer.text)[:300]
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)


def _decode(model: V2Model, body: bytes, header: str | None, output: str) -> np.ndarray:
    """The named output of an infer response (JSON or binary-extension body)."""
    length = int(header) if header else len(body)
    head = json.loads(body[:length])
    offset = length
    for item in head.get("outputs", []):
        size = (item.get("parameters") or {}).get("binary_data_size")
        dtype = np.dtype(_NUMPY.get(item["datatype"], np.float32)).newbyteorder("<")
        if size is not None:
            values = np.frombuffer(body, dtype=dtype, count=size // dtype.itemsize,
                                   offset=offset)
            offset += size
        else:
            values = np.asarray(item.get("data", []), dtype=dtype)
        if item["name"] == output:
            return values.reshape(item["shape"]).astype(np.float32)
    raise model._fail(200, f"the answer has no output {output!r}")


class _Grpc:
    """V2 over gRPC with tritonclient's client (raw tensors)."""

    def __init__(self, model: V2Model) -> None:
        try:
            import tritonclient.grpc as grpcclient
        except (ImportError, RuntimeError) as err:
            raise PlanError("grpc:// model URLs need tritonclient (pip install "
                            "tritonclient==2.73.0 python-rapidjson grpcio)") from err
        self.model = model
        self.lib = grpcclient
        self.client = grpcclient.InferenceServerClient(model.address)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import grpc
        from tritonclient.utils import InferenceServerException

        try:
            return method(*args, headers=self.model._headers(), **kwargs)
        except InferenceServerException as err:
            status = str(err.status() or "")
            if status in (str(grpc.StatusCode.UNAVAILABLE),
                          str(grpc.StatusCode.RESOURCE_EXHAUSTED)):
                raise _Retry(503, str(err.message())) from err
            raise self.model._fail(0, f"{status}: {err.message()}") from err

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = self._call(self.client.get_model_metadata, self.model.name,
                                          as_json=True)
        for tensor in (*meta.get("inputs", []), *meta.get("outputs", [])):
            tensor["shape"] = [int(d) for d in tensor.get("shape", [])]
        return meta

    def infer(self, tensors: list[tuple[str, str, np.ndarray]], output: str) -> np.ndarray:
        inputs = []
        for name, datatype, array in tensors:
            item = self.lib.InferInput(name, list(array.shape), datatype)
            item.set_data_from_numpy(array)
            inputs.append(item)
        result = self._call(self.client.infer, self.model.name, inputs,
                            outputs=[self.lib.InferRequestedOutput(output)])
        values = result.as_numpy(output)
        if values is None:
            raise self.model._fail(0, f"the answer has no output {output!r}")
        return np.asarray(values, dtype=np.float32)


__all__ = ["V2Model", "split_v2_url"]
