"""The XRootD harness against Debian's real ``xrootd`` daemon.

These tests pin down what the I/O layer relies on: that ``root://`` URLs of
the form the harness hands out are read through fsspec-xrootd, byte-for-byte
the same as the local file; that a stopped site fails fast (with the client
settings the tests use) instead of hanging; and that a site restarted on the
same port can be read again.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from uproot.source.fsspec import FSSpecSource

from hepflow.testing import (
    FAST_FAIL_CLIENT_SETTINGS,
    Sites,
    XRootDServer,
    XRootDServerError,
    client_settings,
    deployment_config,
    xrootd_available,
    xrootd_stat,
)

pytestmark = [
    pytest.mark.xrootd,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        not xrootd_available(),
        reason="the xrootd server binary is missing: apt-get install "
        "$(cat deployments/xrootd/debian-packages.txt)",
    ),
]

pytest.importorskip("fsspec_xrootd", reason="fsspec-xrootd handles root:// for uproot")
pytest.importorskip("XRootD.client", reason="the XRootD Python bindings are needed")


TREE = "Events"
N_EVENTS = 5_000
FILE_NAME = "nano/sample.root"
# The fast-fail settings the tests run under; a stopped server must fail well
# inside this bound, not after XrdCl's default 4 x 120 s of reconnecting.
FAIL_FAST_S = 3.0


def _write_sample(path: Path, seed: int = 1) -> None:
    """A small NanoAOD-shaped file: a counter branch and jagged Muon_* arrays."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, N_EVENTS)
    total = int(counts.sum())
    muon = ak.zip(
        {
            "pt": ak.unflatten(rng.exponential(25.0, total).astype(np.float32), counts),
            "eta": ak.unflatten(rng.normal(0.0, 1.5, total).astype(np.float32), counts),
        }
    )
    data = {
        "Muon": muon,
        "MET_pt": rng.exponential(40.0, N_EVENTS).astype(np.float32),
        "event": np.arange(N_EVENTS, dtype=np.uint64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as out:
        # mktree with a record type gives NanoAOD's nMuon + Muon_pt[nMuon].
        types = {k: v.type.content if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
        out.mktree(TREE, types).extend(data)


def _read_remote(url: str, timeout: int = 5) -> ak.Array:
    # A fresh fsspec filesystem per read: fsspec-xrootd 0.5.5 keeps a file
    # handle that failed in its per-filesystem cache and answers later reads
    # with "ValueError: I/O operation on closed file"; a fresh instance sees
    # the server as it is now.  ``timeout`` is fsspec-xrootd's per-request
    # timeout in seconds.
    with uproot.open(url, handler=FSSpecSource, skip_instance_cache=True, timeout=timeout) as f:
        return f[TREE].arrays()


def _read_local(path: Path) -> ak.Array:
    with uproot.open(path) as f:
        return f[TREE].arrays()


@pytest.fixture(scope="module", autouse=True)
def _fast_fail_client() -> Iterator[dict[str, int]]:
    """XrdCl settings for this module only (process-wide state, restored after).

    They apply to connections XrdCl opens from now on; every server here gets
    a fresh port, so every connection is new.
    """
    with client_settings(FAST_FAIL_CLIENT_SETTINGS) as effective:
        yield effective


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("xrootd-data")
    _write_sample(directory / FILE_NAME)
    return directory


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[XRootDServer]:
    """One read-only site shared by the tests that do not stop it."""
    with XRootDServer(data_dir, name="shared") as srv:
        yield srv


@pytest.fixture
def own_server(data_dir: Path) -> Iterator[XRootDServer]:
    """A site of its own, for tests that stop, pause or restart it."""
    with XRootDServer(data_dir, name="own") as srv:
        yield srv


def test_uproot_uses_fsspec_for_root_urls(server: XRootDServer) -> None:
    # uproot 5.7 routes every string path through FSSpecSource unless told
    # otherwise, so root:// goes through fsspec-xrootd even without handler=.
    with uproot.open(server.url(FILE_NAME)) as f:
        assert isinstance(f.file.source, FSSpecSource)
        assert f[TREE].num_entries == N_EVENTS


def test_remote_read_equals_local(server: XRootDServer, data_dir: Path) -> None:
    remote = _read_remote(server.url(FILE_NAME))
    local = _read_local(data_dir / FILE_NAME)
    assert remote.fields == local.fields
    assert set(local.fields) >= {"nMuon", "Muon_pt", "Muon_eta", "MET_pt", "event"}
    for field in local.fields:
        assert ak.array_equal(remote[field], local[field]), field


def test_url_forms(server: XRootDServer, data_dir: Path) -> None:
    url = server.url(FILE_NAME)
    assert url == f"root://127.0.0.1:{server.port}//{FILE_NAME}"
    assert server.url(data_dir / FILE_NAME) == url  # absolute local paths map too
    assert server.lfn(FILE_NAME) == "/" + FILE_NAME
    with pytest.raises(ValueError, match="not inside"):
        server.url("/etc/passwd")
    # One slash makes the path relative, which the server refuses.
    with pytest.raises(OSError, match="relative path"):
        _read_remote(f"root://{server.address}/{FILE_NAME}")


def test_server_is_unprivileged_and_uses_its_own_files(server: XRootDServer) -> None:
    assert server.running and server.pid is not None
    assert xrootd_stat(server.host, server.port, "/" + FILE_NAME) is None
    assert "no such file" in (xrootd_stat(server.host, server.port, "/missing.root") or "")
    assert server.pid_path.read_text().strip() == str(server.pid)
    config = server.config_path.read_text()
    assert f"xrd.port {server.port}" in config
    assert "all.export / r/o" in config
    assert f"all.adminpath {server.workdir / 'admin'}" in config
    assert "initialization completed" in server.log_path.read_text()
    if os.geteuid() == 0:
        # Real, effective and saved uid all belong to the unprivileged user.
        assert set(_proc_ids(server.pid, "Uid")) == {pwd.getpwnam(server.user).pw_uid}


def _proc_ids(pid: int, which: str) -> list[int]:
    """Real, effective, saved and filesystem ids of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(which + ":"):
            return [int(value) for value in line.split()[1:]]
    raise AssertionError(f"no {which} line for pid {pid}")


def test_xrootd_dash_r_only_changes_effective_ids(data_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("privileges are only dropped when started as root")
    with XRootDServer(data_dir, drop_privileges="xrootd", name="dashR") as srv:
        assert srv.pid is not None
        real, effective, *_ = _proc_ids(srv.pid, "Uid")
        assert effective == pwd.getpwnam(srv.user).pw_uid
        assert real == 0  # why "setuid" is the default
        assert len(_read_remote(srv.url(FILE_NAME))) == N_EVENTS


def test_unreadable_tree_is_mirrored_and_synced(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mirroring only matters when the daemon runs as another user")
    private = tmp_path / "private"
    _write_sample(private / "a.root")
    private.chmod(0o700)
    with XRootDServer(private, name="mirror") as srv:
        assert srv.mirrored
        assert srv.export_dir != private
        assert len(_read_remote(srv.url("a.root"))) == N_EVENTS
        _write_sample(private / "later" / "b.root", seed=2)
        assert xrootd_stat(srv.host, srv.port, "/later/b.root") is not None
        srv.sync()
        remote = _read_remote(srv.url("later/b.root"))
        assert ak.array_equal(remote["MET_pt"], _read_local(private / "later" / "b.root")["MET_pt"])
    assert not srv.running


def test_stopped_site_fails_fast_and_comes_back_on_the_same_port(
    own_server: XRootDServer, data_dir: Path
) -> None:
    url = own_server.url(FILE_NAME)
    expected = _read_local(data_dir / FILE_NAME)["MET_pt"]
    # Keep a file open across the outage too, as a long-running worker would.
    with uproot.open(url, handler=FSSpecSource, skip_instance_cache=True, timeout=5) as held:
        assert ak.array_equal(held[TREE]["MET_pt"].array(), expected)
        port = own_server.port

        own_server.stop()
        own_server.stop()  # idempotent
        assert not own_server.running
        assert not own_server.responds()

        start = time.monotonic()
        with pytest.raises(OSError, match=r"Connection error|expired"):
            _read_remote(url)
        fresh_open_s = time.monotonic() - start
        start = time.monotonic()
        with pytest.raises((OSError, ValueError)):
            held[TREE]["Muon_pt"].array()  # bytes not read yet: needs the server
        held_read_s = time.monotonic() - start
        assert fresh_open_s < FAIL_FAST_S, (
            f"open against a stopped server took {fresh_open_s:.1f} s"
        )
        assert held_read_s < FAIL_FAST_S, f"read on a held file took {held_read_s:.1f} s"
        _forget_failed_handle(held)

        own_server.start()
        assert own_server.port == port
        assert own_server.responds()
        assert ak.array_equal(_read_remote(url)["MET_pt"], expected)
        # With its dead handle evicted, the held file works again too.
        assert ak.array_equal(
            held[TREE]["Muon_pt"].array(), _read_local(data_dir / FILE_NAME)["Muon_pt"]
        )


def _forget_failed_handle(file: uproot.ReadOnlyDirectory) -> None:
    """Evict the dead XrdCl handle that fsspec-xrootd 0.5.5 keeps after a failure.

    Without this, later reads through the same filesystem instance raise
    "ValueError: I/O operation on closed file" (for as long as the handle is
    used more often than its 30 s TTL), and the handle's finalizer prints an
    OSError at interpreter exit.  Closing it fails, but it is removed first.
    """
    source = file.file.source
    with contextlib.suppress(OSError, ValueError):
        source._fs.invalidate_cache(source._file_path)


def test_restart_without_failed_request_keeps_held_files_working(
    own_server: XRootDServer, data_dir: Path
) -> None:
    # XrdCl reopens a file transparently when its server came back before
    # the next request, so only requests made *during* an outage fail.
    url = own_server.url(FILE_NAME)
    with uproot.open(url, handler=FSSpecSource, skip_instance_cache=True, timeout=5) as held:
        first = held[TREE]["event"].array()
        own_server.restart()
        second = held[TREE]["MET_pt"].array()
    local = _read_local(data_dir / FILE_NAME)
    assert ak.array_equal(first, local["event"])
    assert ak.array_equal(second, local["MET_pt"])


def test_paused_site_times_out_then_recovers(own_server: XRootDServer) -> None:
    url = own_server.url(FILE_NAME)
    own_server.pause()
    assert own_server.paused
    start = time.monotonic()
    with pytest.raises(OSError, match="expired"):
        _read_remote(url, timeout=1)
    elapsed = time.monotonic() - start
    # A hung server is only noticed when the request times out; XrdCl checks
    # timeouts every XRD_TIMEOUTRESOLUTION s (15 s unless set before XrdCl's
    # first use in the process), so the bound here is loose on purpose.
    assert 0.5 < elapsed < 20.0
    own_server.resume()
    assert len(_read_remote(url)) == N_EVENTS


def test_sites_serve_replicas_and_survive_one_outage(data_dir: Path) -> None:
    with Sites.replicas(data_dir, 2, names=["T2_A", "T2_B"]) as sites:
        urls = sites.urls(FILE_NAME)
        assert len(set(urls)) == 2
        assert len({server.port for server in sites}) == 2
        first, second = (_read_remote(url) for url in urls)
        assert ak.array_equal(first["Muon_pt"], second["Muon_pt"])
        sites["T2_A"].stop()
        with pytest.raises(OSError):
            _read_remote(urls[0])
        assert len(_read_remote(urls[1])) == N_EVENTS
    assert not any(server.running for server in sites)


def test_taken_port_is_reported_or_retried(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # xrootd binds the IPv6 wildcard (dual stack), which collides with an
    # IPv4 listener on the same port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]

        srv = XRootDServer(data_dir, port=busy, name="pinned")
        with pytest.raises(XRootDServerError, match="in use"):
            srv.start()
        srv.close()

        # An automatically chosen port that turns out to be taken is replaced.
        import hepflow.testing.xrootd as module

        real_free_port = module.free_port
        picks = iter([busy])
        monkeypatch.setattr(
            module, "free_port", lambda host: next(picks, None) or real_free_port(host)
        )
        with XRootDServer(data_dir, name="retry") as srv:
            assert srv.port != busy
            assert srv.responds()


def test_bad_config_fails_with_the_log(data_dir: Path) -> None:
    # Unknown directives are only warned about; a malformed value is fatal.
    srv = XRootDServer(data_dir, extra_config=["xrd.sched mint x"], startup_timeout=10)
    with pytest.raises(XRootDServerError, match=r"(?s)exited during start-up.*mint x"):
        srv.start()
    assert not srv.running
    srv.close()
    srv.close()


def test_deployment_data_server_config_serves_the_sample(data_dir: Path) -> None:
    # deployments/xrootd/data-server.cfg, with its values from the environment.
    config = deployment_config("data-server.cfg")
    with XRootDServer(data_dir, config_file=config, name="T2_CFG") as srv:
        assert srv.config_path.read_text().startswith(config.read_text())
        remote = _read_remote(srv.url(FILE_NAME))
        assert ak.array_equal(remote["Muon_pt"], _read_local(data_dir / FILE_NAME)["Muon_pt"])


def test_xcache_in_front_of_a_site(
    own_server: XRootDServer, data_dir: Path, tmp_path: Path
) -> None:
    # deployments/xrootd/xcache.cfg in front of a site: clients name the
    # cache with the origin's logical path.
    local = _read_local(data_dir / FILE_NAME)
    with XRootDServer.xcache(own_server, tmp_path / "cache") as cache:
        assert cache.port != own_server.port
        via_cache = _read_remote(cache.url(FILE_NAME))
        assert ak.array_equal(via_cache["Muon_pt"], local["Muon_pt"])
        cached = {p.name for p in cache.export_dir.rglob("*") if p.is_file()}
        assert {"sample.root", "sample.root.cinfo"} <= cached
        # The sample is smaller than one 1 MiB cache block, so it is cached
        # completely and still served while the origin is down.
        own_server.stop()
        assert ak.array_equal(_read_remote(cache.url(FILE_NAME))["MET_pt"], local["MET_pt"])
