"""Damaged and hostile binary bodies (Arrow IPC, ``.npy``) against the real server.

The server runs in this process (uvicorn on 127.0.0.1), so a body that made
it read outside a buffer would crash the test run itself. First the known
attacks, one by one; then hypothesis mutates valid bodies (offsets, lengths,
buffer sizes, schema, header fields, bytes) and checks every answer against a
verdict reached independently here (pyarrow's full validation or numpy's own
loader after a size check, plus the model's schema): a valid body must get
200 with the bundle's own predictions, any other must get a 4xx, and nothing
may get a 5xx.

``HEPFLOW_FUZZ_EXAMPLES`` sets the number of mutated bodies per kind (250 by
default; the review's 10,000-body run is ``HEPFLOW_FUZZ_EXAMPLES=10000``).
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hepflow.serve.config import load_config
from hepflow.serve.testing import FLAT, JAGGED, LocalIssuer, events, running, xgboost_bundle

ARROW = "application/vnd.apache.arrow.stream"
NPY = "application/x-npy"
INPUTS = FLAT + JAGGED
MAX_ROWS = 1000
MAX_BODY = 1_000_000
EXAMPLES = int(os.environ.get("HEPFLOW_FUZZ_EXAMPLES", "250"))


@pytest.fixture(scope="module")
def bundles() -> dict[str, Any]:
    return {"bdt": xgboost_bundle(n=600, trees=4), "flat": xgboost_bundle(n=600, trees=4,
                                                                           jets=0)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: LocalIssuer,
           bundles: dict[str, Any]) -> Iterator[Any]:
    models: Path = tmp_path_factory.mktemp("models")
    for name, bundle in bundles.items():
        bundle.save(models / name)
    config = load_config(models=models, auth=issuer.auth_config(),
                         limits={"max_rows": MAX_ROWS, "max_body_bytes": MAX_BODY})
    with running(config) as server:
        yield server


@pytest.fixture(scope="module")
def http(server: Any, issuer: LocalIssuer) -> Iterator[httpx.Client]:
    token = issuer.token(["hepflow:predict"])
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        yield client


def post(http: httpx.Client, model: str, body: bytes, kind: str) -> httpx.Response:
    return http.post(f"/v1/models/{model}:predict", content=body,
                     headers={"Content-Type": kind})


# -- Arrow bodies ------------------------------------------------------------------------------

OFFSETS = [0, 2, 5, 10]


def arrow_body(table: pa.Table, *, compression: str | None = None,
               chunk: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    return bytes(sink.getvalue())


def jets_table(offsets: list[int]) -> pa.Table:
    jets = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                    pa.array(np.linspace(20.0, 80.0, 10, dtype=np.float32)))
    return pa.table({"MET_pt": [40.0, 50.0, 60.0], "HT": [100.0, 200.0, 300.0],
                     "Jet_pt": jets, "Jet_eta": jets})


def edited_offsets(new: list[int]) -> bytes:
    """A valid body whose ``list<float>`` offsets (both jet columns) are then rewritten."""
    body = arrow_body(jets_table(OFFSETS))
    old = np.asarray(OFFSETS, np.int32).tobytes()
    assert body.count(old) == 2
    return body.replace(old, np.asarray(new, np.int32).tobytes())


@pytest.mark.parametrize(("offsets", "why"), [
    ([-(2**30), 0, 5, 10], "negative offset"),  # was SIGSEGV
    ([-10, 0, 5, 10], "negative offset"),  # was 200 from 10 floats before the buffer
    ([0, 8, 2, 10], "non-monotonic"),  # was 200
    ([0, 2**30, 5, 10], "out of bounds"),  # was 200
    ([0, 2, 5, 50], "out of bounds"),  # was 500 (IndexError)
])
def test_edited_list_offsets_are_400(http: httpx.Client, offsets: list[int], why: str) -> None:
    answer = post(http, "bdt", edited_offsets(offsets), ARROW)
    assert answer.status_code == 400, answer.text
    assert "not a valid Arrow IPC stream" in answer.json()["message"]
    assert why in answer.json()["message"]
    assert post(http, "bdt", arrow_body(jets_table(OFFSETS)), ARROW).status_code == 200


def test_compressed_and_dictionary_arrow_bodies_are_refused(http: httpx.Client) -> None:
    """40 MB of zeros pack into a few kB: nothing is decompressed, so nothing explodes."""
    rows = 2_000_000
    empty = pa.ListArray.from_arrays(pa.array(np.zeros(rows + 1, np.int32)),
                                     pa.array([], pa.float64()))
    zeros = pa.table({"MET_pt": np.zeros(rows), "HT": np.zeros(rows), "Jet_pt": empty,
                      "Jet_eta": empty})
    bomb = arrow_body(zeros, compression="zstd")
    assert len(bomb) * 1000 < zeros.nbytes
    answer = post(http, "bdt", bomb, ARROW)
    assert answer.status_code == 400 and "compressed" in answer.json()["message"]
    small = arrow_body(jets_table(OFFSETS), compression="lz4")
    assert post(http, "bdt", small, ARROW).status_code == 400
    dictionary = jets_table(OFFSETS).set_column(0, "MET_pt",
                                                pa.array([1.0, 1.0, 2.0]).dictionary_encode())
    answer = post(http, "bdt", arrow_body(dictionary), ARROW)
    assert answer.status_code == 422 and "numeric column" in answer.json()["message"]


def test_many_batches_and_sliced_lists_are_read(http: httpx.Client,
                                                 bundles: dict[str, Any]) -> None:
    data = events(50, seed=3)
    columns = {"MET_pt": data["MET_pt"], "HT": data["HT"]}
    for name in JAGGED:
        columns[name] = pa.array(ak.to_list(data[name]), pa.list_(pa.float32()))
    table = pa.table(columns).slice(5, 40)
    answer = post(http, "bdt", arrow_body(table, chunk=7), ARROW)
    assert answer.status_code == 200, answer.text
    expected = bundles["bdt"].predict_columns(arrow_columns(table))
    np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-6)
    too_many_rows = pa.concat_tables([table] * 30)  # 1050 rows, in batches of 35
    answer = post(http, "bdt", arrow_body(too_many_rows, chunk=35), ARROW)
    assert answer.status_code == 413 and "limit is 1000" in answer.json()["message"]
    many = pa.concat_tables([table.slice(0, 1)] * 1100)
    answer = post(http, "bdt", arrow_body(many, chunk=1), ARROW)
    assert answer.status_code == 400 and "record batches" in answer.json()["message"]


def arrow_columns(table: pa.Table) -> dict[str, Any]:
    """Model columns of a *validated* table, as `Bundle.predict_columns` takes them."""
    out: dict[str, Any] = {}
    for name in INPUTS:
        column = table.column(name).combine_chunks()
        if name in JAGGED:
            counts = pc.list_value_length(column).to_numpy(zero_copy_only=False)
            values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
            out[name] = ak.unflatten(values.astype(np.float64), counts.astype(np.int64))
        else:
            out[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return out


def finite_in_float32(values: np.ndarray) -> bool:
    """Whether the values stay finite as float32, in which models compute."""
    wide = np.asarray(values, dtype=np.float64)
    return bool(np.isfinite(wide).all() and (np.abs(wide) <= np.finfo(np.float32).max).all())


def arrow_verdict(body: bytes) -> tuple[bool, dict[str, Any] | None]:
    """(valid, columns) of an Arrow body, decided without the server's code."""
    try:
        table = pa.ipc.open_stream(body).read_all()
        table.validate(full=True)
    except Exception:  # noqa: BLE001 - any refusal by pyarrow means invalid
        return False, None
    if sorted(table.column_names) != sorted(INPUTS) or table.num_rows > MAX_ROWS:
        return False, None
    if any(table.column(n).num_chunks > 1024 for n in INPUTS):
        return False, None
    counts = []
    for name in INPUTS:
        kind = table.column(name).type
        if name in JAGGED:
            listed = pa.types.is_list(kind) or pa.types.is_large_list(kind) or \
                pa.types.is_fixed_size_list(kind)
            if not listed:
                return False, None
            kind = kind.value_type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind)) or table.column(name).null_count:
            return False, None
    columns = arrow_columns(table)
    for name in INPUTS:
        column = table.column(name).combine_chunks()
        if name in JAGGED:
            if pc.list_flatten(column).null_count:
                return False, None
            counts.append(ak.to_numpy(ak.num(columns[name], axis=1)))
            values = ak.to_numpy(ak.flatten(columns[name], axis=1))
        else:
            values = columns[name]
        if not finite_in_float32(values):
            return False, None
    if not np.array_equal(counts[0], counts[1]):
        return False, None
    return True, columns


