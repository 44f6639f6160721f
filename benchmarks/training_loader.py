"""Feeding a training loop: events/s and client peak memory, three ways; DDP time per epoch.

Run as ``python -m benchmarks.training_loader [--events 2000000 --files 8]`` (or
``python -m benchmarks.training --loader``).

On the dimuon benchmark's NanoAOD-like sample (generated once in
``./bench-sample``), Drell-Yan vs ttbar events (QCD filtered out) with 20
flat features, label and genWeight, batches of ``--batch``:

* **DataLoader.as_numpy()** and **DataLoader.as_torch()** on 2 process
  workers: the workers read and prepare chunks, batches stream to this
  process (shuffled through the buffer); events/s over the whole epoch,
  reading included. Also from a `prepare`d selection (blocks already on the
  workers: an epoch after the first), one epoch per loop and
  ``--loader-epochs`` epochs in one loop (the window of chunks in flight
  runs on across epochs, as in training).
* **AsNumpy + torch.utils.data.DataLoader**: the whole selection in the
  client's memory, then PyTorch's own shuffling loader over a TensorDataset,
  a whole batch per fetch (``BatchSampler``; one fetch per event was 6x slower).
* **ROOT RDataLoader** (ROOT 6.40, ``/work/rootenv/bin/python`` or
  ``--root-python``), one process, when available.

Client peak memory is the peak of the client's traced allocations during a
second run of each way (tracemalloc; the events/s come from the first, untraced
run); for ROOT, the growth of its process's peak resident set.
Then ``train_torch`` (a 64-64-1 MLP) on 1 and 2 workers: seconds per epoch.
Target: as_numpy() >= 1M events/s on 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.dimuon import ensure_sample
from hepflow.bench.smoke import sized

TARGET_EVENTS_PER_S = 1_000_000
FLAT = ("MET_pt", "MET_phi", "nJet", "nMuon", "nElectron", "CaloMET_pt", "CaloMET_phi",
        "CaloMET_sumEt", "ChsMET_pt", "ChsMET_phi", "ChsMET_sumEt", "GenMET_pt", "GenMET_phi",
        "DeepMETResolutionTune_pt", "DeepMETResolutionTune_phi", "DeepMETResponseTune_pt",
        "DeepMETResponseTune_phi", "LHE_HT", "LHE_Vpt", "GenVtx_z", "BeamSpot_z",
        "BeamSpot_sigmaZ")


class PeakMemory:
    """Peak of this process's traced allocations (numpy arrays included) during the run.

    tracemalloc counts what the run holds at its worst, whatever the allocator
    kept from earlier runs; the resident set would hide reused pages.
    """

    def __enter__(self) -> PeakMemory:
        tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


def columns(df: Any) -> list[str]:
    """20 one-value-per-event float columns of the sample."""
    names = set(df.GetColumnNames())
    return [c for c in FLAT if c in names][:20]


def selection(files: Sequence[str], client: Any) -> Any:
    import hepflow

    df = hepflow.RDataFrame("Events", list(files), client=client)
    return df.Filter("process != 2", "DY or ttbar").Define("is_ttbar", "process == 1")


def timed(name: str, run: Callable[[], int]) -> dict[str, Any]:
    """Events/s from a plain run; the peak from a second run under tracemalloc, whose
    bookkeeping on every allocation slowed the client's side by a third."""
    start = time.perf_counter()
    events = run()
    seconds = time.perf_counter() - start
    with PeakMemory() as memory:
        again = run()
    assert again == events, f"{name}: {events} events, then {again}"
    out = {"way": name, "events": events, "seconds": seconds,
           "events_per_s": events / seconds, "client_peak_mib": memory.mib,
           "load_1min": os.getloadavg()[0]}
    print(f"  {name:<42} {events:>10,} events {seconds:>7.2f} s {events / seconds:>12,.0f}/s "
          f"peak {memory.mib:,.1f} MiB  load {out['load_1min']:.1f}", flush=True)
    return out


