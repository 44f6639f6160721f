"""Graph results: points as numpy arrays, with ROOT's TGraph/TGraphAsymmErrors accessors.

The points come in entry order (the order of the files, then of the entries),
which is what a single-threaded ROOT fill gives; ROOT's multi-threaded fill
merges per-thread graphs in an unspecified order, so this is a stricter
guarantee. The arrays are float64, as ROOT's TGraph stores doubles.
"""

from __future__ import annotations

import numpy as np

from hepflow.errors import PlanError


class GraphResult:
    """The points of `Graph(x, y)`: `GetX()`, `GetY()`, `GetN()` as in ROOT's TGraph."""

    __slots__ = ("_x", "_y", "name")

    def __init__(self, x: np.ndarray, y: np.ndarray, name: str = "") -> None:
        if x.shape != y.shape:
            raise PlanError(f"a graph needs as many x as y values, got {x.size} and {y.size}")
        self._x = np.asarray(x, dtype=np.float64)
        self._y = np.asarray(y, dtype=np.float64)
        self.name = name

    def GetN(self) -> int:
        """The number of points."""
        return int(self._x.size)

    def GetX(self) -> np.ndarray:
        """The x values, in entry order."""
        return self._x

    def GetY(self) -> np.ndarray:
        """The y values, in entry order."""
        return self._y

    def GetPointX(self, i: int) -> float:
        return float(self._x[i])

    def GetPointY(self, i: int) -> float:
        return float(self._y[i])

    def __len__(self) -> int:
        return self.GetN()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} with {self.GetN()} points>"


class GraphAsymmErrorsResult(GraphResult):
    """The points of `GraphAsymmErrors(x, y, exl, exh, eyl, eyh)` with their four errors."""

    __slots__ = ("_exh", "_exl", "_eyh", "_eyl")

    def __init__(self, x: np.ndarray, y: np.ndarray, exl: np.ndarray, exh: np.ndarray,
                 eyl: np.ndarray, eyh: np.ndarray, name: str = "") -> None:
        super().__init__(x, y, name)
        errors = [np.asarray(e, dtype=np.float64) for e in (exl, exh, eyl, eyh)]
        if any(e.shape != self._x.shape for e in errors):
            raise PlanError("every error array needs one value per point")
        self._exl, self._exh, self._eyl, self._eyh = errors

    def GetEXlow(self) -> np.ndarray:
        return self._exl

    def GetEXhigh(self) -> np.ndarray:
        return self._exh

    def GetEYlow(self) -> np.ndarray:
        return self._eyl

    def GetEYhigh(self) -> np.ndarray:
        return self._eyh

    def GetErrorX(self, i: int) -> float:
        """ROOT's symmetrised error: sqrt((exl² + exh²) / 2)."""
        return float(np.sqrt((self._exl[i] ** 2 + self._exh[i] ** 2) / 2))

    def GetErrorY(self, i: int) -> float:
        """ROOT's symmetrised error: sqrt((eyl² + eyh²) / 2)."""
        return float(np.sqrt((self._eyl[i] ** 2 + self._eyh[i] ** 2) / 2))


__all__ = ["GraphAsymmErrorsResult", "GraphResult"]
