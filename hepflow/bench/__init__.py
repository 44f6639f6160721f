"""Benchmark harnesses run from the command line: `hepflow bench scaling|model`.

* `scaling`: strong and weak scaling runs of an analysis at several worker
  counts (`run_scaling`), with Amdahl/Gustafson fits;
* `pools`: clusters of exactly n workers for those runs;
* `model`: the extrapolation to 10, 100 and 1,000 workers from measured costs;
* `plot`: `scaling.json`, `scaling.png` and `scaling.html`;
* `cli`: the `hepflow bench` sub-commands.

A harness drives analyses (`hepflow.demo`, `hepflow.analysis`, clusters from
`hepflow.cluster`) and reads the measurements `hepflow.observe` collects; it
sits above both, so observe never imports it.
"""