def drain(batches: Any) -> int:
    return sum(len(b[1]) for b in batches)


def feeding(files: Sequence[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    import distributed
    import torch

    import hepflow.ml as ml
    from hepflow.cluster import local_cluster
    from hepflow.ml.prepare import columns_to_inputs

    out = []
    with local_cluster(2) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        df = selection(files, client)
        spec = ml.Features(columns(df), label="is_ttbar", weight="genWeight",
                           split=ml.Split(1.0, 0.0, 0.0))
        print(f"  {len(spec.flat)} features", flush=True)
        drain(ml.DataLoader(df, spec, args.batch))  # warm-up: imports, page cache

        out.append(timed("DataLoader.as_numpy() (reads, 2 workers)",
                         lambda: drain(ml.DataLoader(df, spec, args.batch).as_numpy())))
        out.append(timed("DataLoader.as_torch() (reads, 2 workers)",
                         lambda: drain(ml.DataLoader(df, spec, args.batch).as_torch())))
        prepared = ml.prepare(df, spec, normalisation="none")
        out.append(timed("DataLoader(prepared).as_numpy() (2 workers)",
                         lambda: drain(ml.DataLoader(prepared, batch_size=args.batch))))
        out.append(timed("DataLoader(prepared).as_torch() (2 workers)",
                         lambda: drain(ml.DataLoader(prepared,
                                                     batch_size=args.batch).as_torch())))
        out.append(timed(f"DataLoader(prepared, epochs={args.loader_epochs}).as_numpy()",
                         lambda: drain(ml.DataLoader(prepared, batch_size=args.batch,
                                                     epochs=args.loader_epochs))))
        out.append(timed(f"DataLoader(prepared, epochs={args.loader_epochs}).as_torch()",
                         lambda: drain(ml.DataLoader(prepared, batch_size=args.batch,
                                                     epochs=args.loader_epochs).as_torch())))
        prepared.release()

        def as_numpy_then_torch() -> int:
            cols = df.AsNumpy([*spec.flat, "is_ttbar", "genWeight"])
            x = columns_to_inputs(spec, ml.loader.identity_normalisation(spec), cols)
            data = torch.utils.data.TensorDataset(
                torch.from_numpy(x), torch.from_numpy(cols["is_ttbar"].astype("float32")),
                torch.from_numpy(cols["genWeight"].astype("float32")))
            # whole batches per fetch (a tensor of indices), not one __getitem__ per event:
            # the fast form of PyTorch's own loader for in-memory tensors
            batches = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(data),
                                                    args.batch, drop_last=False)
            loader = torch.utils.data.DataLoader(data, batch_size=None, sampler=batches)
            return drain(loader)

        out.append(timed("AsNumpy + torch.utils.data.DataLoader", as_numpy_then_torch))
        out.extend(root_rdataloader(files, list(spec.flat), args))
    return out


_ROOT_SCRIPT = r"""
import json, resource, sys, time
import ROOT
files, columns, batch = json.loads(sys.argv[1])
ROOT.EnableImplicitMT(2)
df = ROOT.RDataFrame("Events", files).Filter("process != 2").Define(
    "is_ttbar", "float(process == 1)").Define("w", "float(genWeight)")
cols = [f"f{i}" for i in range(len(columns))]
for c, name in zip(cols, columns):
    df = df.Define(c, f"float({name})")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
loader = ROOT.Experimental.ML.RDataLoader(df, batch_size=batch, columns=cols + ["is_ttbar", "w"],
                                          target="is_ttbar", weights="w", shuffle=True,
                                          drop_remainder=False, set_seed=1)
events = sum(len(b[1]) for b in loader.as_numpy())
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"events": events, "seconds": seconds, "peak_kib": peak - base}))
"""


def root_rdataloader(files: Sequence[str], flat: list[str],
                     args: argparse.Namespace) -> list[dict[str, Any]]:
    """ROOT's RDataLoader on the same selection, in its own process (2 threads)."""
    python = Path(args.root_python)
    if not python.is_file():
        print(f"  ROOT RDataLoader: skipped ({python} not found)")
        return []
    done = subprocess.run([str(python), "-c", _ROOT_SCRIPT,
                           json.dumps([list(files), flat, args.batch])],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        print(f"  ROOT RDataLoader: failed: {done.stderr.strip().splitlines()[-1:]}")
        return []
    r = json.loads(done.stdout.strip().splitlines()[-1])
    row = {"way": "ROOT RDataLoader.as_numpy() (1 process, 2 threads)", "events": r["events"],
           "seconds": r["seconds"], "events_per_s": r["events"] / r["seconds"],
           "client_peak_mib": r["peak_kib"] / 1024}
    print(f"  {row['way']:<42} {row['events']:>10,} events {row['seconds']:>7.2f} s "
          f"{row['events_per_s']:>12,.0f}/s peak {row['client_peak_mib']:,.1f} MiB "
          "(ru_maxrss)", flush=True)
    return [row]


def ddp(files: Sequence[str], workers: int, args: argparse.Namespace) -> dict[str, Any]:
    import distributed
    import torch

    import hepflow.ml as ml
    from hepflow.cluster import local_cluster

    def mlp(n: int) -> Any:
        return torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.ReLU(),
                                   torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                   torch.nn.Linear(64, 1))

    with local_cluster(workers) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        df = selection(files, client)
        spec = ml.Features(columns(df), label="is_ttbar", weight="genWeight")
        prepared = ml.prepare(df, spec)
        result = ml.train_torch(prepared, model_fn=mlp, epochs=args.epochs,
                                batch_size=args.ddp_batch, early_stopping_patience=None)
        per_epoch = max(w["seconds"] for w in result.workers) / args.epochs
        out = {"workers": workers, "seconds_per_epoch": per_epoch,
               "train_events": prepared.summary.split_events()["train"],
               "test_auc": result.test_auc}
        prepared.release()
    print(f"  train_torch on {workers} worker(s): {per_epoch:.2f} s/epoch "
          f"({out['train_events']:,} training events, batch {args.ddp_batch}), "
          f"test AUC {out['test_auc']:.4f}", flush=True)
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.training_loader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=sized(2_000_000, 20_000),
                   help="events in the sample")
    p.add_argument("--files", type=int, default=sized(8, 2), help="files in the sample")
    p.add_argument("--batch", type=int, default=4096, help="batch size of the feeding runs")
    p.add_argument("--loader-epochs", type=int, default=sized(5, 2),
                   help="epochs of the multi-epoch DataLoader runs (the prefetch window runs "
                        "across epochs, so only the first waits for it to fill)")
    p.add_argument("--ddp-batch", type=int, default=1024, help="batch size per DDP rank")
    p.add_argument("--epochs", type=int, default=sized(2, 1), help="DDP epochs")
    p.add_argument("--workers", default="1,2", help="DDP worker counts, e.g. 1,2 ('' skips)")
    p.add_argument("--root-python", default="/work/rootenv/bin/python",
                   help="a Python with ROOT 6.40 for RDataLoader")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"),
                   help="where the sample is generated and cached (default ./bench-sample)")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    files = ensure_sample(outdir, args.events, args.files)
    print("-- feeding a training loop", flush=True)
    rows = feeding(files, args)
    results: dict[str, Any] = {"feeding": rows, "ddp": [], "load_average": os.getloadavg()}
    for n in [int(w) for w in args.workers.split(",") if w.strip()]:
        print(f"-- DDP on {n} worker(s)", flush=True)
        results["ddp"].append(ddp(files, n, args))
    best = next(r for r in rows if r["way"].startswith("DataLoader.as_numpy()"))
    verdict = "OK" if best["events_per_s"] >= TARGET_EVENTS_PER_S else "BELOW TARGET"
    print(f"DataLoader.as_numpy() on 2 workers: {best['events_per_s']:,.0f} events/s "
          f"(target >= {TARGET_EVENTS_PER_S:,}): {verdict}; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
