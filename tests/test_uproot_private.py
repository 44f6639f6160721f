"""The uproot internals hepflow relies on (all in hepflow/io/uproot_private.py) still behave.

An uproot release that renames or reshapes one of them fails here, by name,
rather than as a basket read failing somewhere inside a run.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepflow.io import uproot_private


@pytest.mark.parametrize("dotted", uproot_private.REQUIRED)
def test_every_internal_hepflow_uses_still_exists(dotted):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    for attr in parts[cut:]:
        assert hasattr(found, attr), f"uproot no longer has {dotted} (at {attr!r}): " \
            f"update hepflow/io/uproot_private.py"
        found = getattr(found, attr)


def test_signatures_hepflow_calls_with():
    chunks = inspect.signature(uproot.source.chunk.Source.chunks).parameters
    assert list(chunks)[:3] == ["self", "ranges", "notifications"]
    get = inspect.signature(uproot.source.chunk.Chunk.get).parameters
    assert list(get)[:5] == ["self", "start", "stop", "cursor", "context"]
    submit = inspect.signature(uproot.source.futures.TrivialExecutor.submit).parameters
    assert "task" in submit


def test_ranges_payloads_and_executor_work(tmp_path):
    path = str(tmp_path / "t.root")
    with uproot.recreate(path, compression=uproot.ZLIB(1)) as f:
        f.mktree("Events", {"x": np.int32})
        f["Events"].extend({"x": np.arange(1000, dtype=np.int32)})
    with uproot.reading.ReadOnlyFile(path) as f:
        assert uproot_private.key_class(f, "Events") == "TTree"
        data, displacement = uproot_private.key_payload(f, "Events")
        key = f.root_directory.key("Events")
        assert len(data) == key.data_uncompressed_bytes and displacement == key.fKeylen
        whole = Path(path).read_bytes()
        got = uproot_private.read_ranges(f, [(0, 4), (100, 164)])
        assert [g.tobytes() for g in got] == [whole[0:4], whole[100:164]]
        assert got[0].tobytes() == b"root"
        tree = f.root_directory["Events"]
        assert uproot_private.model_position(tree, tree) == 0
    executor = uproot_private.TimingExecutor()
    assert executor.submit(sum, [1, 2]).result() == 3 and executor.seconds >= 0
