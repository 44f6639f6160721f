"""Keras training with `tf.distribute.MultiWorkerMirroredStrategy` across the Dask workers.

The user's model comes in MLaaS4HEP's contract: `model_fn(input_shape)`
returns a compiled Keras model. hepflow prepares the features on the workers,
gives each worker the blocks it already holds (moving a few only to even out
the counts), sets `TF_CONFIG` on each worker before its strategy exists, and
runs one long task per worker; the workers then synchronise gradients among
themselves through TensorFlow's collectives, not through Dask. With
`strategy="local"` the same loop runs in this process on gathered arrays, for
small data and debugging.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from hepflow.ml.bundle import Bundle
from hepflow.ml.errors import PlanError, TrainingError, check_count
from hepflow.ml.features import Features
from hepflow.ml.normalise import Method
from hepflow.ml.prepare import PreparedData, gather_split, prepare
from hepflow.ml.progress import shown
from hepflow.ml.results import TrainResult, finish
from hepflow.ml.split import TRAIN, VALIDATION
from hepflow.ml.tfloop import LoopConfig, check_model_fn, registered_spec, run
from hepflow.util.net import free_port


def _assign(sizes: Sequence[int], owners: Sequence[str], workers: Sequence[str],
            ) -> dict[str, list[int]]:
    """Blocks -> workers: keep each block where it is unless its owner is over its share.

    Greedy, largest blocks first; a block moves to the least loaded worker only
    when keeping it would push its owner beyond the even share by more than
    the block itself, so data moves only to even out a real imbalance.
    """
    share = sum(sizes) / max(1, len(workers))
    load = dict.fromkeys(workers, 0)
    out: dict[str, list[int]] = {w: [] for w in workers}
    for i in sorted(range(len(sizes)), key=lambda k: -sizes[k]):
        owner = owners[i] if owners[i] in load else min(load, key=load.__getitem__)
        lightest = min(load, key=load.__getitem__)
        if load[owner] + sizes[i] > share + sizes[i] / 2 and load[lightest] < load[owner]:
            owner = lightest
        load[owner] += sizes[i]
        out[owner].append(i)
    return {w: sorted(v) for w, v in out.items() if v}


def _mean_weight(prepared: PreparedData, balance: bool) -> float:
    scale = prepared.class_scale(balance) or {}
    weights = prepared.summary.class_weights
    total = sum(float(v[TRAIN]) * scale.get(k, 1.0) for k, v in weights.items())
    events = float(prepared.summary.events[TRAIN])
    mean = total / events if events else 1.0
    return mean if mean > 0 else 1.0


def _cluster_spec(client: Any, workers: Sequence[str]) -> list[str]:
    """host:port per worker for TensorFlow, reusing what the processes already set up."""
    from distributed.comm import get_address_host

    existing = client.run(registered_spec, workers=list(workers))
    specs = {tuple(s) if s else None for s in existing.values()}
    if specs == {None}:
        ports = client.run(free_port, "", workers=list(workers))  # every interface
        return [f"{get_address_host(w)}:{ports[w]}" for w in workers]
    if len(specs) == 1 and None not in specs:
        spec = list(next(iter(specs)))  # type: ignore[arg-type]
        hosts = [s.rsplit(":", 1)[0] for s in spec]
        if len(spec) == len(workers) and hosts == [get_address_host(w) for w in workers]:
            return spec
    raise TrainingError(
        "TensorFlow sets up its collective communication once per process, and these "
        "workers already trained with a different set of workers; restart them "
        "(client.restart()) or train on the same workers as before")


def train_keras(df: Any, features: Features | None, model_fn: Callable[..., Any], *,
                epochs: int = 10, batch_size: int = 1024, steps_per_epoch: int | None = None,
                shuffle_buffer: int = 10_000, patience: int | None = 3, seed: int = 0,
                strategy: Literal["multiworker", "local"] = "multiworker",
                normalisation: Method = "standard", balance_classes: bool = False,
                workers: Sequence[str] | None = None, timeout: float = 600.0,
                progress: bool = True, client: Any = None) -> TrainResult:
    """Train `model_fn(input_shape)` (a compiled Keras model) on the dataframe's events.

    `batch_size` is the global batch: each of N workers takes `batch_size / N`
    events per step and every worker takes the same `steps_per_epoch` (by
    default enough for the largest worker to see all its events once). Early
    stopping (`patience` epochs without a better validation loss) restores the
    best weights. `strategy="local"` trains in this process instead. `progress`
    prints each epoch's losses on this client.
    Returns a `TrainResult` (bundle, history, weighted test AUC, scores,
    and per-worker reports in `.workers`).
    """
    if not callable(model_fn):
        raise PlanError("model_fn must be a function input_shape -> compiled Keras model")
    if strategy not in ("multiworker", "local"):
        raise PlanError(f"strategy must be 'multiworker' or 'local', got {strategy!r}")
    check_count(epochs, "epochs")
    check_count(batch_size, "batch_size")
    check_count(steps_per_epoch, "steps_per_epoch", optional=True)
    check_count(patience, "patience", minimum=0, optional=True)
    check_count(shuffle_buffer, "shuffle_buffer", minimum=0)
    if isinstance(df, PreparedData):
        prepared = df
    else:
        if features is None:
            raise PlanError("train_keras(df, features, model_fn): features are missing")
        features.validate(df)
        prepared = None
    spec_features = prepared.features if prepared is not None else features
    assert spec_features is not None
    shape = (spec_features.n_inputs,)
    # Checked here, in this process: a worker that ran any TensorFlow op before
    # its multi-worker strategy exists can no longer set up collectives.
    problem = check_model_fn(model_fn, shape)
    if problem:
        raise PlanError(problem)
    if prepared is None:
        prepared = prepare(df, spec_features, normalisation=normalisation, client=client)
    mean_w = _mean_weight(prepared, balance_classes)
    start = time.perf_counter()
    if strategy == "local":
        report = _train_local(prepared, model_fn, shape, epochs, batch_size, steps_per_epoch,
                              shuffle_buffer, patience, seed, balance_classes, mean_w,
                              timeout)
        reports = [report]
    else:
        # distributed.wait/as_completed look the client up
        with prepared.client.as_current(), shown(prepared.client, progress):
            reports = _train_multiworker(prepared, model_fn, shape, epochs, batch_size,
                                         steps_per_epoch, shuffle_buffer, patience, seed,
                                         balance_classes, mean_w, workers, timeout)
    seconds = time.perf_counter() - start
    digests = {r["weights_digest"] for r in reports}
    if len(digests) != 1:
        raise TrainingError("the workers finished with different weights; the synchronous "
                            "training went out of step (please report this)")
    chief = next(r for r in reports if r["index"] == 0)
    bundle = Bundle("keras", chief.pop("model"), prepared.features, prepared.normalisation,
                    prepared.features.class_names(prepared.summary.classes),
                    dict(prepared.provenance))
    extra = {"strategy": strategy, "workers": len(reports), "epochs": chief["epochs"],
             "steps_per_epoch": chief["steps_per_epoch"], "batch_size": batch_size,
             "keras_version": chief["keras_version"],
             "tensorflow_version": chief["tensorflow_version"]}
    return finish(bundle, prepared, chief["history"], seconds, reports, extra)


def _train_local(prepared: PreparedData, model_fn: Callable[..., Any], shape: tuple[int, ...],
                 epochs: int, batch_size: int, steps: int | None, buffer: int,
                 patience: int | None, seed: int, balance: bool, mean_w: float,
                 timeout: float) -> dict[str, Any]:
    train = gather_split(prepared, TRAIN, balance=balance)
    validation = gather_split(prepared, VALIDATION, balance=balance)
    n = len(train[1])
    cfg = LoopConfig(shape, epochs, batch_size, steps or max(1, math.ceil(n / batch_size)),
                     math.ceil(len(validation[1]) / batch_size), buffer, seed, patience,
                     batch_size * mean_w, timeout)
    return run(model_fn, cfg, [train], [validation] if len(validation[1]) else [])


def _train_multiworker(prepared: PreparedData, model_fn: Callable[..., Any],
                       shape: tuple[int, ...], epochs: int, batch_size: int,
                       steps: int | None, buffer: int, patience: int | None, seed: int,
                       balance: bool, mean_w: float, chosen: Sequence[str] | None,
                       timeout: float) -> list[dict[str, Any]]:
    import distributed

    from hepflow.ml.tfloop import worker_task

    client = prepared.client
    workers = list(chosen) if chosen else sorted(client.scheduler_info()["workers"])
    train = prepared.split_futures(TRAIN, balance=balance)
    validation = prepared.split_futures(VALIDATION, balance=balance)
    distributed.wait([f for f, _ in train + validation])
    held = client.who_has([f for f, _ in train + validation])

    def owners(parts: Sequence[tuple[Any, int]]) -> list[str]:
        return [sorted(held.get(f.key, ("",)))[0] for f, _ in parts]

    by_worker = _assign([n for _, n in train], owners(train), workers)
    workers = [w for w in workers if w in by_worker]  # fewer blocks than workers: use fewer
    val_by_worker = _assign([n for _, n in validation], owners(validation), workers) \
        if validation else {}
    local_batch = max(1, math.ceil(batch_size / len(workers)))
    most = max(sum(train[i][1] for i in idx) for idx in by_worker.values())
    most_val = max((sum(validation[i][1] for i in idx) for idx in val_by_worker.values()),
                   default=0)
    cfg = LoopConfig(shape, epochs, local_batch,
                     steps or max(1, math.ceil(most / local_batch)),
                     math.ceil(most_val / local_batch), buffer, seed, patience,
                     local_batch * len(workers) * mean_w, timeout)
    spec = _cluster_spec(client, workers)
    tasks = []
    for index, worker in enumerate(workers):
        mine = [train[i][0] for i in by_worker[worker]]
        mine_val = [validation[i][0] for i in val_by_worker.get(worker, [])]
        tasks.append(client.submit(worker_task, model_fn, cfg, spec, index, mine, mine_val,
                                   workers=[worker], allow_other_workers=False, pure=False,
                                   key=f"hepflow-keras-train-{index}-{time.time_ns()}"))
    reports: list[dict[str, Any]] = []
    try:
        for fut in distributed.as_completed(tasks, timeout=timeout * max(1, epochs)):
            reports.append(fut.result())
    except Exception as exc:
        for fut in tasks:
            fut.cancel()
        if isinstance(exc, (PlanError, TrainingError)):
            raise
        if "configured at program startup" in str(exc):
            raise TrainingError(
                "TensorFlow already ran in these worker processes (e.g. a Keras Predict) "
                "before their multi-worker strategy was set up, which TensorFlow cannot "
                "undo; restart the workers (client.restart()) and train first") from exc
        raise TrainingError(f"multi-worker Keras training failed: {exc}") from exc
    reports.sort(key=lambda r: r["index"])
    for report, worker in zip(reports, workers, strict=True):
        report["worker"] = worker
    return reports


def model_from_bundle(bundle: Bundle) -> Any:
    """The Keras model of a bundle (loaded once per process)."""
    if bundle.kind != "keras":
        raise PlanError(f"this bundle holds a {bundle.kind} model, not a Keras one")
    return bundle.model


__all__ = ["model_from_bundle", "train_keras"]
