"""Analyses over real XRootD servers: equality with local reads, failover, failures."""

from __future__ import annotations

import shutil
import threading
import time

import awkward as ak
import numpy as np
import pytest

import hepflow
from hepflow import Dataset, FileSpec, Sample
from hepflow.testing import FAST_FAIL_CLIENT_SETTINGS, Sites, client_settings, xrootd_available

pytestmark = [
    pytest.mark.xrootd,
    pytest.mark.cluster,
    pytest.mark.skipif(not xrootd_available(), reason="Debian's xrootd-server is not installed"),
]


@pytest.fixture(scope="module")
def site_files(tmp_path_factory):
    from hepflow.samples import make_sample

    base = tmp_path_factory.mktemp("xrd")
    files = make_sample(base / "store", events=24_000, files=3, seed=31, basket_entries=2_000,
                        extra_branches=5)
    other = make_sample(base / "impostor", events=24_000, files=3, seed=99,
                        basket_entries=2_000, extra_branches=5)
    return base, [p.name for p in files], other


@pytest.fixture(scope="module")
def xrd_client():
    """A cluster whose workers fail fast against dead servers (set before they start)."""
    import distributed

    with client_settings(FAST_FAIL_CLIENT_SETTINGS), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def sites(site_files):
    base, _, _ = site_files
    with Sites.replicas(base / "store", 2) as s:
        yield s


def _dimuon(df):
    from hepflow.demo import dimuon

    return dimuon(df)


def _replicated(sites, names, sample="dy"):
    files = tuple(FileSpec(tuple(server.url(name) for server in sites.servers))
                  for name in names)
    return Dataset((Sample(sample, files, {"xsec": 1.0}),))


def test_remote_analysis_equals_local(site_files, sites, xrd_client):
    base, names, _ = site_files
    remote = hepflow.RDataFrame("Events", [sites.servers[0].url(n) for n in names],
                                client=xrd_client, chunk_entries=4_000)
    local = hepflow.RDataFrame("Events", [str(base / "store" / n) for n in names],
                               client="sync", chunk_entries=4_000)
    (h_r, n_r, rep_r), (h_l, n_l, rep_l) = _dimuon(remote), _dimuon(local)
    assert n_r.GetValue() == n_l.GetValue() > 0
    assert np.array_equal(h_r.GetValue().values(flow=True), h_l.GetValue().values(flow=True))
    assert [(c.all, c.passed) for c in rep_r.GetValue()] == \
        [(c.all, c.passed) for c in rep_l.GetValue()]
    info = n_r.run_info()
    assert info.complete and info.metrics.bytes_compressed > 0


def test_server_stopped_mid_run_fails_over_to_replica(site_files, sites, xrd_client):
    base, names, _ = site_files
    ds = _replicated(sites, names)
    local = hepflow.RDataFrame("Events", [str(base / "store" / n) for n in names],
                               client="sync", chunk_entries=2_000)
    expected = local.Filter("nMuon >= 1").Take("event").GetValue()

    def slow(pt: ak.Array) -> ak.Array:
        time.sleep(0.2)
        return ak.num(pt, axis=1)

    df = hepflow.RDataFrame(ds, client=xrd_client, chunk_entries=2_000)
    sel = df.Define("nmu", slow, ["Muon_pt"]).Filter("nmu >= 1", "muon")
    events = sel.Take("event")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            events.GetValue()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        if sum(1 for k in xrd_client.who_has() if "hepflow-chunk" in str(k)) >= 2:
            break
        time.sleep(0.05)
    sites.servers[0].stop()
    thread.join(120)
    assert not failures, failures
    assert events.GetValue().tolist() == expected.tolist()
    info = events.run_info()
    assert info.complete and info.entries_processed == 24_000


def test_no_replica_left_raises_or_reports(site_files, sites, xrd_client):
    _, names, _ = site_files
    only_first = Dataset((Sample("dy", tuple(FileSpec((sites.servers[0].url(n),))
                                             for n in names)),))
    prepared = hepflow.preprocess(only_first, xrd_client, chunk_entries=4_000)
    sites.servers[0].stop()
    opts = hepflow.Options(retries=1, backoff=0.05)
    with pytest.raises(hepflow.ReadError) as info:
        hepflow.RDataFrame(prepared, client=xrd_client, options=opts).Sum("MET_pt").GetValue()
    message = str(info.value)
    assert "root://127.0.0.1" in message and "Connection error" in message
    assert any(f"entries {c.entry_start}-{c.entry_stop} of {c.url}" in message
               for c in prepared.chunks)
    skip = hepflow.RDataFrame(prepared, client=xrd_client,
                              options=hepflow.Options(read_policy="skip", retries=0))
    count = skip.Sum("MET_pt")
    assert count.GetValue() == 0
    report = count.run_info()
    assert [f.chunk for f in report.failures] == list(prepared.chunks)
    assert report.per_sample == {"dy": (24_000, 0)}
    assert report.failed_dataset().files[0][1].entry_start == 0


def test_truncated_remote_file_is_named(site_files, xrd_client, tmp_path):
    base, names, _ = site_files
    served = tmp_path / "served"
    served.mkdir()
    data = (base / "store" / names[0]).read_bytes()
    (served / "truncated.root").write_bytes(data[: len(data) * 2 // 3])
    with Sites([served]) as s:
        url = s.servers[0].url("truncated.root")
        # found when the file is described: its header ends past what the server holds
        with pytest.raises(hepflow.ReadError, match=r"truncated\.root.*truncated") as info:
            hepflow.preprocess(Dataset.from_files([url], "Events"), xrd_client,
                               chunk_entries=4_000)
        assert "entries 0-8000" in str(info.value)
        garbage = served / "garbage.root"
        garbage.write_bytes(b"not a ROOT file at all " * 1000)
        s.servers[0].sync()
        with pytest.raises(hepflow.ReadError, match=r"garbage\.root"):
            hepflow.RDataFrame("Events", s.servers[0].url("garbage.root"), client=xrd_client)


def test_wrong_file_under_replica_name_is_refused(site_files, xrd_client, tmp_path):
    base, names, others = site_files
    impostor_dir = tmp_path / "impostor"
    impostor_dir.mkdir()
    shutil.copy(others[0], impostor_dir / names[0])
    with Sites([base / "store", impostor_dir]) as s:
        spec = FileSpec((s.servers[0].url(names[0]), s.servers[1].url(names[0])))
        prepared = hepflow.preprocess(Dataset((Sample("dy", (spec,)),)), xrd_client,
                                      chunk_entries=4_000)
        s.servers[0].stop()
        with pytest.raises(hepflow.ReadError, match="different file"):
            hepflow.RDataFrame(prepared, client=xrd_client,
                               options=hepflow.Options(retries=0)).Sum("MET_pt").GetValue()
