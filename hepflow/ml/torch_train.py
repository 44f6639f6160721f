"""PyTorch DistributedDataParallel training on the Dask workers that hold the feature blocks.

`prepare` leaves one block per chunk on the worker that read it. One task per
worker holding training events then runs the training loop there, as one
rank of a `torch.distributed` process group (gloo between CPUs, NCCL between
GPUs, rank 0's worker as the rendezvous): each rank trains on batches of its
own blocks (the same `batches` as `DataLoader`), DDP averages the gradients,
and every rank takes the same number of steps per epoch (a rank with fewer
events starts its events over), so no collective waits for a rank that ran
out. After each epoch the weighted validation loss is summed over all ranks,
so every rank takes the same early-stopping decision; rank 0 returns the best
model as TorchScript. The test AUC is then computed as for `train_xgboost`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.ml.batching import Arrays, BatchOptions, batches
from hepflow.ml.bundle import Bundle
from hepflow.ml.device import DeviceChoice, backend, check_choice, import_torch, resolve
from hepflow.ml.errors import PlanError, TrainingError, check_count
from hepflow.ml.features import Features
from hepflow.ml.normalise import Method, Normalisation
from hepflow.ml.prepare import Block, PreparedData, prepared_for, split_arrays
from hepflow.ml.results import TrainResult, finish
from hepflow.ml.split import TRAIN, VALIDATION

ModelFn = Callable[[int], Any]
OptimizerFn = Callable[[Any], Any]
LossFn = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class RankPlan:
    """What one rank needs to know: where the group meets, and how long an epoch is."""

    rank: int
    world: int
    address: str
    port: int
    local_rank: int
    steps: int
    epochs: int
    patience: int | None
    device: DeviceChoice
    options: BatchOptions
    classes: int
    timeout_s: float


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _host(address: str) -> str:
    return address.split("://", 1)[-1].rsplit(":", 1)[0]


def _loss_fn(torch: Any, classes: int, loss: LossFn | None) -> LossFn:
    """Per-event weighted loss: BCE on logits for two classes, cross-entropy for more."""
    if loss is not None:
        return loss
    if classes == 2:
        def bce(out: Any, y: Any, w: Any) -> Any:
            per = torch.nn.functional.binary_cross_entropy_with_logits(
                out.reshape(-1), y, reduction="none")
            return (per * w).sum() / w.sum().clamp_min(1e-12)
        return bce

    def cross_entropy(out: Any, y: Any, w: Any) -> Any:
        per = torch.nn.functional.cross_entropy(out, y.long(), reduction="none")
        return (per * w).sum() / w.sum().clamp_min(1e-12)
    return cross_entropy


class _Scored:
    """Builds the module the bundle stores: the model followed by sigmoid or softmax."""

    @staticmethod
    def wrap(torch: Any, model: Any, classes: int) -> Any:
        class Scored(torch.nn.Module):  # type: ignore[name-defined,misc]
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: Any) -> Any:
                out = self.inner(x)
                return torch.sigmoid(out) if classes == 2 else torch.softmax(out, dim=-1)

        return Scored(model)


def to_torchscript(model: Any, width: int, classes: int) -> bytes:
    """The trained model, on the CPU, with its output turned into scores, as TorchScript bytes."""
    torch = import_torch()
    scored = _Scored.wrap(torch, copy.deepcopy(model).cpu().eval(), classes)
    with torch.no_grad():
        traced = torch.jit.trace(scored, torch.zeros((2, width), dtype=torch.float32))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def _cycle(arrays: list[Arrays], options: BatchOptions, epoch: int, rank: int,
           ) -> Iterator[Arrays]:
    """This rank's batches, its events started over as often as the steps need."""
    for turn in itertools.count():
        rng = options.rng(epoch, 1000 * rank + turn)
        order = rng.permutation(len(arrays)) if options.shuffle else range(len(arrays))
        yield from batches((arrays[i] for i in order), options, rng)


