"""The Python client: `Client(url, token=...).predict(name, data)` and remote models in graphs.

`predict` takes what an analysis has at hand (a dict of numpy or awkward
columns, an awkward record array, a pandas DataFrame, a numpy structured
array, or a plain (n, columns) matrix for flat-input models), sends only the
columns the model reads, in batches of `batch_rows` events, as Arrow IPC when
pyarrow is installed (JSON otherwise), and returns one numpy array in input
order. Answers 429 and 503 are retried after their ``Retry-After``.

`RemoteModel` wraps a served model as a column function, for
``df.Define("score", model, model.columns)``: each chunk's events go to the
server in batches, as an alternative to loading the bundle on every worker.
It pickles without its connection, so it travels to Dask workers.

Errors: inputs that cannot be sent (a missing column, a wrong type, a bad
URL) are `PlanError` (a `ValueError`); a refusal by the server, or no answer
at all (``status`` 0), is a `ServeClientError`.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from hepflow.errors import HepflowError, PlanError

ARROW = "application/vnd.apache.arrow.stream"
TOKEN_ENV = "HEPFLOW_SERVE_TOKEN"
Token = str | Callable[[], str] | None


class ServeClientError(HepflowError, RuntimeError):
    """The server refused or failed a request; `status` and the server's message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status  # 0: no answer at all (refused, timed out, TLS failure)
        self.message = message


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds; a date counts as 1 s)."""
    try:
        return min(30.0, max(0.0, float(value or 1)))
    except ValueError:
        return 1.0


def _has_arrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


class Client:
    """A connection to a `hepflow serve` server."""

    def __init__(self, url: str, token: Token = None, *, timeout: float = 60.0,
                 batch_rows: int = 10_000, binary: bool | None = None,
                 verify: bool | str = True, retries: int = 3) -> None:
        import httpx

        if batch_rows < 1:
            raise PlanError("batch_rows must be at least 1")
        self.url = url.rstrip("/")
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.batch_rows = batch_rows
        self.binary = _has_arrow() if binary is None else binary
        self.retries = retries
        self._http = httpx.Client(base_url=self.url, timeout=timeout, verify=verify)
        self._info: dict[str, dict[str, Any]] = {}

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        token = self._token() if callable(self._token) else self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _request(self, method: str, path: str, *, content: bytes | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                answer = self._http.request(method, path, content=content,
                                            headers=self._headers(headers))
            except httpx.HTTPError as err:
                raise ServeClientError(0, f"no answer from {self.url}{path}: "
                                          f"{type(err).__name__}: {err}") from err
            if answer.status_code in (429, 503) and attempt < self.retries:
                time.sleep(_retry_after(answer.headers.get("retry-after")))
                continue
            break
        if answer.status_code >= 400:
            try:
                message = answer.json().get("message", answer.text)
            except ValueError:
                message = answer.text
            raise ServeClientError(answer.status_code, str(message))
        return answer

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._request(method, path, **kwargs)
        try:
            return answer.json()
        except ValueError as err:
            raise ServeClientError(answer.status_code, f"{self.url}{path} answered without "
                                   "JSON; is this a hepflow serve URL?") from err

    # -- models ----------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """Summaries of the served models."""
        return list(self._json("GET", "/v1/models")["models"])

    def model(self, name: str) -> dict[str, Any]:
        """One model's feature spec, normalisation, metrics and provenance."""
        info = dict(self._json("GET", f"/v1/models/{name}"))
        self._info[name] = info
        return info

    def ready(self) -> bool:
        """Whether the server answers that it is ready (False also when it does not answer)."""
        import httpx

        try:
            return bool(self._http.get("/readyz").status_code == 200)
        except httpx.HTTPError:
            return False

    def upload(self, name: str, source: Any) -> dict[str, Any]:
        """Serve a bundle as `name`: a `Bundle`, a bundle folder, or an archive file."""
        if hasattr(source, "save") and hasattr(source, "kind"):
            import tempfile

            with tempfile.TemporaryDirectory(prefix="hepflow-upload-") as tmp:
                source.save(tmp)
                payload = archive_folder(Path(tmp))
        elif not isinstance(source, (str, os.PathLike)):
            raise PlanError(f"upload takes a Bundle, a bundle folder or an archive file, not "
                            f"{type(source).__name__}")
        elif Path(source).is_dir():
            payload = archive_folder(Path(source))
        else:
            try:
                payload = Path(source).read_bytes()
            except OSError as err:
                raise PlanError(f"cannot read the bundle archive {source}: "
                                f"{err.strerror or err}") from err
        info = self._json("PUT", f"/v1/models/{name}", content=payload,
                          headers={"Content-Type": "application/octet-stream"})
        self._info.pop(name, None)
        return dict(info)

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/v1/models/{name}")
        self._info.pop(name, None)

    # -- predictions -----------------------------------------------------------------------

    def predict(self, name: str, data: Any, *, batch_rows: int | None = None) -> np.ndarray:
        """Scores for every event of `data`: shape (n,), or (n, classes) for several classes."""
        info = self._info.get(name) or self.model(name)
        inputs: list[str] = list(info["inputs"])
        jagged = set(info.get("jagged", {}))
        columns, rows = to_columns(data, inputs, jagged)
        step = batch_rows or self.batch_rows
        pieces = []
        for start in range(0, rows, step):
            piece = {c: v[start:start + step] for c, v in columns.items()}
            pieces.append(self._predict_batch(name, piece, jagged))
        if not pieces:
            return np.zeros(0, np.float32)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _predict_batch(self, name: str, columns: Mapping[str, Any],
                       jagged: set[str]) -> np.ndarray:
        if self.binary:
            body, kind = encode_arrow(columns, jagged), ARROW
        else:
            body, kind = encode_json(columns, jagged), "application/json"
        answer = self._request("POST", f"/v1/models/{name}:predict", content=body,
                               headers={"Content-Type": kind, "Accept": kind})
        return decode_predictions(answer.content, answer.headers.get("content-type", ""))


