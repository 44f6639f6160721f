"""s3:// files, through fsspec (s3fs), on a real S3 endpoint served on 127.0.0.1.

The endpoint is moto's S3 server, started as its own process for this module
and stopped after it; the sample files are uploaded to a bucket on it. The
workers of the module's LocalCluster find the endpoint and credentials the
way a user's do: the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ...), inherited when they start. Results are compared
with the eager uproot reading of the same local files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import hepflow
from hepflow.util.net import free_port

BUCKET = "hepflow-data"


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the S3 server did not listen on port {port} in {timeout} s")


@pytest.fixture(scope="module")
def s3(sample_files: list[str]) -> Iterator[list[str]]:
    """The sample files on a local S3 server, as s3:// URLs; the AWS variables point at it."""
    pytest.importorskip("s3fs")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                       "AWS_ACCESS_KEY_ID": "hepflow", "AWS_SECRET_ACCESS_KEY": "hepflow",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        _wait_for(port, proc)
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(BUCKET)
        urls = []
        for path in sample_files:
            fs.put_file(path, f"{BUCKET}/{Path(path).name}")
            urls.append(f"s3://{BUCKET}/{Path(path).name}")
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def s3_client(s3: list[str]) -> Iterator[object]:
    """Two process workers started after the AWS variables were set, so they inherit them."""
    import distributed

    from hepflow.cluster import local_cluster

    with local_cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def test_an_s3_glob_is_listed_on_the_server_and_read_on_the_cluster(
        s3: list[str], s3_client: object, eager: dict[str, ak.Array]) -> None:
    df = hepflow.RDataFrame("Events", f"s3://{BUCKET}/*.root", client=s3_client,
                            chunk_entries=5_000)
    assert [f.url for f in df._runner.prepared.files] == s3  # type: ignore[attr-defined]
    met = df.Sum("MET_pt")
    muons = df.Filter("nMuon >= 2").Histo1D(("pt", "pt", 50, 0, 100), "Muon_pt")
    count = df.Count()
    assert count.GetValue() == len(eager["MET_pt"])
    want = float(ak.sum(ak.values_astype(eager["MET_pt"], np.float64)))
    assert met.GetValue() == pytest.approx(want, rel=1e-12)
    chosen = ak.flatten(eager["Muon_pt"][eager["nMuon"] >= 2])
    ref = np.histogram(ak.to_numpy(chosen), bins=50, range=(0, 100))[0]
    assert np.array_equal(muons.GetValue().values(), ref)
    info = count.run_info()
    assert info.complete and info.metrics.bytes_compressed > 0
    assert info.metrics.read_paths == {"baskets": info.chunks}  # the fast path over S3 too


def test_a_missing_s3_replica_is_failed_over_and_a_missing_file_named(
        s3: list[str], eager: dict[str, ak.Array]) -> None:
    missing = f"s3://{BUCKET}/not-there.root"
    ds = hepflow.Dataset((hepflow.Sample("s", (hepflow.FileSpec((missing, s3[0])),)),))
    over = hepflow.RDataFrame(ds, client="sync", options=hepflow.Options(retries=1, backoff=0))
    total = over.Sum("MET_pt")
    n = over.Count()
    first = hepflow.RDataFrame("Events", s3[0], client="sync").Count().GetValue()
    assert n.GetValue() == first
    want = float(ak.sum(ak.values_astype(eager["MET_pt"][:first], np.float64)))
    assert total.GetValue() == pytest.approx(want, rel=1e-12)
    with pytest.raises(hepflow.ReadError, match=r"not-there\.root"):
        hepflow.RDataFrame("Events", missing, client="sync").Count().GetValue()
    with pytest.raises(hepflow.PlanError, match="no files match"):
        hepflow.RDataFrame("Events", f"s3://{BUCKET}/nothing-*.root", client="sync")


def test_a_replaced_s3_object_is_described_and_read_as_the_new_one(
        s3: list[str], sample_files: list[str], s3_client: object) -> None:
    """The preprocessing cache is keyed by the object's ETag: a new upload under the same key
    is described and read afresh (issue 26, item 3), in the same session and a new one."""
    import s3fs
    import uproot

    from hepflow.io.handles import close_all

    url = f"s3://{BUCKET}/replaced.root"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    seen = []
    for path in (sample_files[0], sample_files[1], sample_files[0]):
        with uproot.open(path) as f:
            met = f["Events"]["MET_pt"].array(library="np").astype(np.float64)
        fs.put_file(path, url[len("s3://"):])
        for where in (s3_client, "sync"):
            df = hepflow.RDataFrame("Events", url, client=where)
            n, total = df.Count(), df.Sum("MET_pt")
            assert n.GetValue() == len(met)
            assert total.GetValue() == pytest.approx(float(met.sum()), rel=1e-12)
            seen.append(total.GetValue())
        close_all()  # the next upload is found by a "new session" of this process too
    assert seen[0] != seen[2] and seen[0] == seen[4]
