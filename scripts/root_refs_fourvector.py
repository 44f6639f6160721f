"""ROOT 6.40's answers for ROOT::Math's Lorentz vectors, edge cases included.

    /work/rootenv/bin/python scripts/root_refs_fourvector.py

For every coordinate system hepflow knows (PtEtaPhiMVector, PtEtaPhiEVector,
PxPyPzEVector, PxPyPzMVector) and every row of `INPUTS` (read as that system's four coordinates),
records each accessor in `METHODS` of the vector ROOT constructs (so the
constructor's phi wrapping and negative-mass rule are in it), and of the sums and
differences of pairs of vectors of any two systems (ROOT's `operator+` goes through
Cartesian coordinates and answers in the left operand's system), and of each
vector converted to every other system (`PxPyPzMVector(p)`, what
`Construct<V>(w)` does per element). Writes
tests/data/root_fourvector_refs.json, which tests/test_fourvector_systems.py reads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import ROOT

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "root_fourvector_refs.json"
SYSTEMS = ("PtEtaPhiMVector", "PtEtaPhiEVector", "PxPyPzEVector", "PxPyPzMVector")
METHODS = ("Pt", "Eta", "Phi", "M", "E", "P", "Px", "Py", "Pz", "Rapidity", "Theta", "Et",
           "Mt", "Beta", "Gamma")
INPUTS = [
    (50.0, 1.2, 0.5, 120.0),     # time-like in every system
    (50.0, 1.2, 0.5, 40.0),      # E < P: space-like as PtEtaPhiE / PxPyPzE
    (50.0, 0.3, -2.9, -10.0),    # negative mass / energy
    (5.0, 0.3, -2.9, -80.0),     # m < 0 with m^2 > p^2: ROOT sets m = -P
    (0.0, 0.0, 0.0, 0.0),        # the zero vector
    (0.0, 3.0, 1.0, 5.0),        # pt = 0, eta > 0
    (0.0, -3.0, 1.0, 5.0),       # pt = 0, eta < 0
    (0.0, 30000.0, 0.1, 5.0),    # pt = 0, eta beyond ROOT's etaMax
    (0.0, -30000.0, 0.1, 5.0),
    (10.0, 25.0, 0.1, 1e12),     # large eta
    (10.0, -25.0, 4.0, 1e12),    # phi beyond pi: the constructor wraps it
    (10.0, 2.0, 7.5, 30.0),
    (10.0, 0.0, -math.pi, 10.0),  # phi = -pi wraps to pi
    (3.0, 4.0, 0.0, 0.0),        # E = 0 (PtEtaPhiE, PxPyPzE)
    (0.0, 0.0, -5.0, 5.0),       # on the z axis (PxPyPzE)
    (3.0, 4.0, 12.0, 13.0),      # light-like (PxPyPzE)
    (-20.0, 1.0, 0.7, 50.0),     # negative pt
]
PAIRS = [(0, 1), (1, 2), (2, 3), (0, 9), (5, 6), (13, 15), (11, 12), (1, 16)]


def _value(x: float) -> float | str:
    """JSON has no NaN or infinities: those are written as strings."""
    return x if math.isfinite(x) else repr(x)


def _answers(v: object) -> dict[str, float | str]:
    return {m: _value(float(getattr(v, m)())) for m in METHODS}


def _vector(system: str, coords: tuple[float, float, float, float]) -> object:
    return getattr(ROOT.Math, system)(*coords)


def main() -> None:
    single = {s: [_answers(_vector(s, c)) for c in INPUTS] for s in SYSTEMS}
    combined = []
    for left in SYSTEMS:
        for right in SYSTEMS:
            for i, j in PAIRS:
                a, b = _vector(left, INPUTS[i]), _vector(right, INPUTS[j])
                combined.append({"left": left, "right": right, "i": i, "j": j,
                                 "+": _answers(a + b), "-": _answers(a - b)})
    converted = [{"to": to, "from": source, "i": i,
                  "answers": _answers(getattr(ROOT.Math, to)(_vector(source, c)))}
                 for to in SYSTEMS for source in SYSTEMS for i, c in enumerate(INPUTS)]
    refs = {"root": str(ROOT.gROOT.GetVersion()), "methods": list(METHODS),
            "inputs": [list(c) for c in INPUTS], "single": single, "combined": combined,
            "converted": converted}
    OUT.write_text(json.dumps(refs, indent=1) + "\n")


if __name__ == "__main__":
    main()
