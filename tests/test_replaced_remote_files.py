"""A remote file replaced under the same `root://` URL is read as the new file, in the same
session and in a new one that finds the preprocessing cache on disk (issue 26, item 3)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import uproot

import hepflow
from hepflow import Dataset
from hepflow.io.handles import close_all, remote_stamp
from hepflow.testing import Sites, xrootd_available

pytestmark = [
    pytest.mark.xrootd,
    pytest.mark.skipif(not xrootd_available(), reason="Debian's xrootd-server is not installed"),
]


def _write(path: Path, fmt: str, entries: int, scale: float) -> None:
    """A file whose `x` is `scale * entry`: its entries and sum tell which file was read."""
    x = scale * np.arange(entries, dtype=np.float64)
    with uproot.recreate(path) as f:
        if fmt == "rntuple":
            f.mkrntuple("Events", {"x": np.float64})
        else:
            f.mktree("Events", {"x": np.float64})
        f["Events"].extend({"x": x})


def _uuid(path: Path) -> str:
    with uproot.open(path) as f:
        return str(f.file.uuid)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["rename", "overwrite"])
@pytest.mark.parametrize("fmt", ["ttree", "rntuple"])
def test_a_replaced_remote_file_gives_the_new_files_results(
        tmp_path: Path, client: object, fmt: str, how: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = store / "f.root"
    _write(target, fmt, 20_000, 1.0)
    with Sites.replicas(store, 1) as sites:
        url = sites.servers[0].url("f.root")
        ds = Dataset.from_files([url], "Events")
        assert hepflow.RDataFrame(ds, client=client).Count().GetValue() == 20_000

        import hepflow.dataset.scan as scan

        def no_open(*args: object, **kwargs: object) -> None:
            raise AssertionError("an unchanged remote file is cached and not described again")

        # unchanged: a new session takes the description from the cache, opening nothing
        close_all()
        with monkeypatch.context() as m:
            m.setattr(scan, "inspect_file", no_open)
            assert hepflow.preprocess(ds).files[0].num_entries == 20_000
        before = remote_stamp(url, 10.0)
        assert before is not None

        new = tmp_path / "new.root"
        _write(new, fmt, 16_000, 2.0)
        if how == "rename":
            os.replace(new, target)
        else:
            target.write_bytes(new.read_bytes())
        sites.servers[0].sync()  # what the server exports (a mirror when it drops privileges)
        assert remote_stamp(url, 10.0) not in (None, before)
        expected = 2.0 * np.arange(16_000, dtype=np.float64).sum()

        # the same session: the cluster's workers and this process may hold the old file open
        for where in (client, "sync"):
            df = hepflow.RDataFrame(ds, client=where)
            assert (df.Count().GetValue(), df.Sum("x").GetValue()) == (16_000, expected)

        # a new session: the cache on disk describes the new file, and is used for it
        close_all()
        with monkeypatch.context() as m:
            m.setattr(scan, "inspect_file", no_open)
            prepared = hepflow.preprocess(ds)
        assert prepared.files[0].uuid == _uuid(target)
        assert prepared.files[0].num_entries == 16_000
        df = hepflow.RDataFrame(prepared, client="sync")
        assert (df.Count().GetValue(), df.Sum("x").GetValue()) == (16_000, expected)


def test_a_remote_file_that_cannot_be_stat_ed_has_no_stamp(tmp_path: Path) -> None:
    """No answer is "cannot tell" (described afresh), never an old description trusted."""
    store = tmp_path / "store"
    store.mkdir()
    _write(store / "f.root", "ttree", 100, 1.0)
    with Sites.replicas(store, 1) as sites:
        url = sites.servers[0].url("f.root")
        assert remote_stamp(url, 10.0) is not None
        assert remote_stamp(sites.servers[0].url("missing.root"), 10.0) is None
