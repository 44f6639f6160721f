"""Arrow IPC request bodies read message by message, each checked before anything uses it.

Why not ``pa.ipc.open_stream(body).read_all()``: the IPC reader checks only
that buffers lie inside the body. Offsets of a ``list<float>`` column are
taken as they are, so an edited offset makes ``list_flatten`` read memory
before or after the values buffer (wrong predictions, or a SIGSEGV that takes
the whole server down). Here every record batch gets Arrow's *full*
validation (offsets in bounds and monotonic, lengths consistent) before any
compute function or numpy view touches it.

Three more things are refused before they cost memory:

* compressed record batches: a body of 3 kB can declare 80 MB of zeros
  (LZ4/ZSTD), so a body under the size limit could make the server allocate
  terabytes; Arrow has no cap on the decompressed size, so compression is
  refused from the message's flatbuffer header, before Arrow decodes it;
* schemas with types a model input cannot have (dictionaries above all, whose
  delta batches can make memory grow with the square of the body size);
* more record batches than `MAX_BATCHES` (each costs far more memory than the
  bytes that describe it).
"""

from __future__ import annotations

import struct
from typing import Any

from hepflow.serve.errors import BadRequest, ServeError

#: Record batches one body may hold (the Python client sends one).
MAX_BATCHES = 1024

_RECORD_BATCH_COMPRESSION = 3  # field index of `compression` in the RecordBatch table
_MESSAGE_HEADER = 2  # field index of the `header` union value in the Message table


def is_number(kind: Any) -> bool:
    """Whether an Arrow type holds plain numbers (integers, floats or booleans)."""
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind))


def is_number_list(kind: Any) -> bool:
    """Whether an Arrow type is a list (of any offset width, or fixed size) of numbers."""
    import pyarrow as pa

    lists = (pa.types.is_list(kind) or pa.types.is_large_list(kind)
             or pa.types.is_fixed_size_list(kind))
    return bool(lists and is_number(kind.value_type))


def read_stream(body: bytes, check_schema: Any, check_rows: Any) -> Any:
    """The `pyarrow.Table` of an IPC stream body, fully validated.

    `check_schema(schema)` is called with the stream's schema before any
    record batch is read, so that a body with the wrong columns or types is
    refused before its data is decoded; `check_rows(rows)` with the rows so
    far before each batch is validated. The messages are then looked over
    (kinds, count, compression) without decoding them, and only then read by
    Arrow's own stream reader, batch by batch, each fully validated.
    """
    import pyarrow as pa

    source = pa.py_buffer(body)
    try:
        reader = pa.ipc.open_stream(source)
        check_schema(reader.schema)
        _check_messages(pa.ipc.MessageReader.open_stream(source))
        batches = []
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            check_rows(rows)
            batch.validate(full=True)
            batches.append(batch)
        return pa.Table.from_batches(batches, reader.schema)
    except ServeError:
        raise
    except (pa.ArrowException, ValueError, TypeError, OSError, EOFError, IndexError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise BadRequest(f"the body is not a valid Arrow IPC stream: {reason}") from None


def _check_messages(messages: Any) -> None:
    """A schema, then at most `MAX_BATCHES` uncompressed record batches: nothing else."""
    first = next(iter(messages), None)
    if first is None or first.type != "schema":
        raise BadRequest("the Arrow IPC stream does not start with a schema")
    count = 0
    for message in messages:
        if message.type != "record batch":
            raise BadRequest(f"unexpected {message.type} message in the Arrow IPC stream "
                             "(send plain record batches of numeric columns)")
        count += 1
        if count > MAX_BATCHES:
            raise BadRequest(f"more than {MAX_BATCHES} record batches in one body; send "
                             "fewer, larger batches")
        if _compressed(message.metadata.to_pybytes()):
            raise BadRequest("compressed Arrow IPC record batches are not accepted; "
                             "send them uncompressed")


# -- the few flatbuffer reads needed to see compression -------------------------------------


def _compressed(metadata: bytes) -> bool:
    """Whether a record batch message's flatbuffer metadata names a body compression.

    Message { version, header_type, header: RecordBatch, ... } and
    RecordBatch { length, nodes, buffers, compression, ... } (Arrow's
    format/Message.fbs): the compression field is present exactly when the
    body's buffers are compressed. Every read is bounds-checked; damaged
    metadata is a `BadRequest`.
    """
    message = _table(metadata, _u32(metadata, 0))
    header = _field(metadata, message, _MESSAGE_HEADER)
    if header is None:
        raise BadRequest("an Arrow IPC record batch message has no header")
    batch = _table(metadata, header + _u32(metadata, header))
    return _field(metadata, batch, _RECORD_BATCH_COMPRESSION) is not None


def _table(data: bytes, position: int) -> int:
    _u32(data, position)
    return position


def _field(data: bytes, table: int, index: int) -> int | None:
    """The absolute position of field `index` of the flatbuffer table at `table`, if present."""
    vtable = table - struct.unpack_from("<i", data, _checked(data, table, 4))[0]
    size = _u16(data, vtable)
    if 4 + 2 * index + 2 > size:
        return None
    offset = _u16(data, vtable + 4 + 2 * index)
    return table + offset if offset else None


def _u16(data: bytes, position: int) -> int:
    value: int = struct.unpack_from("<H", data, _checked(data, position, 2))[0]
    return value


def _u32(data: bytes, position: int) -> int:
    value: int = struct.unpack_from("<I", data, _checked(data, position, 4))[0]
    return value


def _checked(data: bytes, position: int, size: int) -> int:
    if not 0 <= position <= len(data) - size:
        raise BadRequest("the Arrow IPC message metadata is damaged")
    return position


__all__ = ["MAX_BATCHES", "is_number", "is_number_list", "read_stream"]
