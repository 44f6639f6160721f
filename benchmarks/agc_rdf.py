"""The AGC benchmark's analysis in ROOT's own RDataFrame: the baseline `benchmarks.agc` runs.

Needs PyROOT (``pip install root`` in a separate environment; hepflow never
imports ROOT). `benchmarks.agc` writes the analysis down as a program -- the
C++ helpers of `examples/agc_ttbar_cpp.py` and every call the example makes on
its dataframes (`Define`, `Filter`, `Vary`, `Histo1D`), recorded by
`benchmarks.agc.record_program` -- and starts this script as ``PY
benchmarks/agc_rdf.py --program P.json --threads 2 --repeat 3 FILES...``.

The helpers go to ``ROOT.gInterpreter.Declare``, the calls are replayed on a
fresh ``ROOT.RDataFrame`` per repetition (as a user's script builds one), each
histogram gets ``VariationsFor`` and one ``RunGraphs`` fills them all with
``EnableImplicitMT(threads)``. So ROOT runs the very strings hepflow runs. The
last line of stdout is a JSON list with, per repetition (the first is the
warm-up, which includes the JIT), the build and compute seconds and every
histogram's contents and sums of squared weights, flow bins included.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def replay(df: Any, steps: list[list[Any]]) -> list[Any]:
    """Every recorded call made again on ROOT's dataframe; the node each returned."""
    import ROOT

    nodes = [df]
    for parent, method, args in steps:
        if method == "Histo1D":
            args = [ROOT.RDF.TH1DModel(*args[0]), *args[1:]]
        nodes.append(getattr(nodes[parent], method)(*args))
    return nodes


def contents(h: Any) -> tuple[list[float], list[float]]:
    n = h.GetNbinsX()
    return ([h.GetBinContent(i) for i in range(n + 2)],
            [h.GetBinError(i) ** 2 for i in range(n + 2)])


def run(program: dict[str, Any], files: list[str]) -> dict[str, Any]:
    import ROOT

    start = time.perf_counter()
    nodes = replay(ROOT.RDataFrame("Events", files), program["steps"])
    varied = {kind: {region: ROOT.RDF.Experimental.VariationsFor(nodes[index])
                     for region, index in regions.items()}
              for kind, regions in program["results"].items()}
    built = time.perf_counter()
    ROOT.RDF.RunGraphs([nodes[index] for regions in program["results"].values()
                        for index in regions.values()])
    done = time.perf_counter()
    hists = {kind: {region: {str(key): contents(maps[key]) for key in maps.GetKeys()}
                    for region, maps in regions.items()}
             for kind, regions in varied.items()}
    return {"build_s": built - start, "compute_s": done - built, "hists": hists}


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--program", required=True, help="the JSON program benchmarks.agc wrote")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1, help="timed runs after the warm-up")
    args = p.parse_args()
    import ROOT

    ROOT.gROOT.SetBatch(True)
    ROOT.TH1.AddDirectory(False)
    if args.threads > 1:
        ROOT.EnableImplicitMT(args.threads)
    with open(args.program) as f:
        program = json.load(f)
    if not ROOT.gInterpreter.Declare(program["cpp"]):
        raise SystemExit("ROOT could not compile the C++ helpers")
    runs = [run(program, args.files) for _ in range(args.repeat + 1)]
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
