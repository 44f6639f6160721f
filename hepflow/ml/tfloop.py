"""The Keras training loop that runs on each Dask worker (or in this process, locally).

Why a loop of our own and not `model.fit`: with Keras 3, `fit` under
`MultiWorkerMirroredStrategy` fails (keras-team/keras#20585: it reduces a
tuple of per-replica batches across workers while building the model, and
reduces scalar logs along axis 0). The loop here uses only the public pieces
the user's compiled model provides — its layers, its compiled loss and its
optimizer, whose `apply_gradients` all-reduces the gradients across workers —
and it controls what distributed training needs controlled:

* each worker feeds `tf.data` from its own blocks, shuffled in a buffer and
  repeated, and takes exactly `steps_per_epoch` steps of `batch_size`, so no
  worker ever waits for a step another will not take;
* the loss is the weighted mean over the global batch (event weights included);
* validation runs a fixed number of batches per worker, padded with zero-weight
  events, so the validation loss is exact and identical on every worker, which
  keeps early stopping in lock-step.

TensorFlow can configure collective ops only once per process, so the cluster
spec used by a worker process is remembered here and reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.ml.progress import line, report
from hepflow.ml.tfsetup import import_keras, import_tf

_state: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class LoopConfig:
    """How to train, identical on every worker."""

    input_shape: tuple[int, ...]
    epochs: int
    batch_size: int  # per worker
    steps_per_epoch: int
    validation_steps: int
    shuffle_buffer: int
    seed: int
    patience: int | None
    loss_scale: float  # global batch x mean weight: the loss denominator
    timeout: float


def registered_spec() -> list[str] | None:
    """The cluster spec this process's TensorFlow collectives were set up with, if any."""
    return _state.get("spec")


def _strategy(spec: Sequence[str] | None, index: int, timeout: float) -> Any:
    """The distribution strategy: default (local) or multi-worker over `spec`."""
    tf = import_tf()
    if spec is None:
        return tf.distribute.get_strategy()
    with _lock:
        if _state.get("spec") == list(spec) and _state.get("index") == index:
            return _state["strategy"]
        if "spec" in _state:
            raise RuntimeError(
                f"TensorFlow collectives in this worker process were set up for "
                f"{_state['spec']}; they cannot be set up again for {list(spec)}")
        _limit_threads(tf)
        # TF_CONFIG must be in the environment before the strategy is created.
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": list(spec)},
                                              "task": {"type": "worker", "index": index}})
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=float(timeout))
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _state.update(spec=list(spec), index=index, strategy=strategy)
        return strategy


def _limit_threads(tf: Any) -> None:
    """One TensorFlow compute thread per Dask worker thread, so workers do not fight.

    Dask gives each worker process a number of threads (cores); TensorFlow's
    default would use every core in every worker process.
    """
    try:
        import distributed

        threads = int(distributed.get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, threads))
    except RuntimeError:  # the context already exists: too late to change, and harmless
        pass


def check_model_fn(model_fn: Callable[..., Any], input_shape: tuple[int, ...]) -> str:
    """'' if `model_fn(input_shape)` gives a compiled Keras model, else what is wrong."""
    keras = import_keras()
    try:
        model = model_fn(input_shape)
    except Exception as exc:  # noqa: BLE001 - reported to the user as a plan error
        return f"model_fn{input_shape} raised {type(exc).__name__}: {exc}"
    return _model_problem(keras, model, input_shape)


def _model_problem(keras: Any, model: Any, input_shape: tuple[int, ...]) -> str:
    if not isinstance(model, keras.Model):
        return (f"model_fn must return a compiled keras.Model, got {type(model).__name__}")
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        return "model_fn must return a *compiled* model: call model.compile(optimizer, loss)"
    try:
        out = model(np.zeros((2, *input_shape), np.float32), training=False)
    except Exception as exc:  # noqa: BLE001 - reported to the user as a plan error
        return f"the model does not accept inputs of shape (batch, {input_shape}): {exc}"
    if len(getattr(out, "shape", ())) != 2:
        return f"the model's output must be (batch, classes or 1), got {out.shape}"
    return ""


def _per_example_loss(keras: Any, model: Any) -> Callable[..., Any]:
    """The compiled loss, per event (unreduced)."""
    loss = model.loss
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError("models with several outputs/losses are not supported")
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    if isinstance(loss, keras.losses.Loss):
        return loss.call
    return loss


def _local(strategy: Any, value: Any) -> Any:
    return strategy.experimental_local_results(value)[0]


