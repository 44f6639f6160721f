"""hepflow's logs: retries and failovers in a worker's log, and `hepflow --version`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hepflow
from hepflow import Dataset, FileSpec, Sample


@pytest.mark.cluster
def test_a_missing_replica_is_logged_on_the_worker(sample_files: list[str], client: object,
                                                   tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "f.root", tmp_path / "b" / "f.root"
    for target in (first, second):
        target.parent.mkdir()
        shutil.copyfile(sample_files[0], target)
    ds = Dataset((Sample("s", (FileSpec((str(first), str(second))),)),))
    prepared = hepflow.preprocess(ds, chunk_entries=4_000)
    first.unlink()
    fast = hepflow.Options(retries=1, backoff=0.0)
    df = hepflow.RDataFrame(prepared, client=client, options=fast)
    count = df.Count()
    assert count.GetValue() == prepared.entries
    logs = "\n".join(line for records in client.get_worker_logs().values()  # type: ignore[attr-defined]
                     for _, line in records)
    chunk = prepared.chunks[0]
    where = f"{first} entries [{chunk.entry_start}, {chunk.entry_stop})"
    assert f"hepflow.io.failover - WARNING - retrying {where} (attempt 2 of 2)" in logs
    assert f"failing over to replica {second} for {where}" in logs


def test_version_names_hepflow_and_dask() -> None:
    import dask
    import distributed

    out = subprocess.run([sys.executable, "-m", "hepflow.cli", "--version"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == (f"hepflow {hepflow.__version__} (dask {dask.__version__}, "
                                  f"distributed {distributed.__version__})")
