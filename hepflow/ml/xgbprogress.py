"""An xgboost callback reporting boosting rounds and validation metrics (see `progress`).

Its own module because it subclasses xgboost's callback class, and xgboost is
imported only where a model is trained.
"""

from __future__ import annotations

from typing import Any

import xgboost

from hepflow.ml.progress import line, report


class RoundProgress(xgboost.callback.TrainingCallback):
    """Every `every` rounds (and the last), the latest value of each evaluation metric."""

    def __init__(self, total: int, every: int) -> None:
        super().__init__()
        self.total = total
        self.every = max(1, every)

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if xgboost.collective.get_rank() != 0:
            return False
        step = epoch + 1
        if step % self.every and step != self.total:
            return False
        latest = {f"{name}_{metric}": float(values[-1])
                  for name, metrics in evals_log.items() if name != "train"
                  for metric, values in metrics.items()}
        report(line("xgboost round", step, self.total, latest))
        return False


__all__ = ["RoundProgress"]
