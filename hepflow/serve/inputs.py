"""Request bodies -> raw feature columns, and predictions -> response bodies.

A request names the model's *raw* input columns (``MET_pt``, ``Jet_pt``...),
never the prepared matrix: the server applies the bundle's own padding,
masks and normalisation, so a caller cannot get them subtly wrong.

Three body formats carry the same thing:

* JSON row-wise, ``{"instances": [{"MET_pt": 41.2, "Jet_pt": [50.1, 32.0]}, ...]}``;
* JSON columnar, ``{"inputs": {"MET_pt": [41.2, ...], "Jet_pt": [[50.1, 32.0], ...]}}``;
* Arrow IPC stream (``application/vnd.apache.arrow.stream``): one column per
  input, numeric, jagged ones as list columns; and NumPy ``.npy``
  (``application/x-npy``) for models with flat inputs only: a structured array
  with a field per column, or an (n, columns) matrix in the model's column order.

Everything is checked here, per request and with numpy (no per-value Python
work beyond what JSON decoding itself costs), so that one bad request is
answered 4xx on its own and cannot fail the micro-batch it would have joined.
The checked columns (`RawBatch`) are then stacked with other requests' and
prepared once per model call.
"""

from __future__ import annotations

import io
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.errors import did_you_mean
from hepflow.serve.errors import BadRequest, InputError, TooLarge, UnsupportedMediaType
from hepflow.serve.ipc import is_number, is_number_list, read_stream

JSON = "application/json"
ARROW = "application/vnd.apache.arrow.stream"
NPY = "application/x-npy"
CONTENT_TYPES = (JSON, ARROW, NPY)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What a model's requests must hold: flat columns and jagged groups of columns."""

    flat: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    allow_nan: bool = False
    max_rows: int = 1_000_000
    max_bytes: int = 64 * 2**20

    @property
    def columns(self) -> tuple[str, ...]:
        return self.flat + tuple(c for g in self.groups for c in g)

    @property
    def jagged(self) -> frozenset[str]:
        return frozenset(c for g in self.groups for c in g)

    @classmethod
    def of(cls, features: Any, *, allow_nan: bool, max_rows: int,
           max_bytes: int = 64 * 2**20) -> InputSpec:
        return cls(tuple(features.flat), tuple(tuple(g.columns) for g in features.jagged),
                   allow_nan, max_rows, max_bytes)


@dataclass(slots=True)
class RawBatch:
    """Checked raw columns of `rows` events: flat (n,) arrays, jagged (counts, content)."""

    rows: int
    flat: dict[str, np.ndarray]
    jagged: dict[str, tuple[np.ndarray, np.ndarray]]

    def columns(self) -> dict[str, Any]:
        """Columns as the bundle's feature preparation takes them (awkward for jagged)."""
        import awkward as ak

        out: dict[str, Any] = dict(self.flat)
        for name, (counts, content) in self.jagged.items():
            out[name] = ak.unflatten(content, counts)
        return out


def raw_inputs(features: Any, batch: RawBatch) -> tuple[np.ndarray, np.ndarray]:
    """(values (n, V), masks (n, M)) before normalisation, as `hepflow.ml.features.raw_inputs`.

    The same padding and clipping (first `length` entries, zeros in padded
    slots, one mask per jagged group), computed straight from the counts and
    contents the request checks produced. Why not call the training layer's
    version: it takes awkward arrays, and building and taking apart awkward
    arrays costs about 1 ms per call, five times the model call itself for a
    small batch. `hepflow.serve.registry` compares the two on every bundle it
    loads and uses the training layer's whenever they differ.
    """
    with np.errstate(over="ignore"):  # beyond float32 is refused, or infinite by allow_nan
        return _raw_inputs(features, batch)


def _raw_inputs(features: Any, batch: RawBatch) -> tuple[np.ndarray, np.ndarray]:
    n = batch.rows
    parts: list[np.ndarray] = [batch.flat[c].astype(np.float32, copy=False)[:, None]
                               for c in features.flat]
    masks: list[np.ndarray] = []
    for group in features.jagged:
        counts = batch.jagged[group.columns[0]][0]
        slots = np.arange(group.length, dtype=np.int64)
        mask = slots[None, :] < counts[:, None]
        index = (np.cumsum(counts) - counts)[:, None] + slots[None, :]
        taken = index[mask]
        for name in group.columns:
            content = batch.jagged[name][1]
            values = np.zeros((n, group.length), dtype=np.float32)
            if content.size:
                values[mask] = content[taken]
            parts.append(values)
        masks.append(mask)
    values = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0), np.float32)
    mask = np.concatenate(masks, axis=1) if masks else np.zeros((n, 0), np.bool_)
    return values, mask


