"""From a dataframe to feature blocks held on the workers, in one distributed pass.

`prepare(df, features)` turns each chunk of the dataframe (after its Defines
and Filters, through `df.AsAwkward`) into a `Block` of numpy arrays on the
worker that read the chunk, and reduces per-chunk statistics into a `Summary`
from which the normalisation is fitted. The blocks stay on the workers as
Dask futures: xgboost's `DaskQuantileDMatrix` and each TensorFlow worker read
them where they are, and nothing but the small summary travels to the client.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np

from hepflow.ml.errors import PlanError
from hepflow.ml.features import Features, pad_values, raw_inputs, valid_matrix
from hepflow.ml.normalise import Method, Moments, Normalisation, Summary, merge_all
from hepflow.ml.progress import bar
from hepflow.ml.split import TRAIN
from hepflow.util.jsondata import jsonable
from hepflow.version import __version__

_FAN_IN = 8


@dataclass
class Block:
    """One chunk's prepared events: raw values, group masks, label, weight, split."""

    index: int
    values: np.ndarray  # (n, V) float32, padded slots 0
    mask: np.ndarray  # (n, M) bool, one column per jagged slot
    label: np.ndarray  # (n,) int64 classes, or float32 values for a regression
    weight: np.ndarray  # (n,) float32, after the negative-weight policy
    split: np.ndarray  # (n,) int8
    negative: int = 0
    dropped: int = 0

    def __len__(self) -> int:
        return int(self.label.shape[0])


def build_block(part: Mapping[str, Any], spec: Features, index: int) -> Block:
    """A chunk's columns by name (`Partition.columns`) -> a `Block`, vectorised."""
    columns = {name: part[name] for name in spec.read_columns}
    values, mask = raw_inputs(spec, columns)
    label_raw = np.asarray(_numpy(columns[spec.label_column]))
    if spec.regression:
        label = label_raw.astype(np.float32)
        if not np.all(np.isfinite(label)):
            raise PlanError(f"the regression target `{spec.label_column}` holds NaN or "
                            "infinite values; filter those events out first")
    else:
        label = label_raw.astype(np.int64)
        if label_raw.dtype.kind == "f" and not np.array_equal(label, label_raw):
            raise PlanError(f"the label `{spec.label_column}` holds non-integer values; "
                            "classification needs integer classes (or a boolean); for a "
                            "continuous target pass Features(..., task='regression')")
    n = label.shape[0]
    if spec.weight:
        weight = np.asarray(_numpy(columns[spec.weight]), dtype=np.float32)
    else:
        weight = np.ones(n, dtype=np.float32)
    split = spec.split.assign(np.asarray(_numpy(columns[spec.split.column])))
    negative = int(np.count_nonzero(weight < 0))
    dropped = 0
    if spec.negative_weights == "abs":
        weight = np.abs(weight)
    elif spec.negative_weights == "drop" and negative:
        keep = weight >= 0
        dropped = negative
        values, mask, label, weight, split = (values[keep], mask[keep], label[keep],
                                              weight[keep], split[keep])
    return Block(index, values, mask, label, weight, split, negative, dropped)


def _numpy(column: Any) -> np.ndarray:
    import awkward as ak

    return np.asarray(ak.to_numpy(column)) if isinstance(column, ak.Array) else \
        np.asarray(column)


def summarise(block: Block, spec: Features) -> Summary:
    """The block's share of the statistics (moments of the training split only)."""
    train = block.split == TRAIN
    valid = valid_matrix(spec, block.mask[train])
    moments = Moments.of(block.values[train], valid)
    events = np.bincount(block.split, minlength=3).astype(np.float64)[:3]
    class_events: dict[int, np.ndarray] = {}
    class_weights: dict[int, np.ndarray] = {}
    # a regression's events all count as one class: the event and weight totals
    classes = np.zeros(len(block), np.int64) if spec.regression else block.label
    for cls in np.unique(classes):
        sel = classes == cls
        class_events[int(cls)] = np.bincount(block.split[sel], minlength=3)[:3].astype(float)
        class_weights[int(cls)] = np.bincount(block.split[sel], weights=block.weight[sel],
                                              minlength=3)[:3]
    counts = np.bincount(block.split, minlength=3)
    target = Moments.of(block.label[train].astype(np.float64)) \
        if spec.regression else None
    return Summary(moments, events, class_events, class_weights, block.negative,
                   block.dropped, {block.index: (int(counts[0]), int(counts[1]),
                                                 int(counts[2]))}, target)


