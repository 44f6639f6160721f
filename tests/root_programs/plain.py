"""Results as plain Python values (JSON's), whichever framework made them."""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts of them; numpy, awkward and C++ containers unpacked."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    to_list = getattr(value, "to_list", None)
    if callable(to_list):
        return plain(to_list())
    if type(value).__name__ in ("string", "basic_string<char>", "std::string"):
        return str(value)
    if hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return [plain(value[i]) for i in range(len(value))]
    if hasattr(value, "__iter__"):
        return [plain(v) for v in value]
    if hasattr(value, "__float__"):
        return float(value)
    return value
