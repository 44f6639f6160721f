"""HEPFLOW_BENCH_SMOKE=1 shrinks the benchmarks' defaults; options written still win."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import agc, dimuon, ttbar, wide
from hepflow.bench.cli import add_parser
from hepflow.bench.smoke import SMOKE_ENV, smoke


def _scaling(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", "scaling", "dimuon", *argv])


@pytest.mark.parametrize("value, on", [("1", True), ("0", False), ("", False)])
def test_smoke_reads_the_variable(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv(SMOKE_ENV, value)
    assert smoke() is on


def test_smoke_shrinks_defaults_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SMOKE_ENV, raising=False)
    full = dimuon.parse_args([])
    assert (full.events, full.files, full.repeat) == (2_000_000, 8, 3)
    monkeypatch.setenv(SMOKE_ENV, "1")
    for parse in (dimuon.parse_args, agc.parse_args, ttbar.parse_args):
        small = parse([])
        assert (small.events, small.files, small.repeat, small.workers) == (20_000, 2, 1, 2)
    assert (wide.parse_args([]).events_per_file, wide.parse_args([]).files) == (10_000, 2)
    scaling = _scaling([])
    assert (scaling.events, scaling.files, scaling.repeat) == (20_000, 2, 1)
    written = dimuon.parse_args(["--events", "200000", "--repeat", "2"])
    assert (written.events, written.files, written.repeat) == (200_000, 2, 2)
    assert _scaling(["--repeat", "5", "--workers", "1,2,4"]).repeat == 5
