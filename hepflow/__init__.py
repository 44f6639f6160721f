"""hepflow: RDataFrame-style HEP analysis as lazy Dask graphs over local and remote ROOT files."""

from hepflow.dataset import Dataset, FileSpec, PreparedDataset, Sample, preprocess
from hepflow.errors import (
    AccountingError,
    EvaluationError,
    ExpressionError,
    HepflowError,
    PlanError,
    ReadError,
)
from hepflow.options import Options
from hepflow.plan.expr.declare import Declare, declare_correction
from hepflow.plan.handles import RResultMap, RResultPtr
from hepflow.rdataframe import FromSpec, RDataFrame, RunGraphs, VariationsFor
from hepflow.version import __version__

__all__ = [
    "AccountingError",
    "Dataset",
    "Declare",
    "FileSpec",
    "FromSpec",
    "PreparedDataset",
    "Sample",
    "preprocess",
    "EvaluationError",
    "ExpressionError",
    "HepflowError",
    "Options",
    "PlanError",
    "RDataFrame",
    "RResultMap",
    "RResultPtr",
    "ReadError",
    "RunGraphs",
    "VariationsFor",
    "__version__",
    "declare_correction",
]
