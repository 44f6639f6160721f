"""The AGC ttbar analysis of `agc_ttbar.py`, as a ROOT user writes it: every helper in C++.

`agc_ttbar.py` declares its two helpers, the muon scale factor and the jet
energy resolution smearing, as Python functions. Here they are C++ functions
given to `hepflow.Declare` as source text, exactly as a ROOT analysis gives
them to ``ROOT.gInterpreter.Declare``; the selection strings are the same. The
histograms equal those of `agc_ttbar.py` bin for bin (tests/test_agc.py), and
ROOT runs this very source in `benchmarks/agc.py`.

Run it as `agc_ttbar.py` runs::

    hepflow run examples/agc_ttbar_cpp.py --dataset D.yaml --outdir out
    python examples/agc_ttbar_cpp.py --dataset D.yaml --output agc_histograms.root

or import it and call `book(df)`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import hepflow

if TYPE_CHECKING:
    from hepflow.plan.handles import RResultMap


def _python_twin() -> ModuleType:
    """`agc_ttbar.py` beside this file (examples/ is not a package)."""
    path = Path(__file__).with_name("agc_ttbar.py")
    spec = importlib.util.spec_from_file_location("agc_ttbar", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AGC = _python_twin()

#: The helpers in C++: the same arithmetic as `agc_ttbar.muon_sf` and
#: `agc_ttbar.jet_resolution` (SplitMix64, Box-Muller), so the results are equal.
HELPERS = rf"""
#include <cmath>

// SplitMix64's finaliser: a well-mixed 64-bit hash, wrapping as unsigned arithmetic does.
ULong64_t splitmix64(ULong64_t x)
{{
   ULong64_t z = x + 0x9E3779B97F4A7C15ULL;
   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
   z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
   return z ^ (z >> 31);
}}

// A factor N(1, {AGC.JER}) per jet, a pure function of (event number, jet index).
ROOT::RVecF jet_resolution(ULong64_t event, const ROOT::RVecF &jet_pt)
{{
   ROOT::RVecF factor;
   factor.reserve(jet_pt.size());
   for (std::size_t i = 0; i < jet_pt.size(); ++i) {{
      const ULong64_t first = splitmix64(event * 1024 + i);
      const ULong64_t second = splitmix64(first);
      const double u1 = ((first >> 11) + 0.5) / 9007199254740992.0;  // 2^53
      const double u2 = (second >> 11) / 9007199254740992.0;
      const double gauss = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
      factor.push_back(1.0 + {AGC.JER} * gauss);
   }}
   return factor;
}}

// Per-muon identification scale factor, in double.
ROOT::RVecD muon_sf(const ROOT::RVecF &pt, const ROOT::RVecF &eta)
{{
   return 0.97 + 0.02 * tanh((pt - 40.0) / 20.0) - 0.01 * abs(eta);
}}
"""


def declare() -> None:
    """Declare the C++ helpers (they replace `agc_ttbar.py`'s Python ones of the same names).

    An expression takes the declared function at the time it is built, so call
    this before booking; `book` does.
    """
    hepflow.Declare(HELPERS)


def book(df: Any) -> dict[str, RResultMap[Any]]:
    """Both regions' histograms under every variation, with the C++ helpers."""
    declare()
    result: dict[str, RResultMap[Any]] = AGC.book_histograms(
        *AGC.with_observables(*AGC.select(df)))
    return result


if __name__ == "__hepflow_analysis__":  # `hepflow run examples/agc_ttbar_cpp.py --dataset ...`
    from hepflow.analysis import dataset

    results = AGC.handles(book(hepflow.RDataFrame(dataset())))


def main(argv: Sequence[str] | None = None) -> int:
    """`python examples/agc_ttbar_cpp.py --dataset D.yaml --output agc.root [--workers 2]`."""
    result: int = AGC.main(argv, book, __doc__)
    return result


if __name__ == "__main__":
    sys.exit(main())
