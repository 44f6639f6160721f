"""Open Inference Protocol (KServe V2) tensors <-> the checked raw columns of a request.

How a bundle's features become V2 tensors (the model metadata says the same):

* a flat feature ``MET_pt`` is one tensor of shape ``[n]`` or ``[n, 1]``;
* a jagged column ``Jet_pt`` is a padded tensor ``[n, width]``, and its
  collection has one integer tensor ``Jet:count`` of shape ``[n]`` (the valid
  entries of each row, at most `width`). The metadata advertises the bundle's
  own length as the width; any width works, as the server pads and clips to
  that length itself. (``:`` cannot occur in a ROOT column name, so the count
  tensor never shadows a feature.)

Everything a hostile body can get wrong is checked here before any array is
built from it: names (unknown, missing, twice), datatypes (numeric only),
shapes (non-negative integers, rows within the row limit, declared size
within the byte limit), and, for binary tensors, that shape times element size is
exactly the bytes present and that the binary sizes add up to the body. The
values then go through the same checks as V1's (`hepflow.serve.inputs`:
numbers only, no NaN unless allowed, float32 range).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.errors import did_you_mean
from hepflow.serve.errors import BadRequest, InputError, TooLarge
from hepflow.serve.inputs import InputSpec, RawBatch, _finish, _numeric, check_rows

#: V2 datatype name -> little-endian numpy dtype (the numeric ones; BYTES/BOOL/BF16 refused).
DATATYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code) for name, code in (
        ("UINT8", "<u1"), ("UINT16", "<u2"), ("UINT32", "<u4"), ("UINT64", "<u8"),
        ("INT8", "<i1"), ("INT16", "<i2"), ("INT32", "<i4"), ("INT64", "<i8"),
        ("FP16", "<f2"), ("FP32", "<f4"), ("FP64", "<f8"))}

OUTPUT = "score"
HEADER_LENGTH = "inference-header-content-length"


def count_name(group: Any) -> str:
    """The count tensor of a jagged collection: ``<collection>:count``."""
    return f"{group.name}:count"


@dataclass(frozen=True, slots=True)
class Tensor:
    """One checked input tensor: its name, datatype and array of its declared shape."""

    name: str
    datatype: str
    array: np.ndarray


def input_metadata(features: Any) -> list[dict[str, Any]]:
    """The ``inputs`` of the model metadata: every feature, then each collection's count."""
    out: list[dict[str, Any]] = [{"name": c, "datatype": "FP32", "shape": [-1]}
                                 for c in features.flat]
    for group in features.jagged:
        out += [{"name": c, "datatype": "FP32", "shape": [-1, group.length]}
                for c in group.columns]
        out.append({"name": count_name(group), "datatype": "INT64", "shape": [-1]})
    return out


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 2 or not all(
            type(d) is int and d >= 0 for d in value):
        raise BadRequest(f"input `{name}`: shape must be a list of one or two non-negative "
                         f"integers, got {value!r}")
    return tuple(value)


def _datatype(value: Any, name: str) -> np.dtype[Any]:
    dtype = DATATYPES.get(value) if isinstance(value, str) else None
    if dtype is None:
        raise InputError(f"input `{name}`: datatype {value!r} is not served; use one of "
                         f"{', '.join(DATATYPES)}")
    return dtype


def declared(name: str, datatype: Any, shape: Any, spec: InputSpec
             ) -> tuple[tuple[int, ...], np.dtype[Any], int, int]:
    """(shape, dtype, values, bytes) an input declares, each checked against the limits."""
    dims = _shape(shape, name)
    dtype = _datatype(datatype, name)
    check_rows(spec, dims[0])
    count = math.prod(dims)
    size = count * dtype.itemsize
    if size > spec.max_bytes:
        raise TooLarge(f"input `{name}` declares {size} bytes; the limit is {spec.max_bytes}")
    return dims, dtype, count, size


def json_values(data: Any, name: str, datatype: str, count: int) -> np.ndarray:
    """The flattened values of a JSON ``data`` list, checked against the datatype."""
    if not isinstance(data, list):
        raise BadRequest(f"input `{name}`: data must be a list of numbers")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"input `{name}`: data must be numbers, nested evenly") from None
    if arr.dtype.kind not in "iuf" or (arr.size and arr.dtype.kind == "f"
                                       and not datatype.startswith("FP")):
        raise InputError(f"input `{name}`: data must be {datatype} numbers")
    if arr.size != count:
        raise InputError(f"input `{name}`: the shape holds {count} values, data has "
                         f"{arr.size}")
    return arr.reshape(-1)


