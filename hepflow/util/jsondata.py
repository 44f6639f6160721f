"""Plain JSON data from what hepflow's results and metadata hold."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """The same structure as strict JSON data: what `json.dumps(..., allow_nan=False)` takes.

    Mappings become dicts with string keys, tuples and arrays become lists,
    numpy scalars Python numbers, NaN and infinities None (JSON has neither),
    anything else its `str()`: metadata and summaries must always be writable,
    never stop a run at the last step.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


__all__ = ["jsonable"]
