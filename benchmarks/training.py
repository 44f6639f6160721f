"""Training benchmark: feature preparation, xgboost.dask and Keras multi-worker, 1 and 2 workers.

Run as ``python -m benchmarks.training [--events 2000000 --files 8 --workers 1,2]``.

On the dimuon benchmark's NanoAOD-like sample (generated once in
``./bench-sample``), for each number of LocalCluster process workers:

* **prepare**: `hepflow.ml.prepare` of Drell-Yan vs ttbar events (QCD
  filtered out) with 3 flat features, 4 jets x (pt, b-tag) and 2 muon pts
  padded with masks, genWeight with the "abs" policy, the event-number split
  and the standardisation fitted in the same pass. Events/s counts the events
  *read* (the whole sample) per second of wall time, and per worker; the
  target is >= 100x MLaaS4HEP's ~1k events/s per worker, i.e. 100k/s/worker.
  One untimed warm-up (page cache, imports), then `--repeat` timed runs
  (the best is reported, as the least disturbed by the machine).
* **xgboost**: `train_xgboost` on those blocks, `--rounds` boosting rounds
  without early stopping (so every run does the same work); events/s =
  training events x rounds / seconds.
* **keras**: `train_keras` with MultiWorkerMirroredStrategy over all workers,
  a 64-64-1 MLP, `--epochs` epochs at a global batch of `--batch`; events/s =
  training events x epochs / seconds. A first untimed training imports
  TensorFlow on the workers and sets up its collectives.

The test AUC of each model is printed as a sanity check.

``--loader`` runs `benchmarks.training_loader` instead: events/s and client
peak memory of `DataLoader.as_torch()` on 2 workers, `AsNumpy` +
`torch.utils.data.DataLoader` and ROOT's `RDataLoader`, and `train_torch`
seconds per epoch on 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.dimuon import ensure_sample

#: MLaaS4HEP's event-by-event padding, per worker, from its paper.
BASELINE_EVENTS_PER_S = 1_000.0


def model_fn(input_shape: tuple[int, ...]) -> Any:
    """A small classifier in MLaaS4HEP's contract: input shape -> compiled Keras model."""
    import keras

    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def features() -> Any:
    import hepflow.ml as ml

    return ml.Features(["MET_pt", "nJet", "nMuon"],
                       [ml.Jagged(["Jet_pt", "Jet_btagDeepFlavB"], 4),
                        ml.Jagged("Muon_pt", 2)],
                       label="is_ttbar", weight="genWeight", negative_weights="abs",
                       classes=("Drell-Yan", "ttbar"))


def selection(files: Sequence[str], client: Any) -> Any:
    import hepflow

    df = hepflow.RDataFrame("Events", list(files), client=client)
    return df.Filter("process != 2", "DY or ttbar").Define("is_ttbar", "process == 1")


def bench_workers(files: Sequence[str], entries: int, workers: int,
                  args: argparse.Namespace) -> dict[str, Any]:
    import distributed

    import hepflow.ml as ml
    from hepflow.cluster import local_cluster

    out: dict[str, Any] = {"workers": workers}
    with local_cluster(workers) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        spec = features()
        warm = ml.prepare(selection(files, client), spec)
        warm.release()
        times = []
        prepared = None
        for _ in range(args.repeat):
            if prepared is not None:
                prepared.release()
            start = time.perf_counter()
            prepared = ml.prepare(selection(files, client), spec)
            times.append(time.perf_counter() - start)
        assert prepared is not None
        best = min(times)
        train_events = prepared.summary.split_events()["train"]
        out["prepare"] = {"seconds": best, "all_seconds": times, "events_read": entries,
                          "events_selected": prepared.events,
                          "events_per_s": entries / best,
                          "events_per_s_per_worker": entries / best / workers}
        result = ml.train_xgboost(prepared, params={"max_depth": 6, "eta": 0.1},
                                  num_boost_round=args.rounds, early_stopping_rounds=None)
        seconds = result.timings["train_s"]
        out["xgboost"] = {"seconds": seconds, "rounds": args.rounds,
                          "train_events": train_events,
                          "events_per_s": train_events * args.rounds / seconds,
                          "test_auc": result.test_auc}
        ml.train_keras(prepared, None, model_fn, epochs=1, batch_size=args.batch,
                       steps_per_epoch=5, patience=None)  # warm-up: TF import, collectives
        result = ml.train_keras(prepared, None, model_fn, epochs=args.epochs,
                                batch_size=args.batch, patience=None)
        seconds = result.timings["train_s"]
        out["keras"] = {"seconds": seconds, "epochs": args.epochs, "batch": args.batch,
                        "train_events": train_events,
                        "steps_per_epoch": result.workers[0]["steps_per_epoch"],
                        "events_per_s": train_events * args.epochs / seconds,
                        "test_auc": result.test_auc,
                        "workers_taking_part": len(result.workers)}
        prepared.release()
    return out


