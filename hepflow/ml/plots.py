"""Pictures of a training: ROC curve, score distributions per class, loss history,
and for a regression the response and resolution against the true value.

Each function takes a `TrainResult`, draws with matplotlib in the CMS style
of mplhep, saves a PNG (the Agg backend, so it works on a batch node without
a display) and returns the path. Score distributions overlay train and test
per class, weighted and normalised, which is the usual overtraining check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.ml.errors import PlanError
from hepflow.ml.metrics import roc_curve
from hepflow.ml.results import TrainResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _style() -> None:
    try:
        import mplhep

        mplhep.style.use("CMS")
    except Exception:  # noqa: BLE001 - the style is cosmetic; plain matplotlib will do
        pass


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return out


def _classifier(result: TrainResult, what: str) -> None:
    if result.regression is not None:
        raise PlanError(f"{what} is for a classifier; a regression draws "
                        "plots.resolution (response and resolution against the truth)")


def _positive(result: TrainResult, score: np.ndarray) -> np.ndarray:
    return score if score.ndim == 1 else score[:, 1]


def roc(result: TrainResult, path: str | os.PathLike[str]) -> Path:
    """`roc_figure` saved as a PNG."""
    return _save(roc_figure(result), path)


def roc_figure(result: TrainResult) -> Any:
    """Background rejection (1/FPR, log scale) against signal efficiency, as HEP reads a ROC.

    Test split solid, train dashed, each with its weighted AUC. Points with no
    background left (FPR 0) have infinite rejection and are not drawn.
    """
    _classifier(result, "the ROC curve")
    plt = _pyplot()
    _style()
    fig, ax = plt.subplots(figsize=(7, 7))
    for name, style in (("test", "-"), ("train", "--")):
        scores = result.scores.get(name)
        if scores is None:
            continue
        fpr, tpr, _ = roc_curve(scores.label == 1, _positive(result, scores.score),
                                scores.weight)
        area = float(np.trapezoid(tpr, fpr))
        shown = fpr > 0
        ax.plot(tpr[shown], 1.0 / fpr[shown], style, label=f"{name} (AUC {area:.4f})")
    efficiency = np.linspace(0.01, 1.0, 100)
    ax.plot(efficiency, 1.0 / efficiency, ":", color="grey", label="random")
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("Signal efficiency")
    ax.set_ylabel("Background rejection (1 / false positive rate)")
    ax.legend(loc="upper right")
    return fig


def scores(result: TrainResult, path: str | os.PathLike[str], bins: int = 40) -> Path:
    """Score distributions per class: test as filled histograms, train as points."""
    _classifier(result, "the score distribution per class")
    plt = _pyplot()
    _style()
    fig, ax = plt.subplots(figsize=(8, 6))
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    classes = result.bundle.classes
    for i, (cls, name) in enumerate(sorted(classes.items())):
        colour = f"C{i}"
        test = result.scores.get("test")
        if test is not None:
            sel = test.label == cls
            ax.hist(_positive(result, test.score)[sel], bins=edges, weights=test.weight[sel],
                    density=True, histtype="stepfilled", alpha=0.35, color=colour,
                    label=f"{name} (test)")
        train = result.scores.get("train")
        if train is not None:
            sel = train.label == cls
            values, _ = np.histogram(_positive(result, train.score)[sel], bins=edges,
                                     weights=train.weight[sel], density=True)
            ax.plot(centres, values, "o", color=colour, markersize=4,
                    label=f"{name} (train)")
    ax.set_xlabel("score")
    ax.set_ylabel("normalised events")
    ax.set_yscale("log")
    ax.legend()
    return _save(fig, path)


def history(result: TrainResult, path: str | os.PathLike[str]) -> Path:
    """`history_figure` saved as a PNG."""
    return _save(history_figure(result), path)


def history_figure(result: TrainResult) -> Any:
    """The training history: loss in one panel, AUC (where recorded) in another.

    A loss and an AUC share no scale, so each kind of series gets its own axis;
    a dotted line marks the best iteration when early stopping kept an earlier one.
    """
    plt = _pyplot()
    _style()
    loss = {k: v for k, v in result.history.items() if "loss" in k}
    auc = {k: v for k, v in result.history.items() if k.endswith("auc")}
    # a regression's xgboost metrics (rmse, mphe, quantile) get a panel of their own
    other = {k: v for k, v in result.history.items() if k not in loss and k not in auc}
    groups = {"loss": loss, "AUC": auc, "metric": other}
    panels = [(label, series) for label, series in groups.items() if series]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 4.5 * len(panels)), sharex=True,
                             squeeze=False)
    best = result.bundle.metrics.get("best_iteration")
    for ax, (label, series) in zip(axes[:, 0], panels, strict=True):
        for name, values in series.items():
            ax.plot(np.arange(1, len(values) + 1), values, label=name)
        if best is not None:
            ax.axvline(int(best) + 1, linestyle=":", color="grey", label="best iteration")
        ax.set_ylabel(label)
        ax.legend()
    axes[-1, 0].set_xlabel("epoch" if result.bundle.kind == "keras" else "boosting round")
    return fig


def resolution(result: TrainResult, path: str | os.PathLike[str]) -> Path:
    """`resolution_figure` saved as a PNG."""
    return _save(resolution_figure(result), path)


def resolution_figure(result: TrainResult) -> Any:
    """A regression's response (mean pred/true) and resolution against the true value.

    The bins of the test report (`result.regression`), drawn at their centres
    with the bin width as horizontal bar: the response with a line at 1, the
    resolution as both the standard deviation and the half-width of the central
    68 % of (pred - true)/true, since the two part where the tails are heavy.
    """
    rep = result.regression
    if rep is None:
        raise PlanError("resolution plots need a regression (Features(task='regression'))")
    plt = _pyplot()
    _style()
    rows = [b for b in rep["bins"] if b["events"]]
    low = np.array([b["low"] for b in rows])
    high = np.array([b["high"] for b in rows])
    centre, half = (low + high) / 2, (high - low) / 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    top.errorbar(centre, [b["response"] for b in rows], xerr=half, fmt="o", label="test")
    top.axhline(1.0, linestyle=":", color="grey")
    top.set_ylabel("Response <pred / true>")
    bottom.errorbar(centre, [b["width68"] for b in rows], xerr=half, fmt="o",
                    label="68% half-width")
    bottom.errorbar(centre, [b["std"] for b in rows], xerr=half, fmt="s", mfc="none",
                    label="std")
    bottom.set_ylabel("Resolution of (pred - true) / true")
    bottom.set_xlabel(f"true {result.bundle.features.label_column}")
    bottom.legend()
    return fig


def all_plots(result: TrainResult, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """roc.png, scores.png and history.png in `directory` (a regression: resolution.png
    and history.png)."""
    out = Path(directory)
    if result.regression is not None:
        return {"resolution": resolution(result, out / "resolution.png"),
                "history": history(result, out / "history.png")}
    return {"roc": roc(result, out / "roc.png"), "scores": scores(result, out / "scores.png"),
            "history": history(result, out / "history.png")}


__all__ = ["all_plots", "history", "history_figure", "resolution", "resolution_figure", "roc",
           "roc_figure", "scores"]
