"""The Python-callable escape hatch: no copies of its inputs, its type learnt once at build."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow


@pytest.fixture(scope="module")
def jet_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from hepflow.samples import make_sample

    return [str(p) for p in make_sample(tmp_path_factory.mktemp("callable"), events=4000,
                                        files=2, seed=5)]


def _buffer(x: ak.Array) -> np.ndarray:
    layout = x.layout
    while hasattr(layout, "content"):
        layout = layout.content
    return np.asarray(layout.data)


def test_callables_get_the_columns_buffers_uncopied(jet_files: list[str]) -> None:
    """Two callables on one column see the same memory: nothing is converted per call."""
    seen: dict[str, list[np.ndarray]] = {"a": [], "b": []}
    calls = {"a": 0, "b": 0}

    def grab(key: str) -> Any:
        def func(pt: ak.Array, met: ak.Array) -> ak.Array:
            calls[key] += 1
            if len(pt):  # not the build-time type probe on empty arrays
                assert isinstance(pt, ak.Array) and isinstance(met, ak.Array)
                seen[key].extend([_buffer(pt), _buffer(met)])
            return ak.sum(pt, axis=1) + met
        return func

    df = (hepflow.RDataFrame("Events", jet_files, client="sync", chunk_entries=1000)
          .Filter("nJet > 0")
          .Define("a", grab("a"), ["Jet_pt", "MET_pt"])
          .Define("b", grab("b"), ["Jet_pt", "MET_pt"]))
    assert calls == {"a": 1, "b": 1}  # the output type, learnt once, at Define
    assert df.GetColumnType("a") == "float"  # awkward sums float32 in float32
    got = df.Take("a")
    total = df.Sum("b")
    values = got.GetValue()
    chunks = got.run_info().chunks
    assert chunks >= 1 and calls == {"a": 1 + chunks, "b": 1 + chunks}  # then once per chunk
    for pa, pb in zip(seen["a"], seen["b"], strict=True):
        assert np.shares_memory(pa, pb)
    expected = float(np.sum(np.asarray(values, dtype=np.float64)))
    assert total.GetValue() == pytest.approx(expected, rel=1e-12)


def test_callable_results_equal_the_expression(jet_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", jet_files, client="sync").Filter("nJet >= 2")
    by_callable = df.Define("x", lambda pt, eta: pt[:, 1] * np.cosh(eta[:, 1]),
                            ["Jet_pt", "Jet_eta"]).Take("x")
    by_string = df.Define("x", "Jet_pt[1] * cosh(Jet_eta[1])").Take("x")
    assert np.allclose(np.asarray(by_callable.GetValue(), dtype=np.float64),
                       np.asarray(by_string.GetValue()), rtol=1e-6)
