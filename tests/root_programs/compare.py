"""How a result is compared with ROOT's: integers and strings exactly, floats to 1e-9 relative."""

from __future__ import annotations

import math
from typing import Any

REL = 1e-9
ABS = 1e-12


def differences(want: Any, got: Any, where: str = "") -> list[str]:
    """Every place where `got` differs from `want` (empty when they agree)."""
    here = where or "result"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{here}: expected a mapping, got {type(got).__name__} {got!r:.200}"]
        out = [f"{here}: missing key {k!r}" for k in want if k not in got]
        out += [f"{here}: unexpected key {k!r}" for k in got if k not in want]
        for k in want:
            if k in got:
                out += differences(want[k], got[k], f"{here}[{k!r}]")
        return out
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{here}: expected a list, got {type(got).__name__} {got!r:.200}"]
        if len(want) != len(got):
            return [f"{here}: expected {len(want)} items, got {len(got)}: "
                    f"{want!r:.200} vs {got!r:.200}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            out += differences(w, g, f"{here}[{i}]")
            if len(out) > 20:
                break
        return out
    if isinstance(want, str) or isinstance(got, str):
        return [] if want == got else [f"{here}: expected {want!r}, got {got!r}"]
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        if isinstance(want, float) or isinstance(got, float):
            w, g = float(want), float(got)
            if math.isnan(w) and math.isnan(g):
                return []
            if w == g or math.isclose(w, g, rel_tol=REL, abs_tol=ABS):
                return []
            return [f"{here}: expected {w!r}, got {g!r}"]
        return [] if int(want) == int(got) else [f"{here}: expected {want}, got {got}"]
    return [] if want == got else [f"{here}: expected {want!r}, got {got!r}"]