def concat(batches: Sequence[RawBatch]) -> RawBatch:
    """One batch of the events of several, in order."""
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    flat = {k: np.concatenate([b.flat[k] for b in batches]) for k in first.flat}
    jagged = {k: (np.concatenate([b.jagged[k][0] for b in batches]),
                  np.concatenate([b.jagged[k][1] for b in batches])) for k in first.jagged}
    return RawBatch(sum(b.rows for b in batches), flat, jagged)


# -- checks shared by every format ----------------------------------------------------------


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _numeric(values: Any, name: str, allow_nan: bool) -> np.ndarray:
    """A 1-d float array from a list of numbers, refusing strings, nulls, nesting, NaN."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"`{name}`: values must be numbers") from None
    if arr.dtype.kind not in "biuf" or arr.ndim != 1:
        if arr.ndim > 1 or arr.dtype.kind == "O":
            raise InputError(f"`{name}`: expected one number per event"
                             + (" (a list per event is only for jagged columns)"
                                if arr.ndim > 1 else "; got lists, nulls or mixed types"))
        raise InputError(f"`{name}`: values must be numbers, got {arr.dtype.kind!r} data")
    out = arr if arr.dtype.kind == "f" else arr.astype(np.float64)
    if not allow_nan and out.size:
        if not np.isfinite(out).all():
            raise InputError(f"`{name}`: NaN or infinite values are not allowed")
        if out.itemsize > 4 and (out.max() > _FLOAT32_MAX or out.min() < -_FLOAT32_MAX):
            raise InputError(f"`{name}`: values beyond ±{_FLOAT32_MAX:.3g} are not allowed "
                             "(models compute in float32, where they would be infinite)")
    return out


def _check_names(spec: InputSpec, given: Sequence[str]) -> None:
    wanted = spec.columns
    unknown = [c for c in given if c not in wanted]
    if unknown:
        hint = did_you_mean(unknown[0], wanted)
        raise InputError(f"unknown feature `{unknown[0]}`"
                         + (f"; {hint}" if hint else "")
                         + f" (this model reads {', '.join(wanted)})")
    missing = [c for c in wanted if c not in given]
    if missing:
        raise InputError(f"missing feature(s) {', '.join(missing)}")


def _finish(spec: InputSpec, rows: int, flat: dict[str, np.ndarray],
            jagged: dict[str, tuple[np.ndarray, np.ndarray]]) -> RawBatch:
    for name, arr in flat.items():
        if arr.shape[0] != rows:
            raise InputError(f"`{name}` has {arr.shape[0]} values for {rows} events")
    for group in spec.groups:
        first = jagged[group[0]][0]
        if first.shape[0] != rows:
            raise InputError(f"`{group[0]}` has {first.shape[0]} lists for {rows} events")
        for name in group[1:]:
            if not np.array_equal(jagged[name][0], first):
                raise InputError(f"`{name}` and `{group[0]}` must have the same number of "
                                 "entries in every event (they are one collection)")
    return RawBatch(rows, flat, jagged)


def check_rows(spec: InputSpec, rows: int) -> None:
    if rows > spec.max_rows:
        raise TooLarge(f"{rows} events in one request; the limit is {spec.max_rows} "
                       "(split the input into batches; the Python client does)")


# -- JSON ---------------------------------------------------------------------------------


def _no_constants(name: str) -> float:
    raise BadRequest(f"{name} is not a JSON number; send finite numbers")


def _jagged_list(values: Any, name: str, allow_nan: bool) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(values, list) or not all(type(v) is list for v in values):
        raise InputError(f"`{name}` is jagged: give a list of numbers per event")
    counts = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    content = _numeric(list(itertools.chain.from_iterable(values)), name, allow_nan) \
        if counts.sum() else np.zeros(0, np.float64)
    return counts, content


def parse_json(body: bytes, spec: InputSpec) -> RawBatch:
    """A JSON body, row-wise (``instances``) or columnar (``inputs``)."""
    try:
        data = json.loads(body, parse_constant=None if spec.allow_nan else _no_constants)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest("the body nests lists or objects too deeply to be inputs") from None
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict) or len(data) != 1 or not ({"instances", "inputs"} & data.keys()):
        raise BadRequest('send {"instances": [{feature: value, ...}, ...]} or '
                         '{"inputs": {feature: [values], ...}}')
    if "instances" in data:
        instances = data["instances"]
        if not isinstance(instances, list) or not all(type(i) is dict for i in instances):
            raise BadRequest('"instances" must be a list of objects, one per event')
        check_rows(spec, len(instances))
        wanted = set(spec.columns)
        for instance in instances:
            if instance.keys() != wanted:
                _check_names(spec, list(instance))
        columns = {c: [i[c] for i in instances] for c in spec.columns}
        rows = len(instances)
    else:
        columns = data["inputs"]
        if not isinstance(columns, dict) or not all(isinstance(v, list)
                                                    for v in columns.values()):
            raise BadRequest('"inputs" must be an object of lists, one per feature')
        _check_names(spec, list(columns))
        rows = len(next(iter(columns.values()))) if columns else 0
        check_rows(spec, rows)
    jagged_names = spec.jagged
    flat = {c: _numeric(columns[c], c, spec.allow_nan) for c in spec.flat}
    jagged = {c: _jagged_list(columns[c], c, spec.allow_nan) for c in jagged_names}
    return _finish(spec, rows, flat, jagged)


# -- Arrow and npy -----------------------------------------------------------------------


def parse_arrow(body: bytes, spec: InputSpec) -> RawBatch:
    """An Arrow IPC stream: numeric columns, list<numeric> for jagged ones.

    The schema is checked before any batch is decoded, and every batch is
    fully validated (`hepflow.serve.ipc`) before a compute function or numpy
    view touches it; the counts and contents taken out are then checked
    against each other once more.
    """
    import pyarrow.compute as pc

    table = read_stream(body, lambda schema: _check_arrow_schema(spec, schema),
                        lambda rows: check_rows(spec, rows))
    rows = table.num_rows
    flat: dict[str, np.ndarray] = {}
    jagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in spec.columns:
        column = table.column(name)
        if column.null_count:
            raise InputError(f"`{name}` holds nulls; send numbers (NaN if the model allows)")
        if name in spec.jagged:
            array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            counts = np.asarray(pc.list_value_length(array), dtype=np.int64) if rows else \
                np.zeros(0, np.int64)
            values = pc.list_flatten(array)
            if values.null_count:
                raise InputError(f"`{name}`: list entries must be non-null numbers")
            content = _numeric(values.to_numpy(zero_copy_only=False), name, spec.allow_nan)
            if counts.size != rows or int(counts.sum()) != content.size or (counts < 0).any():
                raise BadRequest(f"`{name}`: the list lengths do not match its values")
            jagged[name] = (counts, content)
        else:
            flat[name] = _numeric(column.to_numpy(), name, spec.allow_nan)
    return _finish(spec, rows, flat, jagged)


def _check_arrow_schema(spec: InputSpec, schema: Any) -> None:
    """Names and types, from the stream's schema alone (before any batch is read)."""
    names = list(schema.names)
    if len(set(names)) != len(names):
        raise InputError("the Arrow table names a column more than once")
    _check_names(spec, names)
    for name in spec.columns:
        kind = schema.field(name).type
        if name in spec.jagged:
            if not is_number_list(kind):
                raise InputError(f"`{name}` is jagged: send a list column of numbers, got "
                                 f"{kind}")
        elif not is_number(kind):
            raise InputError(f"`{name}`: expected a numeric column, got {kind}")


