"""Write NanoAOD-like TTrees with ROOT itself, for the fast-path tests and the wide benchmark.

hepflow's own generator and uproot write TTrees their own way; ROOT (and so
CMSSW) writes TBranch v13 with class references, and — when the tree is
written without flushing its baskets, as CMSSW's NanoAOD output does — the
last basket of every branch inside the TTree key. This script needs PyROOT
(``pip install root`` in a separate environment) and is not imported by hepflow:

    /work/rootenv/bin/python benchmarks/root_nanoaod.py OUT.root --events 20000 \\
        --branches 1400 --embedded

``--extras`` adds a ``std::vector<float>`` branch, ``Float16_t`` and
``Double32_t`` leaves and a fixed-size array, which ROOT writes as
TBranchElement and TLeafF16/TLeafD32.
"""

from __future__ import annotations

import argparse
from array import array

import numpy as np


def write(path: str, events: int, branches: int, embedded: bool, extras: bool,
          compression: int, seed: int, basket_size: int = 0) -> None:
    """One file of `events` entries and about `branches` branches."""
    import ROOT

    rng = np.random.default_rng(seed)
    out = ROOT.TFile(path, "RECREATE")
    out.SetCompressionSettings(compression)
    tree = ROOT.TTree("Events", "NanoAOD-like, written by ROOT")
    buffers: list[tuple[str, array, str]] = []

    def branch(name: str, code: str, size: int, leaf: str) -> array:
        buf = array(code, [0] * size)
        tree.Branch(name, buf, leaf)
        buffers.append((name, buf, code))
        return buf

    run = branch("run", "I", 1, "run/i")
    event = branch("event", "L", 1, "event/l")
    met = branch("MET_pt", "f", 1, "MET_pt/F")
    collections = ["Muon", "Electron", "Jet", "Tau", "Photon"]
    counts = {c: branch(f"n{c}", "I", 1, f"n{c}/i") for c in collections}
    per = max(1, (branches - 3 - len(collections)) // len(collections))
    lists: dict[str, list[tuple[array, str]]] = {c: [] for c in collections}
    for c in collections:
        for j in range(per):
            kind = ("F", "f") if j % 4 else (("I", "i") if j % 8 else ("O", "b"))
            name = f"{c}_v{j}" if j else f"{c}_pt"
            buf = branch(name, kind[1], 16, f"{name}[n{c}]/{kind[0]}")
            lists[c].append((buf, kind[0]))
    if extras:
        vec = ROOT.std.vector("float")()
        tree.Branch("Track_pt", vec)
        half = branch("Soft_f16", "f", 1, "Soft_f16/f")
        d32 = branch("Range_d32", "d", 1, "Range_d32/d[0,100,12]")
        fixed = branch("Vertex_xyz", "f", 3, "Vertex_xyz[3]/F")
    if basket_size:
        tree.SetBasketSize("*", basket_size)
    for i in range(events):
        run[0] = 1 + i // 10_000
        event[0] = i
        met[0] = float(rng.exponential(30.0))
        for c in collections:
            n = int(rng.poisson(2.0)) % 16
            counts[c][0] = n
            for buf, kind in lists[c]:
                for k in range(n):
                    if kind == "F":
                        buf[k] = float(rng.exponential(20.0))
                    elif kind == "I":
                        buf[k] = int(rng.integers(-5, 100))
                    else:
                        buf[k] = int(rng.integers(0, 2))
        if extras:
            vec.clear()
            for _ in range(int(rng.poisson(3.0))):
                vec.push_back(float(rng.normal(10.0, 3.0)))
            half[0] = float(rng.normal(0.0, 5.0))
            d32[0] = float(rng.uniform(0.0, 100.0))
            for k in range(3):
                fixed[k] = float(rng.normal())
        tree.Fill()
    if embedded:
        out.WriteTObject(tree)  # no flush: each branch's last basket stays in the TTree key
    else:
        out.Write()
    out.Close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--compression", type=int, default=505, help="ROOT's algorithm*100+level")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--basket-size", type=int, default=0, help="bytes; 0 for ROOT's default")
    args = parser.parse_args()
    write(args.path, args.events, args.branches, args.embedded, args.extras, args.compression,
          args.seed, args.basket_size)


if __name__ == "__main__":
    main()