# -- conversions ------------------------------------------------------------------------------


def to_columns(data: Any, inputs: Sequence[str], jagged: set[str],
               ) -> tuple[dict[str, Any], int]:
    """({column: numpy (flat) or awkward (jagged)}, rows) of the model's inputs from `data`."""
    import awkward as ak

    if isinstance(data, np.ndarray) and data.dtype.names is None:
        if jagged or data.ndim != 2 or data.shape[1] != len(inputs):
            raise PlanError(f"a plain matrix needs shape (events, {len(inputs)}) with columns "
                             f"{', '.join(inputs)} (flat-input models only); got {data.shape}")
        source: Mapping[str, Any] = {c: data[:, i] for i, c in enumerate(inputs)}
    elif isinstance(data, np.ndarray):
        source = {c: data[c] for c in data.dtype.names or ()}
    elif isinstance(data, ak.Array):
        source = {c: data[c] for c in ak.fields(data)}
    elif hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame
        source = {str(c): data[c].to_numpy() for c in data.columns}
    elif isinstance(data, Mapping):
        source = data
    else:
        raise PlanError("predict takes a dict of columns, an awkward record array, a pandas "
                        f"DataFrame or a numpy array, not {type(data).__name__}")
    missing = [c for c in inputs if c not in source]
    if missing:
        raise PlanError(f"the model needs column(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for name in inputs:
        value = source[name]
        if name in jagged:
            out[name] = value if isinstance(value, ak.Array) else ak.Array(
                [np.asarray(v).tolist() for v in value])
        else:
            out[name] = np.asarray(ak.to_numpy(value) if isinstance(value, ak.Array)
                                   else value)
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise PlanError("the input columns have different numbers of events")
    return out, lengths.pop() if lengths else 0


def encode_arrow(columns: Mapping[str, Any], jagged: set[str]) -> bytes:
    """An Arrow IPC stream: flat columns as numbers, jagged ones as list columns."""
    import awkward as ak
    import pyarrow as pa

    arrays = {}
    for name, value in columns.items():
        if name in jagged:
            counts = np.asarray(ak.to_numpy(ak.num(value, axis=1)), dtype=np.int64)
            content = np.asarray(ak.to_numpy(ak.flatten(value, axis=1)), dtype=np.float64)
            offsets = np.zeros(len(counts) + 1, np.int64)
            np.cumsum(counts, out=offsets[1:])
            arrays[name] = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(content))
        else:
            arrays[name] = pa.array(np.ascontiguousarray(value))
    table = pa.table(arrays)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def encode_json(columns: Mapping[str, Any], jagged: set[str]) -> bytes:
    import awkward as ak

    data = {name: (ak.to_list(value) if name in jagged else np.asarray(value).tolist())
            for name, value in columns.items()}
    return json.dumps({"inputs": data}, separators=(",", ":")).encode()