def _merge(*summaries: Summary) -> Summary:
    return merge_all(summaries)


def model_inputs(spec: Features, norm: Normalisation, values: np.ndarray,
                 mask: np.ndarray) -> np.ndarray:
    """The model's input matrix: normalised values (pads in masked slots), then the masks."""
    if not spec.jagged:  # every slot valid, no mask columns: nothing to pad or append
        return norm.apply(values, None, pad_values(spec))
    normed = norm.apply(values, valid_matrix(spec, mask), pad_values(spec))
    return np.concatenate([normed, mask.astype(np.float32)], axis=1)


def columns_to_inputs(spec: Features, norm: Normalisation,
                      columns: Mapping[str, Any]) -> np.ndarray:
    """Columns of a chunk (numpy or awkward) -> the model's input matrix, as in training."""
    values, mask = raw_inputs(spec, columns)
    return model_inputs(spec, norm, values, mask)


def split_arrays(block: Block, spec: Features, norm: Normalisation, split: int,
                 class_scale: Mapping[int, float] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, w) of one split of a block, ready for a model."""
    sel = block.split == split
    if sel.all():  # one split holds every event (e.g. Split(1, 0, 0)): no copies to select
        x = model_inputs(spec, norm, block.values, block.mask)
        y, w = block.label, block.weight
    else:
        x = model_inputs(spec, norm, block.values[sel], block.mask[sel])
        y, w = block.label[sel], block.weight[sel]
    if class_scale:
        factors = np.ones(int(max(class_scale) + 1), dtype=np.float32)
        for cls, f in class_scale.items():
            factors[cls] = f
        w = w * factors[y]
    return x, y.astype(np.float32), w.astype(np.float32)


def _client_of(df: Any, client: Any) -> Any:
    """The distributed client: the one given, else the dataframe's, else the default."""
    from hepflow.engine import client as clients

    chosen = client if client is not None else getattr(getattr(df, "_runner", None), "client", None)
    if chosen == "sync":
        raise PlanError("distributed training needs a distributed.Client; this dataframe "
                        "runs with client='sync' (pass client=... to the training call)")
    return clients.resolve(chosen)


