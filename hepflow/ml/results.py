"""What a training returns: the bundle, the history, the test AUC and the scores.

Scores are computed on the workers, block by block, with the same code path
as `Predict` (the bundle's model loaded once per worker process); only the
label, score and weight of each event come back, for the AUC and the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepflow.ml import regression
from hepflow.ml.bundle import Bundle, load_model, predict_matrix
from hepflow.ml.features import Features
from hepflow.ml.metrics import roc_auc
from hepflow.ml.normalise import Normalisation
from hepflow.ml.prepare import Block, PreparedData, model_inputs
from hepflow.ml.split import SPLIT_NAMES


@dataclass
class Scores:
    """Label, model score and weight of the events of one split."""

    label: np.ndarray
    score: np.ndarray
    weight: np.ndarray

    def auc(self) -> float:
        return roc_auc(self.label, self.score, self.weight)

    def resolution(self, edges: Any = None, bins: int = 5) -> dict[str, Any]:
        """A regression's bias and resolution on these events (`hepflow.ml.regression`)."""
        return regression.report(self.label, self.score, edges, bins)


@dataclass
class TrainResult:
    """A finished training: `bundle` (save it), `history`, `test_auc`, per-split `scores`.

    A regression (`Features(task="regression")`) has no AUC (`test_auc` is NaN);
    `regression` holds the test split's bias and resolution, overall and per
    bin of the true value (`hepflow.ml.regression.report`).
    """

    bundle: Bundle
    history: dict[str, list[float]]
    test_auc: float
    scores: dict[str, Scores]
    prepared: PreparedData | None = None
    timings: dict[str, float] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    regression: dict[str, Any] | None = None

    @property
    def auc(self) -> float:
        return self.test_auc

    @property
    def model(self) -> Any:
        return self.bundle.model

    @property
    def booster(self) -> Any:
        """The xgboost `Booster` (for an xgboost training)."""
        if self.bundle.kind != "xgboost":
            raise AttributeError("booster: this is a Keras training; use .model")
        return self.bundle.model

    def save(self, directory: str) -> Any:
        return self.bundle.save(directory)

    def __repr__(self) -> str:
        events = self.bundle.metrics.get("events", {})
        if self.regression is not None:
            o = self.regression["overall"]
            return (f"<TrainResult {self.bundle.kind} regression: test bias {o['bias']:+.4f}, "
                    f"resolution {o['width68']:.4f}, events {events}>")
        return (f"<TrainResult {self.bundle.kind}: test AUC {self.test_auc:.4f}, "
                f"events {events}, {len(self.history)} history series>")


def _score_block(block: Block, features: Features, norm: Normalisation, split: int,
                 kind: str, payload: bytes, token: str,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sel = block.split == split
    x = model_inputs(features, norm, block.values[sel], block.mask[sel])
    score = predict_matrix(kind, load_model(kind, payload, token), x)
    return block.label[sel].astype(np.float32), score, block.weight[sel]


def score_splits(prepared: PreparedData, bundle: Bundle, splits: tuple[int, ...] = (0, 2),
                 ) -> dict[str, Scores]:
    """Scores of the given splits, computed where the blocks are."""
    client = prepared.client
    payload = client.scatter(bundle.model_bytes, broadcast=True)
    out: dict[str, Scores] = {}
    for split in splits:
        futures = [client.submit(_score_block, b, prepared.features, prepared.normalisation,
                                 split, bundle.kind, payload, bundle.token, pure=False)
                   for b, n in zip(prepared.blocks, prepared.counts(split), strict=True) if n]
        parts = client.gather(futures)
        if not parts:
            continue
        out[SPLIT_NAMES[split]] = Scores(np.concatenate([p[0] for p in parts]),
                                         np.concatenate([p[1] for p in parts]),
                                         np.concatenate([p[2] for p in parts]))
    return out


def finish(bundle: Bundle, prepared: PreparedData, history: dict[str, list[float]],
           train_seconds: float, workers: list[dict[str, Any]] | None = None,
           extra: dict[str, Any] | None = None) -> TrainResult:
    """Score train and test, fill the bundle's metrics, and wrap it all up."""
    scores = score_splits(prepared, bundle)
    test = scores.get("test")
    nan = float("nan")
    fit: dict[str, Any] | None = None
    if prepared.features.regression:
        test_auc = nan
        fit = test.resolution() if test is not None else None
        bundle.metrics.update({
            "test_regression": fit,
            "train_regression": scores["train"].resolution() if "train" in scores else None,
        })
    else:
        test_auc = test.auc() if test is not None else nan
        bundle.metrics["train_auc"] = scores["train"].auc() if "train" in scores else nan
    bundle.metrics.update({
        "test_auc": test_auc,
        "events": prepared.summary.split_events(),
        "negative_weights": {"policy": prepared.features.negative_weights,
                             "events": prepared.summary.negative,
                             "dropped": prepared.summary.dropped},
        "prepare_seconds": prepared.seconds, "train_seconds": train_seconds,
        "history": history,
    })
    if extra:
        bundle.metrics.update(extra)
    timings = {"prepare_s": prepared.seconds, "train_s": train_seconds}
    return TrainResult(bundle, history, test_auc, scores, prepared, timings, workers or [],
                       fit)


__all__ = ["Scores", "TrainResult", "finish", "score_splits"]