def parse_npy(body: bytes, spec: InputSpec) -> RawBatch:
    """A ``.npy`` array: structured (a field per column) or (n, columns), flat models only."""
    if spec.groups:
        raise UnsupportedMediaType("this model has jagged inputs, which .npy cannot carry; "
                                   "send JSON or Arrow IPC")
    array = read_npy(body, spec)
    if array.dtype.names:
        if array.ndim != 1:
            raise InputError("a structured .npy array must be one-dimensional")
        _check_names(spec, list(array.dtype.names))
        flat = {c: _numeric(array[c], c, spec.allow_nan) for c in spec.flat}
        return _finish(spec, int(array.shape[0]), flat, {})
    if array.ndim != 2 or array.shape[1] != len(spec.flat):
        raise InputError(f"a plain .npy array must have shape (events, {len(spec.flat)}) with "
                         f"columns {', '.join(spec.flat)}; got {array.shape}")
    flat = {c: _numeric(array[:, i], c, spec.allow_nan) for i, c in enumerate(spec.flat)}
    return _finish(spec, int(array.shape[0]), flat, {})


def read_npy(body: bytes, spec: InputSpec) -> np.ndarray:
    """The array of a ``.npy`` body, a read-only view of it, checked before any allocation.

    Why not `np.load`: it allocates what the header declares, so a 100-byte
    body declaring shape (10**12, 2) or dtype ``<V1000000000`` raises
    `MemoryError` (or takes the memory). Here the header alone is parsed, the
    declared data size is compared with the size limit (413) and with the
    bytes actually present (400), object and void dtypes are refused, and
    only then is the array viewed in place.
    """
    from numpy.lib import format as npy

    stream = io.BytesIO(body)
    try:
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(stream)
        else:
            raise BadRequest(f".npy format version {version[0]}.{version[1]} is not read "
                             "here; save with numpy's default format (1.0 or 2.0)")
    except BadRequest:
        raise
    except Exception:  # noqa: BLE001 - numpy parses the header with the tokenizer and
        # ast.literal_eval, whose refusals of hostile text (TokenError, SyntaxError,
        # ValueError, RecursionError, ...) have no common base: all mean "not .npy"
        raise BadRequest("the body is not a .npy array") from None
    if dtype.hasobject:
        raise BadRequest("the .npy array holds Python objects; object arrays are refused")
    if dtype.itemsize == 0 or dtype.subdtype is not None or (dtype.kind == "V"
                                                             and not dtype.names):
        raise BadRequest(f"the .npy dtype {dtype.str} is not a number type or a record of "
                         "numbers")
    if any(n < 0 for n in shape):
        raise BadRequest(f"the .npy header declares a negative shape {shape}")
    count = math.prod(shape)
    declared = count * dtype.itemsize
    present = len(body) - stream.tell()
    if declared > spec.max_bytes:
        raise TooLarge(f"the .npy header declares {declared} bytes of data; the limit is "
                       f"{spec.max_bytes}")
    check_rows(spec, shape[0] if shape else 1)
    if declared != present:
        raise BadRequest(f"the .npy header declares {declared} bytes of data, but the body "
                         f"holds {present}")
    array = np.frombuffer(body, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def parse(body: bytes, content_type: str, spec: InputSpec) -> RawBatch:
    """Dispatch on the request's content type."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in (JSON, "") or kind.endswith("+json"):
        return parse_json(body, spec)
    if kind in (ARROW, "application/vnd.apache.arrow.file"):
        if kind.endswith(".file"):
            raise UnsupportedMediaType("send the Arrow IPC *stream* format "
                                       f"({ARROW}), not the file format")
        return parse_arrow(body, spec)
    if kind == NPY:
        return parse_npy(body, spec)
    raise UnsupportedMediaType(f"cannot read {kind!r}; send one of {', '.join(CONTENT_TYPES)}")


# -- responses ------------------------------------------------------------------------------


def wanted_format(accept: str | None) -> str:
    """The response format the client asked for (JSON unless it asked for binary)."""
    if accept:
        lowered = accept.lower()
        if ARROW in lowered:
            return ARROW
        if NPY in lowered:
            return NPY
    return JSON


def encode(predictions: np.ndarray, fmt: str, model: str, version: str) -> bytes:
    """The response body: JSON, an Arrow stream (``score`` or ``score_<i>``) or ``.npy``."""
    if fmt == ARROW:
        import pyarrow as pa

        if predictions.ndim == 1:
            table = pa.table({"score": predictions})
        else:
            table = pa.table({f"score_{i}": predictions[:, i]
                              for i in range(predictions.shape[1])})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())
    if fmt == NPY:
        buffer = io.BytesIO()
        np.save(buffer, predictions, allow_pickle=False)
        return buffer.getvalue()
    values = predictions.tolist()
    if not np.isfinite(predictions).all():
        values = _finite(values)
    return json.dumps({"model": model, "version": version, "predictions": values},
                      separators=(",", ":")).encode()


def _finite(values: Any) -> Any:
    if isinstance(values, list):
        return [_finite(v) for v in values]
    return values if values == values and abs(values) != float("inf") else None


__all__ = ["ARROW", "CONTENT_TYPES", "JSON", "NPY", "InputSpec", "RawBatch", "concat",
           "encode", "parse", "parse_arrow", "parse_json", "parse_npy",
           "raw_inputs", "wanted_format"]
