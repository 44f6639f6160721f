"""ROOT 6.40's draws from `thread_local` `<random>` engines in C++ helpers.

    /work/rootenv/bin/python scripts/root_refs_random.py

Declares `SOURCE` (helpers in the AGC port's form, with fixed seeds instead of
`rd()` so that the draws can be compared) and runs one RDataFrame of
`ENTRIES` empty entries on one thread, a Define per case, taking every value.
Writes tests/data/root_random_refs.json (the source, the expressions and each
value as a hexadecimal float), which tests/test_std_random.py reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import ROOT

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "root_random_refs.json"
ENTRIES = 3000
SOURCE = r"""
#include <random>
#include "ROOT/RVec.hxx"

float rp_rand_agc()
{
   thread_local std::mt19937 gen{42};
   thread_local std::normal_distribution<float> d{1.f, 0.05f};
   return d(gen);
}

ROOT::RVecF rp_rand_resolution(std::size_t size)
{
   ROOT::RVecF res(size);
   std::generate(std::begin(res), std::end(res), []() { return rp_rand_agc(); });
   return res;
}

double rp_rand_agc_double()
{
   thread_local std::mt19937 gen{2024};
   thread_local std::normal_distribution<double> d{1, 0.05};
   return d(gen);
}

ROOT::RVecF rp_rand_resolution_double(std::size_t size)
{
   ROOT::RVecF res(size);
   std::generate(std::begin(res), std::end(res), []() { return rp_rand_agc_double(); });
   return res;
}

double rp_rand_normal()
{
   thread_local std::mt19937 gen(7);
   thread_local std::normal_distribution<double> d(0., 1.);
   return d(gen);
}

float rp_rand_uniform()
{
   thread_local std::mt19937 gen{3};
   thread_local std::uniform_real_distribution<float> d{-1.f, 2.f};
   return d(gen);
}

double rp_rand_uniform_default()
{
   thread_local std::mt19937 gen;
   thread_local std::uniform_real_distribution<double> d;
   return d(gen);
}

unsigned long rp_rand_raw()
{
   thread_local std::mt19937 gen{12345u};
   return gen();
}

float rp_rand_cond()
{
   thread_local std::mt19937 gen{11};
   thread_local std::normal_distribution<float> d{5.f, 2.f};
   return d(gen);
}

float rp_rand_pair()
{
   thread_local std::mt19937 gen{13};
   thread_local std::normal_distribution<float> d{0.f, 1.f};
   float a = d(gen);
   return a - 2 * d(gen);
}
"""
CASES = {
    "agc_resolution": "rp_rand_resolution(rdfentry_ % 4)",
    "agc_resolution_double": "rp_rand_resolution_double(rdfentry_ % 5)",
    "normal_double": "rp_rand_normal()",
    "uniform_float": "rp_rand_uniform()",
    "uniform_default": "rp_rand_uniform_default()",
    "engine": "rp_rand_raw()",
    "conditional": "rdfentry_ % 3 == 0 ? rp_rand_cond() : -1.f",
    "pair": "rp_rand_pair()",
}


def _hex(value: object) -> object:
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, int):
        return value
    return [_hex(v) for v in value]  # type: ignore[attr-defined]


def main() -> None:
    ROOT.gInterpreter.Declare(SOURCE)
    df = ROOT.RDataFrame(ENTRIES)
    takes = {}
    for name, expression in CASES.items():
        df = df.Define(name, expression)
        takes[name] = df.Take[df.GetColumnType(name)](name)
    cases = {}
    for name, expression in CASES.items():
        values = [v if isinstance(v, (int, float)) else [float(x) for x in v]
                  for v in takes[name].GetValue()]
        cases[name] = {"expression": expression, "type": df.GetColumnType(name),
                       "values": _hex([float(v) if isinstance(v, float) else v
                                       for v in values])}
    OUT.write_text(json.dumps({"root": ROOT.gROOT.GetVersion(), "source": SOURCE,
                               "entries": ENTRIES, "cases": cases}, indent=0) + "\n")


if __name__ == "__main__":
    main()
