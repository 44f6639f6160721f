"""Bias and resolution of a regression: how a trigger or calibration group judges one.

For a predicted value (a muon's pT, a jet's energy) against the truth, what
matters is the relative residual r = (pred - true) / true: its mean is the
bias (the response, mean pred/true, is 1 + bias) and its width the
resolution. Two widths are given: the standard deviation, and the half-width
of the central 68 % interval (half the distance between the 16 % and 84 %
quantiles), which equals sigma for a Gaussian but is not blown up by a few
far tails, as detector resolutions have. Both overall and in bins of the true
value, since a resolution that grows with pT is the physics being measured.

Computed per event, unweighted: a resolution describes the detector response
to one object, not a cross-section. Kept as plain numpy so the numbers can be
checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hepflow.ml.errors import PlanError

#: Fraction of events in the central interval whose half-width is the robust resolution.
CENTRAL = 0.68


def relative_residuals(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(pred - true) / true per event; a zero or non-finite truth is refused."""
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise PlanError(f"truth and prediction differ in length: {t.shape} and {p.shape}")
    if np.any(t == 0) or not np.all(np.isfinite(t)):
        raise PlanError("the relative resolution needs a finite, non-zero true value for "
                        "every event (filter out the zeros, or regress a ratio)")
    return (p - t) / t


def half_width(residuals: np.ndarray, fraction: float = CENTRAL) -> float:
    """Half the width of the central `fraction` of the residuals (quantiles, linear)."""
    if residuals.size == 0:
        return float("nan")
    low, high = np.quantile(residuals, [(1 - fraction) / 2, (1 + fraction) / 2])
    return float(high - low) / 2


def summarise(residuals: np.ndarray) -> dict[str, float]:
    """Events, bias (mean), response (1 + bias), std, median and the 68 % half-width."""
    n = int(residuals.size)
    if n == 0:
        nan = float("nan")
        return {"events": 0, "bias": nan, "response": nan, "std": nan, "median": nan,
                "width68": nan}
    bias = float(np.mean(residuals))
    return {"events": n, "bias": bias, "response": 1.0 + bias,
            "std": float(np.std(residuals)), "median": float(np.median(residuals)),
            "width68": half_width(residuals)}


def default_edges(true: np.ndarray, bins: int) -> np.ndarray:
    """Edges of `bins` bins of the true value holding about the same number of events."""
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    if t.size == 0:
        return np.zeros(0)
    return np.unique(np.quantile(t, np.linspace(0.0, 1.0, bins + 1)))


def report(true: np.ndarray, pred: np.ndarray, edges: Sequence[float] | np.ndarray | None = None,
           bins: int = 5) -> dict[str, Any]:
    """Bias and resolution overall and per bin of the true value (a small table).

    `edges` (increasing) pick the bins; by default `bins` bins of equal
    population. Each bin is [low, high), the last one closed; events outside
    the edges count only in the overall numbers.
    """
    r = relative_residuals(true, pred)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    e = default_edges(t, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or (e.size and np.any(np.diff(e) <= 0)):
        raise PlanError(f"bin edges must increase strictly, got {e.tolist()}")
    table = []
    for i in range(max(0, e.size - 1)):
        last = i == e.size - 2
        sel = (t >= e[i]) & ((t <= e[i + 1]) if last else (t < e[i + 1]))
        table.append({"low": float(e[i]), "high": float(e[i + 1]), **summarise(r[sel])})
    return {"overall": summarise(r), "bins": table}


def format_table(rep: dict[str, Any]) -> str:
    """The report as a few lines of text (what a training prints)."""
    o = rep["overall"]
    lines = [f"bias {o['bias']:+.4f}  resolution: std {o['std']:.4f}, "
             f"68% half-width {o['width68']:.4f}  ({o['events']} events)",
             f"{'true from':>10} {'to':>10} {'events':>8} {'bias':>9} {'std':>8} {'w68':>8}"]
    lines += [f"{b['low']:10.3g} {b['high']:10.3g} {b['events']:8d} {b['bias']:+9.4f} "
              f"{b['std']:8.4f} {b['width68']:8.4f}" for b in rep["bins"]]
    return "\n".join(lines)


__all__ = ["CENTRAL", "default_edges", "format_table", "half_width", "relative_residuals",
           "report", "summarise"]