def read_request(body: bytes, header_length: str | None, spec: InputSpec
                 ) -> tuple[dict[str, Any], list[Tensor]]:
    """(the request's JSON header, its checked input tensors) from a V2 infer body."""
    binary = b""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            raise BadRequest("Inference-Header-Content-Length is not a number") from None
        if not 0 < length <= len(body):
            raise BadRequest(f"Inference-Header-Content-Length is {length}, but the body "
                             f"holds {len(body)} bytes")
        body, binary = body[:length], body[length:]
    try:
        request = json.loads(body)
    except RecursionError:
        raise BadRequest("the request nests lists or objects too deeply") from None
    except ValueError:
        raise BadRequest("the inference header is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise BadRequest('send {"inputs": [{"name": ..., "shape": [...], "datatype": ..., '
                         '"data": [...]}, ...]}')
    tensors: list[Tensor] = []
    offset = 0
    for item in request["inputs"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest("every input must be an object with a name")
        name = item["name"]
        shape, dtype, count, size = declared(name, item.get("datatype"), item.get("shape"),
                                             spec)
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise BadRequest(f"input `{name}`: parameters must be an object")
        if "binary_data_size" in params:
            given = params["binary_data_size"]
            if type(given) is not int or given < 0:
                raise BadRequest(f"input `{name}`: binary_data_size must be a non-negative "
                                 "integer")
            if "data" in item:
                raise BadRequest(f"input `{name}` has both data and binary_data_size")
            if given != size:
                raise BadRequest(f"input `{name}`: shape {list(shape)} of {item['datatype']} "
                                 f"is {size} bytes, but binary_data_size is {given}")
            if offset + given > len(binary):
                raise BadRequest(f"input `{name}`: the body holds {len(binary) - offset} "
                                 f"binary bytes, fewer than its {given}")
            values = np.frombuffer(binary, dtype=dtype, count=count, offset=offset)
            offset += given
        else:
            values = json_values(item.get("data"), name, item["datatype"], count)
        tensors.append(Tensor(name, item["datatype"], values.reshape(shape)))
    if offset != len(binary):
        raise BadRequest(f"the body holds {len(binary) - offset} binary bytes that no input "
                         "claims")
    return request, tensors


def to_batch(tensors: list[Tensor], spec: InputSpec, features: Any) -> RawBatch:
    """The raw columns of the checked tensors, as V1 requests give them."""
    by_name: dict[str, Tensor] = {}
    for tensor in tensors:
        if tensor.name in by_name:
            raise InputError(f"input `{tensor.name}` is given twice")
        by_name[tensor.name] = tensor
    wanted = list(spec.flat)
    for group in features.jagged:
        wanted += [*group.columns, count_name(group)]
    unknown = [n for n in by_name if n not in wanted]
    if unknown:
        hint = did_you_mean(unknown[0], wanted)
        raise InputError(f"unknown input `{unknown[0]}`" + (f"; {hint}" if hint else "")
                         + f" (this model reads {', '.join(wanted)})")
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise InputError(f"missing input(s) {', '.join(missing)}")
    rows = by_name[wanted[0]].array.shape[0]
    flat = {c: _numeric(_column(by_name[c], rows), c, spec.allow_nan) for c in spec.flat}
    jagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for group in features.jagged:
        counts = _counts(by_name[count_name(group)], rows)
        for c in group.columns:
            padded = by_name[c].array
            if padded.ndim != 2 or padded.shape[0] != rows:
                raise InputError(f"input `{c}` is jagged: send shape [{rows}, width], got "
                                 f"{list(padded.shape)}")
            if counts.size and int(counts.max()) > padded.shape[1]:
                raise InputError(f"`{count_name(group)}` counts up to {int(counts.max())} "
                                 f"entries, but `{c}` is only {padded.shape[1]} wide")
            mask = np.arange(padded.shape[1])[None, :] < counts[:, None]
            jagged[c] = (counts, _numeric(padded[mask], c, spec.allow_nan))
    return _finish(spec, rows, flat, jagged)


def _column(tensor: Tensor, rows: int) -> np.ndarray:
    arr = tensor.array
    if arr.shape[0] != rows or (arr.ndim == 2 and arr.shape[1] != 1):
        raise InputError(f"input `{tensor.name}`: expected shape [{rows}] or [{rows}, 1], got "
                         f"{list(arr.shape)}")
    return arr.reshape(-1)


def _counts(tensor: Tensor, rows: int) -> np.ndarray:
    if tensor.datatype.startswith("FP"):
        raise InputError(f"input `{tensor.name}` counts entries: send an integer datatype")
    counts = _column(tensor, rows)
    if counts.size and counts.min() < 0:
        raise InputError(f"input `{tensor.name}`: counts must not be negative")
    return counts.astype(np.int64)


def wants_binary(request: dict[str, Any]) -> bool:
    """Whether the response's scores go as a binary tensor (tritonclient asks so by default)."""
    params = request.get("parameters")
    if isinstance(params, dict) and params.get("binary_data_output") is True:
        return True
    outputs = request.get("outputs")
    if outputs is None:
        return False
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequest("outputs must be a list of objects")
    for output in outputs:
        if output.get("name") != OUTPUT:
            raise InputError(f"unknown output {output.get('name')!r}; this model answers "
                             f"{OUTPUT!r}")
    return any(isinstance(o.get("parameters"), dict)
               and o["parameters"].get("binary_data") is True for o in outputs)


def response(request: dict[str, Any], model: str, version: str, scores: np.ndarray
             ) -> tuple[bytes, int | None]:
    """(body, JSON header length if binary) of the infer response."""
    scores = np.ascontiguousarray(scores, dtype="<f4")
    output: dict[str, Any] = {"name": OUTPUT, "datatype": "FP32", "shape": list(scores.shape)}
    binary = wants_binary(request)
    if binary:
        output["parameters"] = {"binary_data_size": scores.nbytes}
    else:
        output["data"] = [v if math.isfinite(v) else None for v in scores.reshape(-1).tolist()]
    head: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": [output]}
    if isinstance(request.get("id"), str):
        head["id"] = request["id"]
    text = json.dumps(head, separators=(",", ":")).encode()
    if not binary:
        return text, None
    return text + scores.tobytes(), len(text)


__all__ = ["DATATYPES", "HEADER_LENGTH", "OUTPUT", "Tensor", "count_name", "declared",
           "input_metadata", "json_values",
           "read_request", "response", "to_batch", "wants_binary"]