def _concat(parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return (np.zeros((0, width), np.float32), np.zeros(0, np.float32),
                np.zeros(0, np.float32))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for w in weights:
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def _epoch_done(index: int, epochs: int, history: Mapping[str, list[float]]) -> None:
    """The chief (worker 0) reports the epoch's losses to the client."""
    if index == 0:
        latest = {name: values[-1] for name, values in history.items()}
        report(line("keras epoch", len(history["loss"]), epochs, latest))


def run(model_fn: Callable[..., Any], cfg: LoopConfig,
        train: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        validation: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        spec: Sequence[str] | None = None, index: int = 0) -> dict[str, Any]:
    """Train on this worker's blocks; returns history, step counts, weights digest (and
    the saved model from the chief, worker 0)."""
    began = time.perf_counter()
    tf = import_tf()
    keras = import_keras()
    strategy = _strategy(spec, index, cfg.timeout)
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        model = model_fn(cfg.input_shape)
        problem = _model_problem(keras, model, cfg.input_shape)
        if problem:
            raise ValueError(problem)
        model.optimizer.build(model.trainable_variables)
    per_example = _per_example_loss(keras, model)
    width = int(np.prod(cfg.input_shape))
    x, y, w = _concat(train, width)
    if len(y) == 0:
        raise ValueError("this worker got no training events")
    xv, yv, wv = _concat(validation, width)
    probe = model(np.zeros((1, *cfg.input_shape), np.float32), training=False)
    one_output = int(probe.shape[-1]) == 1
    if one_output:
        y, yv = y[:, None], yv[:, None]
    # Validation: exactly validation_steps batches per worker, padded with zero weight.
    padded = cfg.validation_steps * cfg.batch_size
    if cfg.validation_steps:
        extra = padded - len(yv)
        xv = np.concatenate([xv, np.zeros((extra, width), np.float32)])
        yv = np.concatenate([yv, np.zeros((extra, *yv.shape[1:]), np.float32)])
        wv = np.concatenate([wv, np.zeros(extra, np.float32)])
    batch = cfg.batch_size
    buffer = max(1, min(cfg.shuffle_buffer, len(y)))

    def train_data(context: Any) -> Any:
        data = tf.data.Dataset.from_tensor_slices((x, y, w))
        data = data.shuffle(buffer, seed=cfg.seed + index, reshuffle_each_iteration=True)
        return data.repeat().batch(batch, drop_remainder=True).prefetch(2)

    def val_data(context: Any) -> Any:
        return tf.data.Dataset.from_tensor_slices((xv, yv, wv)).batch(batch)

    scale = tf.constant(float(cfg.loss_scale), tf.float32)
    # Running (weighted loss, weight) sums for train and validation. Each worker adds
    # its share; reading one in cross-replica context sums over all workers (one
    # collective per epoch instead of one per step).
    with strategy.scope():
        sums = [tf.Variable(tf.zeros(2, tf.float64),
                            trainable=False,
                            synchronization=tf.VariableSynchronization.ON_READ,
                            aggregation=tf.VariableAggregation.SUM) for _ in range(2)]

    @tf.function
    def train_step(iterator: Any) -> Any:
        def step(xb: Any, yb: Any, wb: Any) -> Any:
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                local = tf.reduce_sum(tf.cast(per_example(yb, pred), tf.float32) * wb)
                loss = local / scale
                if model.losses:
                    loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            sums[0].assign_add(tf.cast(tf.stack([local, tf.reduce_sum(wb)]), tf.float64))
        strategy.run(step, args=next(iterator))

    @tf.function
    def val_step(batch_data: Any) -> Any:
        def step(xb: Any, yb: Any, wb: Any) -> Any:
            pred = model(xb, training=False)
            local = tf.reduce_sum(tf.cast(per_example(yb, pred), tf.float32) * wb)
            sums[1].assign_add(tf.cast(tf.stack([local, tf.reduce_sum(wb)]), tf.float64))
        strategy.run(step, args=batch_data)

    iterator = iter(strategy.distribute_datasets_from_function(train_data))
    history: dict[str, list[float]] = {"loss": []}
    if cfg.validation_steps:
        history["val_loss"] = []
    best, best_weights, waited, steps = math.inf, None, 0, 0
    for _epoch in range(cfg.epochs):
        before = np.asarray(sums[0].read_value(), dtype=np.float64)
        for _ in range(cfg.steps_per_epoch):
            train_step(iterator)
            steps += 1
        total = np.asarray(sums[0].read_value(), dtype=np.float64) - before
        history["loss"].append(float(total[0] / total[1]) if total[1] else float("nan"))
        if not cfg.validation_steps:
            _epoch_done(index, cfg.epochs, history)
            continue
        before = np.asarray(sums[1].read_value(), dtype=np.float64)
        for batch_data in strategy.distribute_datasets_from_function(val_data):
            val_step(batch_data)
        vtotal = np.asarray(sums[1].read_value(), dtype=np.float64) - before
        val = float(vtotal[0] / vtotal[1]) if vtotal[1] else float("nan")
        history["val_loss"].append(val)
        _epoch_done(index, cfg.epochs, history)
        if cfg.patience is None:
            continue
        if val < best:
            best, best_weights, waited = val, [v.copy() for v in model.get_weights()], 0
        else:
            waited += 1
            if waited > cfg.patience:
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    weights = model.get_weights()
    report: dict[str, Any] = {
        "index": index, "host": socket.gethostname(), "pid": os.getpid(),
        "events_train": len(y), "events_validation": int(np.count_nonzero(wv)),
        "steps_per_epoch": cfg.steps_per_epoch, "steps": steps,
        "epochs": len(history["loss"]), "history": history,
        "replicas": int(strategy.num_replicas_in_sync),
        "weights_digest": weights_digest(weights), "seconds": time.perf_counter() - began,
        "keras_version": keras.__version__, "tensorflow_version": tf.__version__,
    }
    if index == 0:
        with tempfile.TemporaryDirectory(prefix="hepflow-keras-") as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            report["model"] = path.read_bytes()
    return report


def worker_task(model_fn: Callable[..., Any], cfg: LoopConfig, spec: Sequence[str],
                index: int, train: Sequence[Any], validation: Sequence[Any],
                ) -> dict[str, Any]:
    """The Dask task pinned to one worker: train with its blocks (already local)."""
    return run(model_fn, cfg, train, validation, spec, index)


__all__ = ["LoopConfig", "check_model_fn", "registered_spec", "run",
           "weights_digest", "worker_task"]