def run_rank(plan: RankPlan, model_fn: ModelFn, optimizer_fn: OptimizerFn | None,
             loss: LossFn | None, features: Features, norm: Normalisation,
             scale: dict[int, float] | None, *blocks: Block) -> dict[str, Any]:
    """One rank's training loop (a task on its worker): returns history, and rank 0 the model."""
    torch = import_torch()
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    device = resolve(plan.device, plan.local_rank)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(backend(device), init_method=f"tcp://{plan.address}:{plan.port}",
                            rank=plan.rank, world_size=plan.world,
                            timeout=_dt.timedelta(seconds=plan.timeout_s))
    try:
        torch.manual_seed(plan.options.set_seed)
        train = [split_arrays(b, features, norm, TRAIN, scale) for b in blocks]
        train = [a for a in train if len(a[1])]
        valid = [split_arrays(b, features, norm, VALIDATION, scale) for b in blocks]
        model = model_fn(features.n_inputs)
        if not isinstance(model, torch.nn.Module):
            raise TrainingError(f"model_fn must return a torch.nn.Module, got "
                                f"{type(model).__name__}")
        model = model.to(device)
        ddp = DistributedDataParallel(model, device_ids=[device] if device != "cpu" else None)
        optimizer = (optimizer_fn(ddp.parameters()) if optimizer_fn is not None
                     else torch.optim.Adam(ddp.parameters(), lr=1e-3))
        loss_fn = _loss_fn(torch, plan.classes, loss)
        history: dict[str, list[float]] = {"train_loss": [], "validation_loss": []}
        best, best_state, waited = math.inf, None, 0
        started = time.perf_counter()
        for epoch in range(plan.epochs):
            ddp.train()
            total = torch.zeros(2, dtype=torch.float64, device=device)
            stream = _cycle(train, plan.options, epoch, plan.rank)
            for x, y, w in itertools.islice(stream, plan.steps):
                xt, yt, wt = (torch.from_numpy(a).to(device) for a in (x, y, w))
                optimizer.zero_grad()
                value = loss_fn(ddp(xt), yt, wt)
                value.backward()
                optimizer.step()
                total += torch.stack([value.detach().double() * wt.sum().double(),
                                      wt.sum().double()])
            dist.all_reduce(total)
            history["train_loss"].append(float(total[0] / total[1].clamp_min(1e-300)))
            val = _validation_loss(torch, model, loss_fn, valid, device)
            dist.all_reduce(val)
            if float(val[1]) > 0:
                current = float(val[0] / val[1])
                history["validation_loss"].append(current)
                if current < best:
                    best, waited = current, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    waited += 1
                    if plan.patience is not None and waited >= plan.patience:
                        break
        seconds = time.perf_counter() - started
        if best_state is not None:
            model.load_state_dict(best_state)
        out: dict[str, Any] = {"rank": plan.rank, "device": device, "history": history,
                               "seconds": seconds, "epochs": len(history["train_loss"]),
                               "events": int(sum(len(a[1]) for a in train))}
        if plan.rank == 0:
            out["model"] = to_torchscript(model, features.n_inputs, plan.classes)
            out["best_epoch"] = (int(np.argmin(history["validation_loss"])) + 1
                                 if history["validation_loss"] else len(history["train_loss"]))
        return out
    finally:
        dist.destroy_process_group()


def _validation_loss(torch: Any, model: Any, loss_fn: LossFn, arrays: list[Arrays],
                     device: str) -> Any:
    """(sum of weight x loss, sum of weight) over this rank's validation events."""
    out = torch.zeros(2, dtype=torch.float64, device=device)
    model.eval()
    with torch.no_grad():
        for x, y, w in arrays:
            if len(y):
                xt, yt, wt = (torch.from_numpy(a).to(device) for a in (x, y, w))
                out += torch.stack([loss_fn(model(xt), yt, wt).double() * wt.sum().double(),
                                    wt.sum().double()])
    return out


def _ranks(prepared: PreparedData) -> list[tuple[str, list[Any], int]]:
    """(worker, its blocks, its training events) for each worker holding training events."""
    held = prepared.client.who_has(prepared.blocks)
    per: dict[str, tuple[list[Any], list[int]]] = {}
    for block, n in zip(prepared.blocks, prepared.counts(TRAIN), strict=True):
        owners = sorted(held.get(block.key, ()))
        if not owners:
            raise TrainingError("a prepared block is on no worker (was it released?)")
        entry = per.setdefault(owners[0], ([], []))
        entry[0].append(block)
        entry[1].append(n)
    return [(w, blocks, sum(counts)) for w, (blocks, counts) in sorted(per.items())
            if sum(counts)]


