"""xgboost training on the Dask workers that hold the feature blocks.

The prepared blocks are futures on the workers that read their chunks; each
split becomes a Dask array whose partitions are those workers' results, and
`xgboost.dask.DaskQuantileDMatrix` builds its quantile sketch and histogram
matrix on the workers holding each partition (xgboost maps partitions to
workers with `who_has`), so no feature data crosses the network. Early
stopping watches the validation split; the booster is cut at the best
iteration, so the bundle predicts exactly what was validated.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from typing import Any

from hepflow.ml.bundle import Bundle
from hepflow.ml.errors import PlanError, check_count
from hepflow.ml.features import Features
from hepflow.ml.normalise import Method
from hepflow.ml.prepare import PreparedData, prepared_for
from hepflow.ml.progress import shown
from hepflow.ml.results import TrainResult, finish
from hepflow.ml.split import TRAIN, VALIDATION


def _import_xgboost() -> Any:
    try:
        import xgboost
        import xgboost.dask
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PlanError("xgboost training needs xgboost: pip install 'hepflow[ml]'") from exc
    return xgboost


#: Regression objectives by their short names (xgboost's own names are taken as well),
#: with the evaluation metric early stopping follows.
OBJECTIVES: dict[str, tuple[str, str]] = {
    "squared": ("reg:squarederror", "rmse"),
    "huber": ("reg:pseudohubererror", "mphe"),
    "quantile": ("reg:quantileerror", "quantile"),
}


def regression_params(objective: str = "squared", quantile_alpha: float = 0.5,
                      target_mean: float = 0.0, target_std: float = 1.0) -> dict[str, Any]:
    """Starting parameters for a regression: squared error, (pseudo-)Huber or a quantile.

    `objective` is "squared", "huber" or "quantile", or xgboost's name for one
    of them; `quantile_alpha` is the quantile a "quantile" regression predicts.
    Boosting starts from the target's mean. The pseudo-Huber loss is quadratic
    within `huber_slope` of the truth and linear beyond; its curvature (the
    hessian xgboost divides by) vanishes far outside it, so a slope of 1 on a
    target in GeV would not train at all: the default slope is the target's
    standard deviation on the training split (pass `huber_slope` in `params`
    for a tighter one).
    """
    by_xgb_name = {name: short for short, (name, _) in OBJECTIVES.items()}
    short = by_xgb_name.get(objective, objective)
    if short not in OBJECTIVES:
        raise PlanError(f"objective must be one of {', '.join(OBJECTIVES)} (or "
                        f"{', '.join(by_xgb_name)}), got {objective!r}")
    name, metric = OBJECTIVES[short]
    params: dict[str, Any] = {"objective": name, "eval_metric": [metric],
                              "tree_method": "hist", "max_depth": 6, "eta": 0.1,
                              "base_score": float(target_mean)}
    if short == "huber":
        params["huber_slope"] = float(target_std) if target_std > 0 else 1.0
    if short == "quantile":
        if isinstance(quantile_alpha, bool) or not isinstance(quantile_alpha, (int, float)) \
                or not 0.0 < quantile_alpha < 1.0:
            raise PlanError(f"quantile_alpha must be a number in (0, 1), got "
                            f"{quantile_alpha!r}")
        params["quantile_alpha"] = float(quantile_alpha)
    return params


def default_params(classes: list[int]) -> dict[str, Any]:
    """Sensible starting parameters for binary or multi-class classification."""
    if classes == [0, 1]:
        return {"objective": "binary:logistic", "eval_metric": ["auc", "logloss"],
                "tree_method": "hist", "max_depth": 6, "eta": 0.1}
    if classes != list(range(len(classes))):
        raise PlanError(f"labels must be the classes 0..K-1, found {classes}")
    return {"objective": "multi:softprob", "num_class": len(classes),
            "eval_metric": ["mlogloss"], "tree_method": "hist", "max_depth": 6, "eta": 0.1}


def _dask_split(prepared: PreparedData, split: int, balance: bool) -> tuple[Any, Any, Any]:
    """(X, y, w) of one split as Dask arrays whose partitions are the workers' blocks."""
    import dask.array as da

    client = prepared.client
    width = prepared.features.n_inputs
    xs, ys, ws = [], [], []
    for fut, n in prepared.split_futures(split, balance=balance):
        x, y, w = (client.submit(operator.getitem, fut, i, pure=False) for i in range(3))
        xs.append(da.from_delayed(x, shape=(n, width), dtype="float32"))
        ys.append(da.from_delayed(y, shape=(n,), dtype="float32"))
        ws.append(da.from_delayed(w, shape=(n,), dtype="float32"))
    if not xs:
        return None, None, None
    return da.concatenate(xs), da.concatenate(ys), da.concatenate(ws)


