"""Damaged copies of ROOT files, read by hepflow: run as a subprocess by tests/test_corruption.py.

Each case copies a file, changes bytes of one basket (a header field, a byte
of the compressed payload or of the entry-offsets area) or cuts the file
short, then reads every entry of a few branches through `read_chunk` with the
layouts preprocessing found in the undamaged file, sums them (a broken array
crashes there), and says what happened as one JSON line:

* ``exact``: the values are those of the undamaged file, bit for bit;
* ``read_error``: a `ReadError`, whose text must name the file, a branch and entries;
* ``one_value``: (uncompressed value bytes only) exactly the value holding the
  flipped byte differs: ROOT files carry no checksum of uncompressed data;
* ``values_changed``: (ZSTD payload bytes only) values differ but every entry
  keeps its size: ROOT writes ZSTD frames without their content checksum, so
  a flipped literal byte decompresses to other values that no reader can tell;
* ``different`` or ``exception``: what must never happen.

A segfault ends the process; the parent then finds the case by running each alone.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepflow.core.chunk import Chunk
from hepflow.dataset import scan
from hepflow.errors import ReadError
from hepflow.io import reader
from hepflow.io.policy import ReadOptions

_KEY = struct.Struct(">ihiIhh")


def _arrays_equal(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.dtype == want.dtype and \
            got.tobytes() == want.tobytes()
    if str(ak.Array(got).type) != str(ak.Array(want).type):
        return False
    if not np.array_equal(ak.num(got), ak.num(want)):
        return False
    a, b = ak.to_numpy(ak.flatten(got)), ak.to_numpy(ak.flatten(want))
    return bool(a.dtype == b.dtype and a.tobytes() == b.tobytes())


def _differing_values(got: Any, want: Any) -> int:
    """How many values differ, when the shapes agree; -1 when they do not."""
    if not isinstance(want, np.ndarray):
        if not np.array_equal(ak.num(got), ak.num(want)):
            return -1
        got, want = ak.to_numpy(ak.flatten(got)), ak.to_numpy(ak.flatten(want))
    if got.shape != want.shape:
        return -1
    return int((got.view(f"u{got.itemsize}") != want.view(f"u{want.itemsize}")).sum())


def _basket_header(data: bytes, seek: int) -> dict[str, int]:
    nbytes, _, objlen, _, keylen, _ = _KEY.unpack_from(data, seek)
    return {"nbytes": nbytes, "objlen": objlen, "keylen": keylen}


def make_cases(path: str, tree: str, branches: list[str]) -> list[dict[str, Any]]:
    """The damage to try on one file: header fields, payload and offset bytes, truncations."""
    info = scan.inspect_file(path, tree)
    data = Path(path).read_bytes()
    cases: list[dict[str, Any]] = []
    for name in branches:
        layout = info.layouts[name]
        free = [i for i, seek in enumerate(layout.seeks) if seek > 0]  # not in the TTree key
        for basket in sorted({free[0], free[-1]}):
            seek = layout.seeks[basket]
            head = _basket_header(data, seek)
            keylen = head["keylen"]
            last_at = seek + keylen - 5  # fLast, the last field before the flag byte
            fields = {"fLast-4": (last_at, ">i", -4), "fNbytes+1": (seek, ">i", 1),
                      "fNbytes-8": (seek, ">i", -8), "fObjlen+4": (seek + 6, ">i", 4),
                      "fObjlen-4": (seek + 6, ">i", -4), "fKeylen+2": (seek + 14, ">h", 2),
                      "fKeylen-2": (seek + 14, ">h", -2), "fNevBuf+1": (last_at - 4, ">i", 1),
                      "fNevBuf-1": (last_at - 4, ">i", -1)}
            for what, (at, fmt, delta) in fields.items():
                cases.append({"branch": name, "basket": basket, "what": what,
                              "add": [at, fmt, delta]})
            body = seek + keylen
            size = seek + head["nbytes"] - body
            compressed = head["nbytes"] - keylen != head["objlen"]
            spots = [0, 1, 3, 6, 9, 10, 17, size // 3, size // 2, size - 2, size - 1] \
                if compressed else [size // 4, size // 2]
            for k in sorted({s for s in spots if 0 <= s < size}):
                cases.append({"branch": name, "basket": basket, "what": f"payload byte {k}",
                              "flip": body + k, "value_byte": not compressed,
                              "unchecked": compressed and data[body:body + 2] == b"ZS"})
            if not compressed:
                border = struct.unpack_from(">i", data, last_at)[0] - keylen
                if border < head["objlen"]:  # the entry-offsets area, uncompressed
                    area = body + border
                    for k in (0, 4, 5, 8, 11, (head["objlen"] - border) // 2):
                        cases.append({"branch": name, "basket": basket,
                                      "what": f"offsets byte {k}", "flip": area + k})
        cases.append({"branch": name, "basket": 0, "what": "cut inside the basket",
                      "truncate": layout.seeks[0] + layout.nbytes[0] // 2})
    for case in cases:
        case["file"], case["tree"], case["branches"] = path, tree, branches
    return cases


def _damage(case: dict[str, Any], target: Path) -> None:
    data = bytearray(Path(case["file"]).read_bytes())
    if "add" in case:
        at, fmt, delta = case["add"]
        (value,) = struct.unpack_from(fmt, data, at)
        struct.pack_into(fmt, data, at, value + delta)
    elif "flip" in case:
        data[case["flip"]] ^= 0xFF
    else:
        del data[case["truncate"]:]
    target.write_bytes(bytes(data))


def run_case(case: dict[str, Any], workdir: Path, index: int) -> dict[str, Any]:
    """What reading the damaged copy gave (see the module docstring)."""
    tree, branches = case["tree"], case["branches"]
    info = scan.inspect_file(case["file"], tree)
    chunk = Chunk(0, 0, case["file"], tree, 0, info.num_entries, 0, info.uuid)
    want, _ = reader.read_chunk(chunk, branches, layout=(info.file_end, info.layouts))
    once = ReadOptions(retries=0)
    target = workdir / f"case{index}-{Path(case['file']).name}"
    shutil.copy(case["file"], target)
    _damage(case, target)
    damaged = Chunk(0, 0, str(target), tree, 0, info.num_entries, 0, info.uuid)
    out = {k: case.get(k, False) for k in ("branch", "basket", "what", "value_byte",
                                           "unchecked")}
    out["file"] = Path(case["file"]).name
    try:
        got, stats = reader.read_chunk(damaged, branches, once,
                                       layout=(info.file_end, info.layouts))
        for name in branches:  # a broken array crashes here, not later in an analysis
            float(ak.sum(got[name]))
    except ReadError as exc:
        out.update(outcome="read_error", message=str(exc), path=str(target))
        return out
    except Exception as exc:  # noqa: BLE001 - reported as a failure of the case
        out.update(outcome="exception", message=f"{type(exc).__name__}: {exc}")
        return out
    finally:
        reader.close_all()
    wrong = [n for n in branches if not _arrays_equal(got[n], want[n])]
    out["read_path"] = "+".join(stats.measured.read_paths)
    if not wrong:
        out["outcome"] = "exact"
    elif case.get("value_byte") and wrong == [case["branch"]] and \
            _differing_values(got[case["branch"]], want[case["branch"]]) == 1:
        out["outcome"] = "one_value"
    elif case.get("unchecked") and all(_differing_values(got[n], want[n]) >= 0
                                       for n in branches):
        out["outcome"] = "values_changed"
    else:
        out.update(outcome="different", message=f"branches {wrong} differ")
    return out


def main() -> None:
    cases = json.loads(sys.stdin.read())
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            print(json.dumps(run_case(case, Path(tmp), i)), flush=True)
            for old in Path(tmp).iterdir():
                old.unlink()


if __name__ == "__main__":
    main()