def decode_predictions(body: bytes, content_type: str) -> np.ndarray:
    """The predictions of a response body (JSON, Arrow stream or .npy)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == ARROW:
        import pyarrow as pa

        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        if table.column_names == ["score"]:
            return np.asarray(table.column("score").to_numpy(), dtype=np.float32)
        return np.stack([table.column(c).to_numpy() for c in table.column_names],
                        axis=1).astype(np.float32)
    if kind == "application/x-npy":
        return np.asarray(np.load(io.BytesIO(body), allow_pickle=False))
    return np.array(json.loads(body)["predictions"], dtype=np.float32)


def archive_folder(folder: Path) -> bytes:
    """A tar.gz of a bundle folder's regular files, at the archive's top level."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


# -- a served model inside a graph -------------------------------------------------------------


def split_model_url(url: str) -> tuple[str, str]:
    """``https://host/prefix/v1/models/NAME[:predict]`` -> (``https://host/prefix``, NAME)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    marker = "/v1/models/"
    if marker not in path:
        raise PlanError(f"{url!r} is not a model URL (…/v1/models/<name>)")
    prefix, name = path.rsplit(marker, 1)
    name = name.removesuffix(":predict")
    if not name or "/" in name:
        raise PlanError(f"{url!r} does not end in a model name")
    return f"{parts.scheme}://{parts.netloc}{prefix}", name


class RemoteModel:
    """A served model as a column function: ``df.Define("score", model, model.columns)``.

    `token` may be a callable (called for each request, so a refreshed token is
    used) or None, to read ``$HEPFLOW_SERVE_TOKEN`` where the call runs (on a
    Dask worker, the worker's environment): a token string given here travels
    inside the task graph.
    """

    def __init__(self, url: str, token: Token = None, *, batch_rows: int = 10_000,
                 timeout: float = 120.0, verify: bool | str = True) -> None:
        self.url = url
        self.base, self.name = split_model_url(url)
        self.token = token
        self.batch_rows = batch_rows
        self.timeout = timeout
        self.verify = verify
        self._columns: tuple[str, ...] | None = None
        self._client: Client | None = None

    def _get_client(self) -> Client:
        if self._client is None:
            self._client = Client(self.base, self.token, timeout=self.timeout,
                                  batch_rows=self.batch_rows, verify=self.verify)
        return self._client

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw input columns the model reads (asked from the server once)."""
        if self._columns is None:
            self._columns = tuple(self._get_client().model(self.name)["inputs"])
        return self._columns

    def __call__(self, *columns: Any) -> np.ndarray:
        names = self.columns
        if len(columns) != len(names):
            raise PlanError(f"{self.name} reads {len(names)} columns ({', '.join(names)}), "
                             f"got {len(columns)}")
        return self._get_client().predict(self.name, dict(zip(names, columns, strict=True)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        return state

    def __repr__(self) -> str:
        return f"RemoteModel({self.url!r})"


def remote_model(url: str, token: Token = None, *, batch_rows: int = 10_000,
                 timeout: float = 120.0, verify: bool | str = True) -> Any:
    """`RemoteModel` for ``https://host/v1/models/NAME``; a `V2Model` for a V2 URL.

    V2 URLs (``http(s)://host/v2/models/NAME``, ``grpc://host:port/v2/models/NAME``)
    reach any Open Inference Protocol server: `hepflow serve` or Triton.
    """
    if url.startswith("grpc://") or "/v2/models/" in urlsplit(url).path:
        from hepflow.serve.v2client import V2Model

        return V2Model(url, token, batch_rows=batch_rows, timeout=timeout, verify=verify)
    return RemoteModel(url, token, batch_rows=batch_rows, timeout=timeout, verify=verify)


__all__ = ["Client", "RemoteModel", "ServeClientError", "archive_folder", "decode_predictions",
           "encode_arrow", "encode_json", "remote_model", "split_model_url", "to_columns"]
