"""Compiled C++ bodies on disk: a new process (a new worker, the next `hepflow run`) loads
the kernel numba compiled before instead of compiling it again, and `run_info()` says how
long compiling took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hepflow
from hepflow.engine import kernelcache

BODY = "double s = 0; for (ULong64_t i = 0; i < rdfentry_ % 7; ++i) s += 0.5 * i; return s;"
# Entry e adds 0.5 * (0 + 1 + ... + (e % 7 - 1)): 0, 0, 0.5, 1.5, 3, 5, 7.5 for e % 7 = 0..6;
# 1000 entries are 142 such rounds (17.5 each) and the entries 994..999 (10).
EXPECTED = 142 * 17.5 + 10

PROGRAM = f"""
import json
import hepflow
import hepflow.engine.loopkernel as loopkernel

df = hepflow.RDataFrame(1000, client="sync")
first = df.Define("x", {BODY!r}).Sum("x")
value = first.GetValue()
second = df.Define("x", {BODY!r}).Sum("x")
second.GetValue()
stats = [kernel.stats for kernel in loopkernel._KERNELS.values()]
print(json.dumps({{"sum": value,
                   "compile": [first.run_info().compile_seconds,
                               second.run_info().compile_seconds],
                   "hits": sum(sum(s.cache_hits.values()) for s in stats),
                   "misses": sum(sum(s.cache_misses.values()) for s in stats)}}))
"""


def fresh_process(program: str, cache: Path) -> dict[str, Any]:
    """The JSON that `program` prints last, run in a new Python with `cache` as
    HEPFLOW_CACHE_DIR: a process that has compiled nothing yet, as a new worker."""
    env = {**os.environ, "HEPFLOW_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _process(cache: Path) -> dict[str, Any]:
    return fresh_process(PROGRAM, cache)


def test_the_next_process_loads_the_kernel_instead_of_compiling_it(tmp_path: Path) -> None:
    first = _process(tmp_path)
    assert first["sum"] == EXPECTED
    assert (first["misses"], first["hits"]) == (1, 0)  # numba compiled it
    compiled, again = first["compile"]  # type: ignore[misc]
    assert compiled > 0 and again == 0  # the same process keeps its kernel
    sources = list((tmp_path / "kernels").glob("hepflow_kernel_*.py"))
    assert len(sources) == 1
    assert sources[0].read_text().startswith("# A hepflow kernel, generated from a checked")

    second = _process(tmp_path)
    assert second["sum"] == EXPECTED
    assert (second["misses"], second["hits"]) == (0, 1)  # loaded from the disk cache
    assert list((tmp_path / "kernels").glob("hepflow_kernel_*.py")) == sources


def test_an_unwritable_cache_directory_only_costs_the_compilation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv("HEPFLOW_CACHE_DIR", str(blocked))
    body = BODY.replace("0.5", "0.25")
    summed = hepflow.RDataFrame(1000, client="sync").Define("x", body).Sum("x")
    assert summed.GetValue() == EXPECTED / 2
    assert summed.run_info().compile_seconds > 0
    assert not kernelcache.kernel_dir().exists()


def _fmix(x: int) -> int:
    mask = 2**64 - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_a_declared_functions_repeated_values_are_computed_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop-free helper is one expression with each local replaced by its value, which
    doubles at each line that reads a local twice; the kernel computes each repeated
    value once (the SplitMix64 constant of the first line appears once, not 8 times)."""
    monkeypatch.setenv("HEPFLOW_CACHE_DIR", str(tmp_path))
    hepflow.Declare("""
        ULong64_t kc_mix(ULong64_t x)
        {
           ULong64_t z = x + 0x9E3779B97F4A7C15ULL;
           z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
           z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
           return z ^ (z >> 31);
        }""")
    body = ("ULong64_t h = 0; for (ULong64_t i = 0; i < 3; ++i) h ^= kc_mix(rdfentry_ * 8 + i); "
            "return h;")
    mixed = hepflow.RDataFrame(50, client="sync").Define("h", body).AsNumpy(["h"])["h"]
    assert mixed.tolist() == [
        _fmix(8 * e) ^ _fmix(8 * e + 1) ^ _fmix(8 * e + 2) for e in range(50)]
    (source,) = (tmp_path / "kernels").glob("hepflow_kernel_*.py")
    assert source.read_text().count(str(0x9E3779B97F4A7C15)) == 1
