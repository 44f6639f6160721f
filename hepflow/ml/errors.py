"""Errors of the training layer.

Input mistakes (a missing column, a label with one class, a model function
that returns no model) are `PlanError`s, raised on the client before any
training starts; `TrainingError` is for what goes wrong on the workers.
"""

from __future__ import annotations

from hepflow.errors import HepflowError, PlanError


class TrainingError(HepflowError, RuntimeError):
    """Training could not run or finish on the cluster (the message says what to change)."""


__all__ = ["PlanError", "TrainingError"]