HOSTILE_INTS = st.one_of(
    st.sampled_from([-(2**31), -(2**30), -10, -1, 0, 1, 2, 3, 7, 8, 9, 10, 11, 2**30,
                     2**31 - 1, 2**32, 2**62]),
    st.integers(-(2**63), 2**63 - 1))


@st.composite
def arrow_tables(draw: st.DrawFn) -> pa.Table:
    """A valid input table of a few events, in one of several valid physical layouts."""
    rows = draw(st.integers(0, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(0, 4, rows)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    flat_type = draw(st.sampled_from([pa.float64(), pa.float32(), pa.int32()]))
    list_kind = draw(st.sampled_from(["list", "large_list"]))
    value_type = draw(st.sampled_from([pa.float32(), pa.float64()]))
    columns: dict[str, pa.Array] = {}
    for name in FLAT:
        columns[name] = pa.array(rng.uniform(0, 300, rows)).cast(flat_type, safe=False)
    for name in JAGGED:
        values = pa.array(rng.uniform(-3, 300, int(offsets[-1]))).cast(value_type)
        maker = pa.ListArray if list_kind == "list" else pa.LargeListArray
        width = pa.int32() if list_kind == "list" else pa.int64()
        columns[name] = maker.from_arrays(pa.array(offsets, width), values)
    return pa.table(columns)


@st.composite
def schema_variants(draw: st.DrawFn, table: pa.Table) -> pa.Table:
    """The table, or one with a column dropped, added, renamed, retyped or holding nulls."""
    how = draw(st.sampled_from(["same"] * 6 + ["drop", "extra", "rename", "string", "nested",
                                               "null", "null_entry", "nan", "dictionary",
                                               "duplicate"]))
    rows = table.num_rows
    if how == "drop":
        return table.drop_columns([draw(st.sampled_from(INPUTS))])
    if how == "extra":
        return table.append_column("extra", pa.array(np.ones(rows)))
    if how == "rename":
        return table.rename_columns([c.lower() for c in table.column_names])
    if how == "string":
        return table.set_column(0, "MET_pt", pa.array(["1"] * rows))
    if how == "nested":
        return table.set_column(2, "Jet_pt", pa.array([[[1.0]]] * rows))
    if how == "null" and rows:
        return table.set_column(1, "HT", pa.array([None] + [1.0] * (rows - 1), pa.float64()))
    if how == "null_entry" and rows:
        lists = [[None]] + [[1.0]] * (rows - 1)
        return table.set_column(2, "Jet_pt", pa.array(lists, pa.list_(pa.float64())))
    if how == "nan" and rows:
        return table.set_column(0, "MET_pt", pa.array([math.nan] * rows))
    if how == "dictionary":
        return table.set_column(0, "MET_pt", table.column(0).dictionary_encode())
    if how == "duplicate":
        return table.append_column("HT", table.column(1))
    return table


def _aligned_small(body: bytes, width: int) -> list[int]:
    """Positions of aligned integers small enough to be a length, count, offset or size."""
    fmt = "<i" if width == 4 else "<q"
    return [p for p in range(0, len(body) - width + 1, width)
            if 0 <= struct.unpack_from(fmt, body, p)[0] <= len(body)]


@st.composite
def mutated(draw: st.DrawFn, body: bytes, targets: list[tuple[bytes, int]]) -> bytes:
    """`body` with 0-3 edits: list offsets, lengths/sizes, bytes, cuts and additions.

    `targets` are (bytes, integer width) of known offset buffers, edited entry by entry.
    """
    data = bytearray(body)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["target", "int32", "int64", "byte", "cut", "append",
                                    "delete", "repeat"]))
        if how == "target" and targets:
            target, width = draw(st.sampled_from(targets))
            where = bytes(data).find(target)
            if where < 0:
                continue
            slot = draw(st.integers(0, len(target) // width - 1))
            value = draw(HOSTILE_INTS)
            packed = value.to_bytes(8, "little", signed=True)[:width]
            data[where + slot * width: where + (slot + 1) * width] = packed
        elif how in ("int32", "int64"):
            width = 4 if how == "int32" else 8
            places = _aligned_small(bytes(data), width)
            if not places:
                continue
            where = draw(st.sampled_from(places))
            value = draw(HOSTILE_INTS)
            data[where:where + width] = value.to_bytes(8, "little", signed=True)[:width]
        elif how == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[draw(st.integers(0, len(data))):]
        elif how == "append":
            data += draw(st.binary(max_size=64))
        elif how in ("delete", "repeat") and data:
            start = draw(st.integers(0, len(data) - 1))
            stop = draw(st.integers(start, min(len(data), start + 64)))
            if how == "delete":
                del data[start:stop]
            else:
                data[start:start] = data[start:stop]
    return bytes(data)


@st.composite
def arrow_cases(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(body, compressed): a valid table's body, maybe schema-changed, maybe mutated."""
    table = draw(schema_variants(draw(arrow_tables())))
    if draw(st.integers(0, 19)) == 0:
        compression = draw(st.sampled_from(["lz4", "zstd"]))
        return arrow_body(table, compression=compression), table.num_rows > 0  # else no batch
    body = arrow_body(table, chunk=draw(st.sampled_from([None, 2])))
    targets = []
    for name in JAGGED:
        if name in table.column_names:
            column = table.column(name)
            if column.num_chunks and (pa.types.is_list(column.type)
                                      or pa.types.is_large_list(column.type)):
                offsets = column.chunk(0).offsets.to_numpy()
                targets.append((offsets.tobytes(), offsets.itemsize))
    return draw(mutated(body, targets)), False


def check_answer(answer: httpx.Response, valid: bool, expected: Any,
                 statuses: Counter[int]) -> None:
    statuses[answer.status_code] += 1
    assert answer.status_code < 500, answer.text
    if not valid:
        assert 400 <= answer.status_code < 500, "an invalid body was answered " + answer.text
        return
    assert answer.status_code == 200, answer.text
    got = np.asarray([math.nan if v is None else v for v in answer.json()["predictions"]],
                     dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_fuzzed_arrow_bodies(http: httpx.Client, bundles: dict[str, Any]) -> None:
    statuses: Counter[int] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=EXAMPLES <= 1000, suppress_health_check=list(HealthCheck))
    @given(arrow_cases())
    def check(case: tuple[bytes, bool]) -> None:
        body, compressed = case
        answer = post(http, "bdt", body, ARROW)
        if compressed:
            statuses[answer.status_code] += 1
            assert 400 <= answer.status_code < 500, answer.text  # 400, or 422 for the schema
            return
        valid, columns = arrow_verdict(body)
        expected = None
        if valid and columns is not None:
            rows = len(columns["MET_pt"])
            expected = bundles["bdt"].predict_columns(columns) if rows else np.zeros(0)
        check_answer(answer, valid, expected, statuses)

    check()
    print(f"Arrow: {EXAMPLES} bodies, statuses {dict(sorted(statuses.items()))}")
    assert statuses[200] >= EXAMPLES // 20 and statuses[400] >= EXAMPLES // 10, statuses
    assert http.get("/healthz").status_code == 200


# -- .npy bodies -------------------------------------------------------------------------------


def npy_header(descr: Any, shape: tuple[int, ...], fortran: bool = False,
               version: tuple[int, int] = (1, 0)) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


@pytest.mark.parametrize(("body", "status", "words"), [
    (npy_header("<f8", (10**12, 2)) + bytes(16), 413, "declares 16000000000000 bytes"),
    (npy_header("<V1000000000", (1,)) + bytes(16), 400, "not a number type"),
    (npy_header("|O", (2, 2)) + bytes(16), 400, "object arrays are refused"),
    (npy_header("<f8", (3, 2)) + bytes(16), 400, "declares 48 bytes of data, but the body "
                                                 "holds 16"),
    (npy_header("<f8", (-1, 2)) + bytes(16), 400, "negative shape"),
    (npy_header("<f8", (100_000, 2)) + bytes(16), 413, "limit is 1000000"),
    (npy_header("<f8", (1, 2)) + bytes(64), 400, "body holds 64"),
    (b"\x93NUMPY\x03\x00" + bytes(40), 400, "version 3.0"),
    (b"\x93NUMPY\x01\x00\xff\xff{}" + bytes(16), 400, "not a .npy array"),
])
def test_npy_headers_are_checked_before_allocating(http: httpx.Client, body: bytes,
                                                   status: int, words: str) -> None:
    answer = post(http, "flat", body, NPY)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]


def test_npy_bodies_predict_like_the_bundle(http: httpx.Client,
                                            bundles: dict[str, Any]) -> None:
    data = events(40, seed=4)
    expected = bundles["flat"].predict_columns({c: data[c] for c in FLAT})
    matrix = np.stack([data[c] for c in FLAT], axis=1)
    records = np.zeros(40, dtype=[("HT", ">f4"), ("MET_pt", "<f8")])
    records["HT"], records["MET_pt"] = data["HT"], data["MET_pt"]
    for array in (matrix, np.asfortranarray(matrix), matrix.astype(">f8"), records):
        buffer = io.BytesIO()
        np.save(buffer, array)
        answer = post(http, "flat", buffer.getvalue(), NPY)
        assert answer.status_code == 200, answer.text
        tolerance = 1e-6 if array.dtype.names is None else 1e-5  # HT as float32
        np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=tolerance)


def npy_verdict(body: bytes) -> tuple[bool, dict[str, Any] | None]:
    """(valid, columns) of a .npy body: numpy reads it only once its size is known to fit."""
    from numpy.lib import format as npy

    stream = io.BytesIO(body)
    try:
        version = npy.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            return False, None
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read(stream)
    except Exception:  # noqa: BLE001 - numpy refusing the header means invalid
        return False, None
    if dtype.hasobject or dtype.itemsize == 0 or min(shape, default=0) < 0:
        return False, None
    if math.prod(shape) * dtype.itemsize != len(body) - stream.tell():
        return False, None
    array = np.load(io.BytesIO(body), allow_pickle=False)
    if array.dtype.names is not None:
        if array.ndim != 1 or sorted(array.dtype.names) != sorted(FLAT):
            return False, None
        columns = {c: array[c] for c in FLAT}
    elif array.ndim == 2 and array.shape[1] == len(FLAT):
        columns = {c: array[:, i] for i, c in enumerate(FLAT)}
    else:
        return False, None
    if len(array) > MAX_ROWS:
        return False, None
    for name, values in columns.items():
        if values.ndim != 1 or values.dtype.kind not in "biuf":
            return False, None
        columns[name] = values.astype(np.float64)
        if not finite_in_float32(columns[name]):
            return False, None
    return True, columns


DESCRS = st.sampled_from(["<f8", ">f8", "<f4", "<i8", "|b1", "<c16", "<U3", "|O",
                          "<V1000000000", "|V8", "<M8[s]", "<f2",
                          [("MET_pt", "<f8"), ("HT", "<f8")], [("HT", "<i4"), ("MET_pt", ">f4")],
                          [("MET_pt", "<f8")], [("MET_pt", "<f8"), ("HT", "<f8", (2,))],
                          [("MET_pt", "|O"), ("HT", "<f8")]])
SHAPES = st.one_of(st.tuples(st.integers(0, 6), st.sampled_from([2, 2, 2, 1, 3])),
                   st.tuples(st.integers(0, 6)), st.just(()),
                   st.tuples(st.sampled_from([10**12, 2**62, -1, 1001, 10**6]), st.just(2)))


@st.composite
def npy_cases(draw: st.DrawFn) -> bytes:
    """A valid .npy body, or one with a hostile header (shape, dtype, order, version), mutated."""
    rows = draw(st.integers(0, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    matrix = rng.uniform(0, 300, (rows, 2))
    if draw(st.booleans()):
        records = np.zeros(rows, dtype=[("MET_pt", "<f8"), ("HT", "<f8")])
        records["MET_pt"], records["HT"] = matrix[:, 0], matrix[:, 1]
        array: np.ndarray = records
    else:
        array = matrix if draw(st.booleans()) else np.asfortranarray(matrix)
    buffer = io.BytesIO()
    np.save(buffer, array)
    body = buffer.getvalue()
    if draw(st.integers(0, 2)) == 0:  # a header of its own, over the same data bytes
        header = npy_header(draw(DESCRS), draw(SHAPES), draw(st.booleans()),
                            draw(st.sampled_from([(1, 0), (2, 0)])))
        body = header + body[len(body) - array.nbytes:]
    return draw(mutated(body, []))


def test_fuzzed_npy_bodies(http: httpx.Client, bundles: dict[str, Any]) -> None:
    statuses: Counter[int] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=EXAMPLES <= 1000, suppress_health_check=list(HealthCheck))
    @given(npy_cases())
    def check(body: bytes) -> None:
        answer = post(http, "flat", body, NPY)
        valid, columns = npy_verdict(body)
        expected = None
        if valid and columns is not None:
            rows = len(columns["MET_pt"])
            expected = bundles["flat"].predict_columns(columns) if rows else np.zeros(0)
        check_answer(answer, valid, expected, statuses)

    check()
    print(f".npy: {EXAMPLES} bodies, statuses {dict(sorted(statuses.items()))}")
    assert statuses[200] >= EXAMPLES // 20 and statuses[400] >= EXAMPLES // 10, statuses
    assert http.get("/healthz").status_code == 200
