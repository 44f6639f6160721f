"""No damaged basket is ever read as data: every case is exact, or a ReadError that says where.

The cases (tests/corruption_cases.py) change basket header fields, flip bytes
of compressed payloads and of entry-offsets areas, and cut files short, in
ROOT-written files of every compression. Two kinds of damage no reader can
see are allowed to change values, never entry sizes: a flipped value byte of
an uncompressed basket (ROOT keeps no checksum of uncompressed data) and a
flipped byte of a ZSTD payload (ROOT writes ZSTD frames without their content
checksum; zlib, LZMA and LZ4 blocks carry one). All run in one subprocess so that a
segfault fails the test instead of the test run; if that process dies, each
case is rerun alone to name the one that crashed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "root640-extras-embedded-lz4.root": "LZ4",
    "uproot-HZZ.root": "ZLIB", "uproot-HZZ-lz4.root": "LZ4", "uproot-HZZ-lzma.root": "LZMA",
    "uproot-HZZ-zstd.root": "ZSTD", "uproot-HZZ-uncompressed.root": "uncompressed",
}
BRANCHES = ["NMuon", "Muon_Px", "MET_px"]


def _run(cases: list[dict], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(ROOT / "tests" / "corruption_cases.py")],
                          input=json.dumps(cases), capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def _cases() -> list[dict]:
    missing = [f for f in FILES if f.startswith("uproot") and not (REALDATA / f).exists()]
    if missing:
        pytest.skip(f"{REALDATA} (ROOT-written test files) lacks {missing}")
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from corruption_cases import make_cases
    finally:
        sys.path.pop(0)
    cases = [c for f in FILES if f.startswith("uproot")
             for c in make_cases(str(REALDATA / f), "events", BRANCHES)]
    extras = ROOT / "tests" / "data" / "root640-extras-embedded-lz4.root"  # std::vector, LZ4
    return cases + make_cases(str(extras), "Events", ["nMuon", "Muon_pt", "Track_pt"])


@pytest.mark.timeout(240)
def test_no_damaged_basket_gives_a_silent_difference_or_a_crash():
    cases = _cases()
    done = _run(cases, timeout=200)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        crashed = []
        for case in cases[len(results):]:
            alone = _run([case], timeout=60)
            if alone.returncode != 0:
                crashed.append((case["file"], case["branch"], case["what"], alone.returncode,
                                alone.stderr[-500:]))
        pytest.fail(f"the case process died ({done.returncode}); crashing cases: {crashed}")
    assert len(results) == len(cases)
    allowed = ("exact", "read_error", "one_value", "values_changed")
    bad = [r for r in results if r["outcome"] not in allowed]
    assert not bad, bad
    for r in results:
        if r["outcome"] == "read_error":
            text = r["message"]
            assert r["path"] in text and "entries" in text, text
            if r["what"].startswith("cut"):
                assert "cut short" in text, text
            else:
                assert f"branch {r['branch']!r}" in text, text
    by_outcome = {o: sum(r["outcome"] == o for r in results) for o in allowed}
    assert by_outcome["read_error"] > len(results) // 2, by_outcome
    for r in results:  # only bytes no checksum covers may change values, never sizes
        if r["outcome"] == "one_value":
            assert r["value_byte"], r  # a byte of an uncompressed basket's values
        if r["outcome"] == "values_changed":
            assert r["unchecked"] and FILES[r["file"]] == "ZSTD", r


def _damaged_hzz(tmp_path: Path, field: Callable[[bytes, int], int], delta: int,
                 ) -> tuple[Path, Path]:
    """(good, bad) copies of HZZ; in bad, the int32 at `field(data, seek)` of Muon_Px's first
    basket key is changed by `delta`."""
    import shutil
    import struct

    from hepflow.dataset import scan

    source = REALDATA / "uproot-HZZ.root"
    if not source.exists():
        pytest.skip(f"{REALDATA} (ROOT-written test files) is not there")
    good, bad = tmp_path / "good.root", tmp_path / "bad.root"
    shutil.copy(source, good)
    data = bytearray(source.read_bytes())
    at = field(bytes(data), scan.inspect_file(str(source), "events").layouts["Muon_Px"].seeks[0])
    (value,) = struct.unpack_from(">i", data, at)
    struct.pack_into(">i", data, at, value + delta)
    bad.write_bytes(bytes(data))
    return good, bad


def _f_last(data: bytes, seek: int) -> int:
    """Where a basket key's fLast lies: the last field before the flag byte."""
    import struct

    return seek + struct.unpack_from(">h", data, seek + 14)[0] - 5


def test_skip_policy_reports_a_damaged_basket_like_an_unreadable_chunk(tmp_path):
    import awkward as ak
    import numpy as np
    import uproot

    import hepflow

    good, bad = _damaged_hzz(tmp_path, _f_last, -4)  # the fLast - 4
    df = hepflow.RDataFrame("events", [str(good), str(bad)], client="sync",
                            read_policy="skip")
    total = df.Define("px", "Sum(Muon_Px)").Sum("px").GetValue()
    info = df._runner.last_run
    assert info is not None and len(info.failures) == 1 and not info.complete
    reason = info.failures[0].reason
    assert str(bad) in reason and "'Muon_Px', basket 0 (entries 0-" in reason, reason
    with uproot.open(good) as f:
        px = f["events"]["Muon_Px"].array()
    assert total == pytest.approx(float(np.sum(ak.to_numpy(ak.sum(px, axis=1)))), rel=1e-6)
    with pytest.raises(hepflow.ReadError, match="Muon_Px"):
        hepflow.RDataFrame("events", [str(bad)], client="sync").Sum("Muon_Px").GetValue()


def test_a_basket_only_uproot_reads_is_retried_and_the_run_report_says_so(tmp_path):
    """A key header whose fNbytes is off by one: the basket reader refuses it, uproot reads it
    exactly (it sizes baskets from the branch's table), and the report names the fallback."""
    import hepflow
    from hepflow.observe.events import LOCAL_RECORDS

    good, bad = _damaged_hzz(tmp_path, lambda data, seek: seek, 1)  # fNbytes, the first field

    def run(path: Path) -> tuple[float, hepflow.RunInfo]:
        df = hepflow.RDataFrame("events", str(path), client="sync")
        total = df.Define("px", "Sum(Muon_Px)").Sum("px").GetValue()
        info = df._runner.last_run
        assert info is not None and info.complete
        return total, info

    want, clean = run(good)
    got, retried = run(bad)
    assert got == want
    assert clean.metrics.read_paths == {"baskets": 1} and not clean.metrics.fallbacks
    assert retried.metrics.read_paths == {"uproot-retry": 1}
    (why,) = retried.metrics.fallbacks
    assert str(bad) in why and "'Muon_Px', basket 0" in why, why
    report = retried.to_dict()
    assert report["read_paths"] == {"uproot-retry": 1} and report["read_fallbacks"] == [why]
    assert "1 through uproot-retry" in str(retried)
    assert f"read through uproot-retry: {bad}" in str(retried)
    assert report["read_path_per_file"] == {str(bad): "uproot-retry"}
    assert clean.to_dict()["read_path_per_file"] == {str(good): "baskets"}
    assert LOCAL_RECORDS[-1].measured.read_paths == {"uproot-retry": 1}
    assert LOCAL_RECORDS[-1].to_dict()["measured"]["read_paths"] == {"uproot-retry": 1}