def report(results: Sequence[dict[str, Any]]) -> None:
    print()
    print(f"{'workers':>7}  {'stage':<8} {'seconds':>8} {'events/s':>12} "
          f"{'events/s/worker':>16}  notes")
    for r in results:
        n = r["workers"]
        p = r["prepare"]
        ratio = p["events_per_s_per_worker"] / BASELINE_EVENTS_PER_S
        print(f"{n:>7}  {'prepare':<8} {p['seconds']:>8.2f} {p['events_per_s']:>12,.0f} "
              f"{p['events_per_s_per_worker']:>16,.0f}  {p['events_read']:,} read, "
              f"{p['events_selected']:,} selected; {ratio:,.0f}x the 1k/s/worker baseline")
        for stage in ("xgboost", "keras"):
            s = r[stage]
            what = (f"{s['rounds']} rounds" if stage == "xgboost" else
                    f"{s['epochs']} epochs x {s['steps_per_epoch']} steps, batch {s['batch']}")
            print(f"{n:>7}  {stage:<8} {s['seconds']:>8.2f} {s['events_per_s']:>12,.0f} "
                  f"{s['events_per_s'] / n:>16,.0f}  {s['train_events']:,} training events, "
                  f"{what}, test AUC {s['test_auc']:.4f}")
    if len(results) > 1:
        base = results[0]
        for r in results[1:]:
            speedups = {stage: r[stage]["events_per_s"] / base[stage]["events_per_s"]
                        for stage in ("prepare", "xgboost", "keras")}
            print(f"speed-up {base['workers']} -> {r['workers']} workers: " +
                  ", ".join(f"{k} {v:.2f}x" for k, v in speedups.items()))
    worst = min(r["prepare"]["events_per_s_per_worker"] for r in results)
    verdict = "OK" if worst >= 100 * BASELINE_EVENTS_PER_S else "BELOW TARGET"
    print(f"feature preparation: {worst:,.0f} events/s/worker at worst "
          f"(target >= {100 * BASELINE_EVENTS_PER_S:,.0f}): {verdict}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=2_000_000, help="events in the sample")
    p.add_argument("--files", type=int, default=8, help="files in the sample")
    p.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    p.add_argument("--repeat", type=int, default=2, help="timed preparation runs")
    p.add_argument("--rounds", type=int, default=50, help="xgboost boosting rounds")
    p.add_argument("--epochs", type=int, default=2, help="Keras epochs")
    p.add_argument("--batch", type=int, default=4096, help="Keras global batch size")
    p.add_argument("--outdir", type=Path, default=Path("bench-sample"),
                   help="where the sample is generated and cached (default ./bench-sample)")
    p.add_argument("--json", type=Path, default=None, help="write a JSON summary here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if "--loader" in given:  # feeding a training loop and PyTorch DDP: its own benchmark
        from benchmarks.training_loader import main as loader_main

        return loader_main([a for a in given if a != "--loader"])
    args = parse_args(argv)
    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HEPFLOW_CACHE_DIR", str(outdir / ".hepflow-cache"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    files = ensure_sample(outdir, args.events, args.files)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    results = []
    for n in counts:
        print(f"-- {n} worker(s) ...", flush=True)
        results.append(bench_workers(files, args.events, n, args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
