"""`Predict`: a model's score as a lazy column of the dataframe.

`hepflow.ml.Predict(df, bundle, "score")` is `df.Define("score", <callable>,
<the bundle's input columns>)`: the dataframe's own escape hatch for Python
callables on awkward arrays, so the score is computed in the same fused
per-chunk kernel as everything else and can be histogrammed, filtered on or
written with `Snapshot` in the same pass. Per chunk the callable builds the
input matrix exactly as in training (same padding, masks and normalisation,
from the bundle's stored spec) and runs the model, which is loaded once per
worker process and cached by the bundle's content hash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.ml.bundle import Bundle, load, load_model, predict_matrix
from hepflow.ml.errors import PlanError
from hepflow.ml.features import Features
from hepflow.ml.normalise import Normalisation
from hepflow.ml.prepare import columns_to_inputs


@dataclass(frozen=True, eq=False, repr=False)
class BundlePredictor:
    """The per-chunk callable: columns (awkward or numpy) -> one float32 score per event."""

    kind: str
    payload: bytes
    token: str
    features: Features
    normalisation: Normalisation
    output: int | None

    def __repr__(self) -> str:  # what df.explain() shows
        return f"Predict[{self.kind} model {self.token[:12]}]"

    def __call__(self, *columns: Any) -> np.ndarray:
        if not columns or len(columns[0]) == 0:
            # Also how the dataframe learns the output type: no model load for that.
            return np.zeros(0, dtype=np.float32)
        named = dict(zip(self.features.input_columns, columns, strict=True))
        inputs = columns_to_inputs(self.features, self.normalisation, named)
        scores = predict_matrix(self.kind, load_model(self.kind, self.payload, self.token),
                                inputs)
        return select_output(scores, self.output)


def select_output(scores: np.ndarray, output: int | None) -> np.ndarray:
    """One score per event: the positive class for two classes, else class `output`."""
    if scores.ndim == 1:
        if output not in (None, 1):
            raise PlanError(f"this model has one output (the class-1 score); output={output}")
        return scores
    if output is None:
        if scores.shape[1] == 2:
            return np.ascontiguousarray(scores[:, 1])
        raise PlanError(f"this model scores {scores.shape[1]} classes; pass output=<class> "
                        "to Predict the score of one of them")
    if not 0 <= output < scores.shape[1]:
        raise PlanError(f"output={output}, but the model has {scores.shape[1]} classes")
    return np.ascontiguousarray(scores[:, output])


def Predict(df: Any, bundle: Bundle | str | os.PathLike[str], name: str = "score", *,
            output: int | None = None) -> Any:
    """A new dataframe with column `name` = the bundle's score, lazily, per chunk.

    `bundle` is a `Bundle` or a bundle directory. For a multi-class model,
    `output` picks the class whose score becomes the column. The dataframe
    must have the input columns the model was trained on, with the same kinds
    (one value per event, or a collection), else this fails at once.
    """
    if not isinstance(bundle, Bundle):
        if not isinstance(bundle, (str, os.PathLike)):
            raise PlanError(f"Predict takes a Bundle or a bundle folder, not "
                            f"{type(bundle).__name__}")
        bundle = load(bundle)
    if not isinstance(name, str) or not name:
        raise PlanError(f"Predict: the column name must be non-empty text, got {name!r}")
    if output is not None and (isinstance(output, bool) or not isinstance(output, int)):
        raise PlanError(f"Predict: output must be a class number, got {output!r}")
    n_classes = len(bundle.classes)
    if output is not None and not 0 <= output < max(2, n_classes):
        raise PlanError(f"output={output}, but the model knows classes {bundle.classes}")
    if output is None and n_classes > 2:
        raise PlanError(f"this model scores {n_classes} classes {bundle.classes}; pass "
                        "output=<class> to Predict the score of one of them")
    try:
        bundle.features.validate(df, training=False)
    except PlanError as exc:
        raise PlanError(f"this model bundle was trained on columns "
                        f"{', '.join(bundle.features.input_columns)}, and the dataframe does "
                        f"not provide them as trained: {exc}") from None
    predictor = BundlePredictor(bundle.kind, bundle.model_bytes, bundle.token,
                                bundle.features, bundle.normalisation, output)
    return df.Define(name, predictor, list(bundle.features.input_columns))


__all__ = ["BundlePredictor", "Predict", "select_output"]
