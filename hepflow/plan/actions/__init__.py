"""Booked actions, one class each: what a run must produce, each reading from one plan node."""

from hepflow.plan.actions.aggregate import Aggregate
from hepflow.plan.actions.autohisto import AutoHisto
from hepflow.plan.actions.base import Action, as_piece, flat_values
from hepflow.plan.actions.columns import AsNumpy, Display, Take
from hepflow.plan.actions.count import Count
from hepflow.plan.actions.foreach import Foreach
from hepflow.plan.actions.graph import Graph
from hepflow.plan.actions.histo import Histo, parse_model, parse_nd_model
from hepflow.plan.actions.report import Report
from hepflow.plan.actions.snapshot import Snapshot
from hepflow.plan.actions.stat import Stat, StatKind
from hepflow.plan.actions.stats import Stats
from hepflow.results.histograms import AxisModel, HistModel

__all__ = ["Action", "Aggregate", "AsNumpy", "AutoHisto", "AxisModel", "Count", "Display",
           "Foreach", "Graph", "HistModel", "Histo", "Report", "Snapshot", "Stat", "StatKind",
           "Stats", "Take", "as_piece", "flat_values", "parse_model", "parse_nd_model"]
