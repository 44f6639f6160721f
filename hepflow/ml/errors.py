"""Errors of the training layer.

Input mistakes (a missing column, a label with one class, a model function
that returns no model) are `PlanError`s, raised on the client before any
training starts; `TrainingError` is for what goes wrong on the workers.
"""

from __future__ import annotations

from hepflow.errors import HepflowError, PlanError


class TrainingError(HepflowError, RuntimeError):
    """Training could not run or finish on the cluster (the message says what to change)."""


def check_count(value: object, what: str, *, minimum: int = 1, optional: bool = False,
                ) -> None:
    """Refuse, before any work, a count (rounds, epochs, batch size) that is not an integer."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlanError(f"{what} must be an integer >= {minimum}"
                        f"{' or None' if optional else ''}, got {value!r}")


__all__ = ["PlanError", "TrainingError", "check_count"]
