"""hepflow: RDataFrame-style HEP analysis as lazy Dask graphs over local and remote ROOT files."""

from hepflow.errors import (
    AccountingError,
    EvaluationError,
    ExpressionError,
    HepflowError,
    PlanError,
    ReadError,
)
from hepflow.options import Options
from hepflow.rdataframe import RDataFrame, RunGraphs

__version__ = "0.1.0"

__all__ = [
    "AccountingError",
    "EvaluationError",
    "ExpressionError",
    "HepflowError",
    "Options",
    "PlanError",
    "RDataFrame",
    "ReadError",
    "RunGraphs",
    "__version__",
]