def train_xgboost(df: Any, features: Features | None = None,
                  params: Mapping[str, Any] | None = None, *, num_boost_round: int = 200,
                  early_stopping_rounds: int | None = 20, normalisation: Method = "none",
                  balance_classes: bool = False, verbose: bool = False,
                  progress: bool = True, client: Any = None, objective: str | None = None,
                  quantile_alpha: float = 0.5) -> TrainResult:
    """Train a gradient-boosted classifier (or regression) with `xgboost.dask`.

    `df` is a dataframe (prepared here with `features`) or a `PreparedData`
    from `hepflow.ml.prepare` (to train several models on one preparation).
    `params` update `default_params` (early stopping follows the last
    `eval_metric`, the log loss by default); `balance_classes` scales each class's
    weights to the same total in training. Returns a `TrainResult` with
    `.booster`, `.history` (per evaluation set and metric) and `.test_auc`
    (weighted, on the test split). `progress` prints the validation metrics every
    few rounds on this client; `verbose` is xgboost's own printing, on the workers.

    With `Features(task="regression")` the label is the value to predict and
    `objective` picks the loss: "squared" (the default), "huber" or "quantile"
    (with `quantile_alpha`); see `regression_params`. The result then reports
    the test split's bias and resolution (`.regression`) instead of an AUC.
    """
    check_count(num_boost_round, "num_boost_round")
    check_count(early_stopping_rounds, "early_stopping_rounds", optional=True)
    if params is not None and not isinstance(params, Mapping):
        raise PlanError(f"params must be a mapping of xgboost parameters, got "
                        f"{type(params).__name__}")
    xgboost = _import_xgboost()
    prepared = prepared_for("train_xgboost", df, features, normalisation=normalisation,
                            client=client)
    classes = prepared.summary.classes
    if prepared.features.regression:
        target = prepared.summary.target
        mean, std = (float(target.mean), float(target.std)) if target is not None \
            else (0.0, 1.0)
        full = regression_params(objective or "squared", quantile_alpha, mean, std)
    elif objective is not None:
        raise PlanError(f"objective={objective!r} is for a regression; these features "
                        "classify (pass Features(..., task='regression'))")
    else:
        full = default_params(classes)
    full.update(dict(params or {}))
    client = prepared.client
    start = time.perf_counter()
    # xgboost.dask looks the client up with distributed.get_client(), which only
    # finds a client made with set_as_default=False inside as_current().
    with client.as_current(), shown(client, progress):
        booster, raw_history, best = _train(xgboost, client, prepared, full,
                                            num_boost_round, early_stopping_rounds,
                                            balance_classes, verbose, progress)
    seconds = time.perf_counter() - start
    history = {f"{name}_{metric}": [float(v) for v in values]
               for name, metrics in raw_history.items() for metric, values in metrics.items()}
    bundle = Bundle("xgboost", bytes(booster.save_raw("ubj")), prepared.features,
                    prepared.normalisation, prepared.features.class_names(classes),
                    dict(prepared.provenance))
    extra = {"params": {k: v for k, v in full.items()}, "best_iteration": best,
             "num_boosted_rounds": booster.num_boosted_rounds(),
             "workers": len(client.scheduler_info()["workers"]),
             "xgboost_version": xgboost.__version__}
    return finish(bundle, prepared, history, seconds, extra=extra)


def _train(xgboost: Any, client: Any, prepared: PreparedData, params: dict[str, Any],
           rounds: int, early_stopping_rounds: int | None, balance: bool, verbose: bool,
           progress: bool) -> tuple[Any, dict[str, Any], int | None]:
    """(booster cut at the best round, history, best round or None without early stopping)."""
    x, y, w = _dask_split(prepared, TRAIN, balance)
    dtrain = xgboost.dask.DaskQuantileDMatrix(client, x, y, weight=w)
    evals = [(dtrain, "train")]
    xv, yv, wv = _dask_split(prepared, VALIDATION, balance)
    if xv is not None:
        dvalid = xgboost.dask.DaskQuantileDMatrix(client, xv, yv, weight=wv, ref=dtrain)
        evals.append((dvalid, "validation"))
    stopping = early_stopping_rounds if len(evals) > 1 else None
    callbacks = []
    if progress:
        from hepflow.ml.xgbprogress import RoundProgress

        callbacks.append(RoundProgress(rounds, max(1, rounds // 20)))
    output = xgboost.dask.train(client, params, dtrain, num_boost_round=rounds,
                                evals=evals, early_stopping_rounds=stopping,
                                verbose_eval=verbose, callbacks=callbacks)
    booster = output["booster"]
    best = getattr(booster, "best_iteration", None) if stopping else None
    if best is not None and best + 1 < booster.num_boosted_rounds():
        # slicing drops the attribute, so the best round is handed on beside it
        booster = booster[: best + 1]
    return booster, output["history"], best


__all__ = ["OBJECTIVES", "default_params", "regression_params", "train_xgboost"]
