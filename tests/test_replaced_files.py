"""A file replaced under the same name (renamed over, or overwritten in place) is read as the
new file: in the same session, whose workers still hold the old file open, and in a new one
that finds the preprocessing cache on disk. TTrees and RNTuples alike."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import uproot

import hepflow
from hepflow import Dataset
from hepflow.io.reader import close_all, open_tree


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


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["rename", "overwrite"])
@pytest.mark.parametrize("fmt", ["ttree", "rntuple"])
def test_a_replaced_file_gives_the_new_files_results(tmp_path: Path, client: object, fmt: str,
                                                      how: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.root"
    _write(target, fmt, 20_000, 1.0)
    ds = Dataset.from_files([str(target)], "Events")
    assert hepflow.RDataFrame(ds, client=client).Count().GetValue() == 20_000
    assert hepflow.RDataFrame(ds, client="sync").Count().GetValue() == 20_000
    path = str(target)
    client.run(lambda: open_tree(path, "Events") and None)  # type: ignore[attr-defined]

    new = tmp_path / "new.root"
    _write(new, fmt, 16_000, 2.0)
    if how == "rename":
        os.replace(new, target)
    else:
        target.write_bytes(new.read_bytes())
    expected = 2.0 * np.arange(16_000, dtype=np.float64).sum()

    # the same session: the cluster's workers and this process hold the old file open
    for where in (client, "sync"):
        df = hepflow.RDataFrame(ds, client=where)
        count, total = df.Count(), df.Sum("x")
        assert (count.GetValue(), total.GetValue()) == (16_000, expected)

    # a new session: nothing open, the preprocessing cache found on disk describes the new file
    close_all()
    import hepflow.dataset.scan as scan

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file is cached and must not be described again")

    monkeypatch.setattr(scan, "inspect_file", no_open)
    prepared = hepflow.preprocess(ds)
    assert prepared.files[0].uuid == _uuid(target)
    assert prepared.files[0].num_entries == 16_000
    assert prepared.files[0].format == fmt
    monkeypatch.undo()
    df = hepflow.RDataFrame(prepared, client="sync")
    assert (df.Count().GetValue(), df.Sum("x").GetValue()) == (16_000, expected)


def test_a_file_replaced_after_preprocessing_is_still_refused(tmp_path: Path) -> None:
    """Chunks cut from the old file are not read from the new one (UUID check intact)."""
    target = tmp_path / "f.root"
    _write(target, "ttree", 20_000, 1.0)
    prepared = hepflow.preprocess(Dataset.from_files([str(target)], "Events"))
    assert hepflow.RDataFrame(prepared, client="sync").Count().GetValue() == 20_000
    new = tmp_path / "new.root"
    _write(new, "ttree", 20_000, 2.0)
    os.replace(new, target)
    df = hepflow.RDataFrame(prepared, client="sync", options=hepflow.Options(retries=0))
    with pytest.raises(hepflow.ReadError, match="different file"):
        df.Sum("x").GetValue()