def provenance(df: Any) -> dict[str, Any]:
    """Where the training events came from: dataset, selection plan, hepflow version."""
    out: dict[str, Any] = {"hepflow_version": __version__,
                           "created": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    graph = getattr(df, "_graph", None)
    source = getattr(graph, "source", None)
    infos = list(getattr(source, "data", None) or ())
    samples: dict[str, dict[str, Any]] = {}
    for info in infos:
        entry = samples.setdefault(getattr(info, "sample", "") or "", {"files": [],
                                                                       "entries": 0})
        entry["files"].append(getattr(info, "url", str(info)))
        entry["entries"] += int(getattr(info, "num_entries", 0))
    for name, sinfo in (getattr(graph, "samples", None) or {}).items():
        if name in samples:
            samples[name]["metadata"] = jsonable(dict(sinfo.metadata))
    out["dataset"] = {"tree": getattr(source, "tree", ""), "samples": samples}
    try:
        out["selection"] = df.explain()
    except Exception as exc:  # noqa: BLE001 - provenance must never stop a training
        out["selection"] = f"(cannot describe: {exc})"
    return out


@dataclass
class PreparedData:
    """Feature blocks on the workers (futures, one per chunk) and what was learned of them."""

    features: Features
    normalisation: Normalisation
    summary: Summary
    blocks: list[Any]
    client: Any
    provenance: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return int(self.summary.events.sum())

    def counts(self, split: int) -> list[int]:
        """Events of `split` in each block, in block order."""
        return [self.summary.chunks[i][split] for i in range(len(self.blocks))]

    def class_scale(self, balance: bool) -> dict[int, float] | None:
        """Per-class weight factors that give every class the same training weight."""
        if not balance:
            return None
        if self.features.regression:
            raise PlanError("balance_classes: a regression has no classes to balance")
        totals = {k: float(v[TRAIN]) for k, v in self.summary.class_weights.items()
                  if v[TRAIN] > 0}
        mean = float(np.mean(list(totals.values())))
        return {k: mean / t for k, t in totals.items()}

    def split_futures(self, split: int, *, balance: bool = False,
                      ) -> list[tuple[Any, int]]:
        """(future of (X, y, w), events) per non-empty block of a split, on its worker."""
        scale = self.class_scale(balance)
        held = self.client.who_has(self.blocks)
        out = []
        for block, n in zip(self.blocks, self.counts(split), strict=True):
            if n:
                # where the block is, so the arrays are made without moving the block
                owners = sorted(held.get(block.key, ())) or None
                fut = self.client.submit(split_arrays, block, self.features,
                                         self.normalisation, split, scale, pure=False,
                                         workers=owners, allow_other_workers=True)
                out.append((fut, n))
        return out

    def release(self) -> None:
        """Drop the blocks from the workers' memory."""
        for fut in self.blocks:
            fut.release()
        self.blocks = []


def prepare(df: Any, features: Features, *, normalisation: Method = "standard",
            client: Any = None) -> PreparedData:
    """Read the dataframe once: feature blocks on the workers, summary, normalisation.

    Column problems fail here on the client, before any task runs; a label
    with one class or an empty training split fails after the pass and before
    any training.
    """
    if not isinstance(features, Features):
        raise PlanError(f"expected hepflow.ml.Features, got {type(features).__name__}")
    if normalisation not in ("standard", "minmax", "none"):
        raise PlanError(f"normalisation must be 'standard', 'minmax' or 'none', got "
                        f"{normalisation!r}")
    features.validate(df)
    runner = _client_of(df, client)
    start = time.perf_counter()
    frame = features.attach(df)
    parts = frame._partitions(list(features.read_columns)).delayed(by_name=True)

    delayed_blocks = [dask.delayed(build_block, pure=True)(p, features, i)
                      for i, p in enumerate(parts)]
    blocks = runner.compute(delayed_blocks)
    bar(runner, blocks, "hepflow: preparing features")
    partial = [runner.submit(summarise, b, features, pure=False) for b in blocks]
    while len(partial) > 1:
        partial = [runner.submit(_merge, *partial[i:i + _FAN_IN], pure=False)
                   for i in range(0, len(partial), _FAN_IN)]
    summary: Summary = partial[0].result()
    summary.check(regression=features.regression)
    norm = Normalisation.fit(summary.moments, features.value_names, normalisation)
    return PreparedData(features, norm, summary, list(blocks), runner, provenance(df),
                        time.perf_counter() - start)


def gather_split(prepared: PreparedData, split: int, *, balance: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split's (X, y, w) concatenated on the client (for small data and scoring)."""
    parts = prepared.split_futures(split, balance=balance)
    width = prepared.features.n_inputs
    if not parts:
        return (np.zeros((0, width), np.float32), np.zeros(0, np.float32),
                np.zeros(0, np.float32))
    arrays = prepared.client.gather([f for f, _ in parts])
    return (np.concatenate([a[0] for a in arrays]), np.concatenate([a[1] for a in arrays]),
            np.concatenate([a[2] for a in arrays]))


def prepared_for(what: str, df: Any, features: Features | None, *,
                 normalisation: Method = "standard", client: Any = None) -> PreparedData:
    """`df` as prepared data: a `PreparedData` as it is, a dataframe through `prepare`.

    What every trainer takes, so that a selection prepared once trains several models.
    """
    if isinstance(df, PreparedData):
        return df
    if features is None:
        raise PlanError(f"{what}(df, features, ...): features are missing")
    return prepare(df, features, normalisation=normalisation, client=client)


__all__ = ["Block", "PreparedData", "build_block", "columns_to_inputs", "gather_split",
           "model_inputs", "prepare", "prepared_for", "provenance", "split_arrays",
           "summarise"]