def train_torch(df: Any, features: Features | None = None, model_fn: ModelFn | None = None,
                loss: LossFn | None = None, optimizer: OptimizerFn | None = None,
                epochs: int = 10, *, batch_size: int = 256, batches_in_memory: int = 10,
                early_stopping_patience: int | None = 3, device: str = "auto",
                normalisation: Method = "standard", balance_classes: bool = False,
                set_seed: int = 0, workers: Sequence[str] | None = None,
                timeout_s: float = 600.0, client: Any = None) -> TrainResult:
    """Train a PyTorch model with DistributedDataParallel on the workers holding the events.

    `model_fn(n_inputs)` returns a `torch.nn.Module` whose output is one logit
    per event (two classes) or one per class; `loss(output, y, w)` (default:
    weighted BCE on logits or cross-entropy) and `optimizer(parameters)`
    (default Adam, lr 1e-3) may be given. `device` is "auto", "cpu" or "cuda",
    picked on each worker. Training stops after `early_stopping_patience`
    epochs without a better validation loss and keeps the best epoch's model.
    Returns a `TrainResult` whose bundle holds the model as TorchScript;
    `hepflow.ml.to_onnx(result.bundle)` gives its ONNX twin.
    """
    check_count(epochs, "epochs")
    check_count(early_stopping_patience, "early_stopping_patience", optional=True)
    choice = check_choice(device)
    if model_fn is None or not callable(model_fn):
        raise PlanError("train_torch(df, features, model_fn, ...): model_fn must be a callable "
                        "n_inputs -> torch.nn.Module")
    if optimizer is not None and not callable(optimizer):
        raise PlanError("optimizer must be a callable parameters -> torch.optim.Optimizer")
    if loss is not None and not callable(loss):
        raise PlanError("loss must be a callable (output, y, w) -> scalar tensor")
    options = BatchOptions(batch_size, batches_in_memory, True, False, set_seed)
    spec = df.features if isinstance(df, PreparedData) else features
    if spec is not None and spec.regression:
        raise PlanError("train_torch classifies only, for now; train a regression with "
                        "train_xgboost or train_keras")
    import_torch()
    prepared = prepared_for("train_torch", df, features, normalisation=normalisation,
                            client=client)
    classes = prepared.summary.classes
    if classes != list(range(len(classes))):
        raise PlanError(f"labels must be the classes 0..K-1, found {classes}")
    client = prepared.client
    ranks = _ranks(prepared)
    if workers is not None:
        ranks = [r for r in ranks if r[0] in set(workers)]
        if not ranks:
            raise PlanError("train_torch(workers=...): none of these workers holds events")
        ranks = _rebalance(prepared, ranks)
    steps = max(math.ceil(n / batch_size) for _, _, n in ranks)
    master = ranks[0][0]
    port = client.submit(_free_port, workers=[master], allow_other_workers=False,
                         pure=False).result()
    hosts = [_host(w) for w, _, _ in ranks]
    scale = prepared.class_scale(balance_classes)
    start = time.perf_counter()
    futures = []
    for rank, (worker, blocks, _) in enumerate(ranks):
        plan = RankPlan(rank, len(ranks), _host(master), port, hosts[:rank].count(hosts[rank]),
                        steps, epochs, early_stopping_patience, choice, options,
                        max(2, len(classes)), timeout_s)
        futures.append(client.submit(run_rank, plan, model_fn, optimizer, loss,
                                     prepared.features, prepared.normalisation, scale,
                                     *blocks, workers=[worker], allow_other_workers=False,
                                     pure=False))
    try:
        outputs = client.gather(futures)
    except TrainingError:
        raise
    except Exception as err:
        raise TrainingError(f"PyTorch training failed on a worker: {type(err).__name__}: "
                            f"{err}") from err
    seconds = time.perf_counter() - start
    lead = outputs[0]
    bundle = Bundle("torch", lead["model"], prepared.features, prepared.normalisation,
                    prepared.features.class_names(classes), dict(prepared.provenance))
    extra = {"best_epoch": lead["best_epoch"], "epochs_run": lead["epochs"],
             "steps_per_epoch": steps, "batch_size": batch_size, "workers": len(ranks),
             "devices": [o["device"] for o in outputs],
             "torch_version": import_torch().__version__}
    ranks_info = [{k: o[k] for k in ("rank", "device", "seconds", "events", "epochs")}
                  for o in outputs]
    return finish(bundle, prepared, lead["history"], seconds, ranks_info, extra=extra)


def _rebalance(prepared: PreparedData, ranks: list[tuple[str, list[Any], int]],
               ) -> list[tuple[str, list[Any], int]]:
    """Give the blocks of workers left out to the chosen ones, round-robin."""
    chosen = {w for w, _, _ in ranks}
    per = {w: (list(b), n) for w, b, n in ranks}
    names = sorted(chosen)
    counts = dict(zip(prepared.blocks, prepared.counts(TRAIN), strict=True))
    held = prepared.client.who_has(prepared.blocks)
    i = 0
    for block in prepared.blocks:
        owners = held.get(block.key, ())
        if not set(owners) & chosen:
            worker = names[i % len(names)]
            blocks, n = per[worker]
            per[worker] = ([*blocks, block], n + counts[block])
            i += 1
    return [(w, b, n) for w, (b, n) in sorted(per.items())]


__all__ = ["RankPlan", "run_rank", "to_torchscript", "train_torch"]
