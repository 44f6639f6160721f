"""`thread_local` <random> engines in C++ helpers: ROOT's draws, bit for bit.

The references (tests/data/root_random_refs.json) are ROOT 6.40's own draws,
written by scripts/root_refs_random.py from helpers with fixed seeds, on one
thread. hepflow gives the same numbers from the same source on one chunk, in
this process and on a worker, and runs helpers in the AGC port's forms (a
`thread_local` engine seeded from std::random_device): one factor per jet,
normally distributed, new numbers on every run, as in ROOT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow

REFS = json.loads((Path(__file__).parent / "data" / "root_random_refs.json").read_text())
NANO = [str(Path(__file__).parent / "root_programs" / "data" / f"nano_{i}.root")
        for i in (1, 2, 3)]

# the forms of root-project/analysis-grand-challenge's cms-open-data-ttbar helpers: a
# function of no argument drawing from thread_local std::random_device / std::mt19937 /
# std::normal_distribution<double>{1, 0.05}, and a jet-shaped RVecF filled by
# std::generate with a lambda calling it
AGC_RANDOM = r"""
#include <random>

double rp_agc_random_gaus()
{
   thread_local std::random_device rd{};
   thread_local std::mt19937 gen{rd()};
   thread_local std::normal_distribution<double> d{1, 0.05};
   return d(gen);
}

ROOT::RVecF rp_agc_jet_resolution(std::size_t size)
{
   ROOT::RVecF res(size);
   std::generate(std::begin(res), std::end(res), []()
                 { return rp_agc_random_gaus(); });
   return res;
}
"""

def _hex(value: Any) -> Any:
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, int):
        return value
    return [_hex(v) for v in value]


def _draws(client: Any) -> dict[str, Any]:
    hepflow.Declare(REFS["source"])
    entries = REFS["entries"]
    df = hepflow.RDataFrame(entries, client=client, chunk_entries=entries)  # one chunk
    takes = {}
    for name, case in REFS["cases"].items():
        df = df.Define(name, case["expression"])
        takes[name] = df.Take(name)
    return {name: ak.to_list(take.GetValue()) if isinstance(take.GetValue(), ak.Array)
            else list(take.GetValue()) for name, take in takes.items()}


def _same_as_root(got: dict[str, Any]) -> None:
    for name, case in REFS["cases"].items():
        values = [v.tolist() if isinstance(v, np.generic) else v for v in got[name]]
        assert _hex(values) == case["values"], name


def test_draws_equal_roots_in_this_process() -> None:
    _same_as_root(_draws("sync"))


def test_draws_equal_roots_on_a_worker(client: Any) -> None:
    """A worker thread's engines start from their seeds, as a new ROOT thread's do."""
    _same_as_root(_draws(client))


def test_a_float_distribution_gives_floats() -> None:
    hepflow.Declare(REFS["source"])
    df = hepflow.RDataFrame(10, client="sync").Define("u", "rp_rand_uniform()") \
        .Define("n", "rp_rand_normal()").Define("r", "rp_rand_raw()")
    assert (df.GetColumnType("u"), df.GetColumnType("n")) == ("float", "double")
    assert np.asarray(df.Take("r").GetValue()).dtype == np.uint64


def test_the_agc_ports_random_helpers_run_in_its_forms(client: Any) -> None:
    hepflow.Declare(AGC_RANDOM)

    def smeared() -> tuple[ak.Array, ak.Array]:
        df = hepflow.RDataFrame("Events", NANO, client=client, chunk_entries=400) \
            .Define("res", "rp_agc_jet_resolution(Jet_pt.size())") \
            .Define("Jet_pt_smeared", "Jet_pt * res")
        res, pt = df.Take("res"), df.Take("Jet_pt")
        return ak.Array(res.GetValue()), ak.Array(pt.GetValue())

    res, pt = smeared()
    assert ak.all(ak.num(res) == ak.num(pt))  # one factor per jet, every event
    flat = np.asarray(ak.flatten(res))
    n = len(flat)
    assert n > 5000 and flat.dtype == np.float32
    assert abs(flat.mean() - 1) < 5 * 0.05 / np.sqrt(n)
    assert abs(flat.std() - 0.05) < 5 * 0.05 / np.sqrt(2 * n)
    assert len(np.unique(flat)) > 0.99 * n  # a new draw per jet, not one per event
    again, _ = smeared()
    assert not np.array_equal(np.asarray(ak.flatten(again)), flat)  # seeded from the OS


@pytest.mark.parametrize("text", ["rp_rand_agc() + rp_rand_agc()", "rp_rand_cond() > 5"])
def test_draws_are_checked_when_the_plan_is_built(text: str) -> None:
    hepflow.Declare(REFS["source"])
    df = hepflow.RDataFrame(4, client="sync").Define("x", text)
    assert df.GetColumnType("x") in ("float", "bool")
