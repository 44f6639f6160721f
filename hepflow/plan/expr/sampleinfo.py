"""`rdfsampleinfo_` inside expressions: the current sample's name, index and metadata.

As in RDataFrame, `rdfsampleinfo_.GetD("xsec")`, `GetI`, `Contains("DY")`,
`GetSampleId()` and `GetSampleName() == "ttbar"` are allowed. When the
dataset's samples are known at build time, a metadata key missing from any
sample fails there, naming the samples that lack it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.typed import Typed
from hepflow.plan.types import DType, scalar

NAME = "rdfsampleinfo_"
_METHODS: dict[str, DType] = {"GetD": "float64", "GetI": "int64", "Contains": "bool",
              "GetSampleId": "int64", "GetSampleName": "other"}


def is_sampleinfo_call(node: n.Node) -> bool:
    return isinstance(node, n.Call) and node.func.startswith(".") and bool(node.args) and \
        isinstance(node.args[0], n.Name) and node.args[0].name == NAME


def check_call(node: n.Call, text: str, samples: Mapping[str, Mapping[str, Any]] | None,
               ) -> Typed:
    method = node.func[1:]
    if method not in _METHODS:
        raise ExpressionError(f"rdfsampleinfo_ has no method `{method}`; use one of "
                              f"{', '.join(sorted(_METHODS))}", text, node.func_start,
                              node.func_end)
    args = node.args[1:]
    wants_key = method in ("GetD", "GetI", "Contains")
    if wants_key != (len(args) == 1) or (args and not (
            isinstance(args[0], n.Literal) and isinstance(args[0].value, str))):
        usage = f'rdfsampleinfo_.{method}("...")' if wants_key else \
            f"rdfsampleinfo_.{method}()"
        raise ExpressionError(f"use {usage}", text, node.start, node.end)
    key = str(args[0].value) if args and isinstance(args[0], n.Literal) else ""
    if samples is not None and method in ("GetD", "GetI"):
        missing = [name for name, meta in samples.items() if key not in meta]
        if missing:
            raise ExpressionError(f"metadata key {key!r} is missing in sample(s) "
                                  f"{', '.join(missing)}", text, node.start, node.end)
    dtype = _METHODS[method]
    return Typed("sampleinfo", scalar(dtype), value=(method, key))


def name_equals(node: n.Binary, text: str) -> Typed | None:
    """`rdfsampleinfo_.GetSampleName() == "x"` (or `!=`), else None."""
    if node.op not in ("==", "!="):
        return None
    for call, lit in ((node.left, node.right), (node.right, node.left)):
        if is_sampleinfo_call(call) and isinstance(call, n.Call) and \
                call.func == ".GetSampleName" and isinstance(lit, n.Literal) and \
                isinstance(lit.value, str):
            return Typed("sampleinfo", scalar("bool"), value=("NameIs", lit.value, node.op))
    return None


def value(info: Any, spec: tuple[str, ...]) -> Any:
    """The per-sample value of a sampleinfo node (`info` is the kernel's SampleInfo)."""
    method = spec[0]
    if method == "GetD":
        return float(info.metadata[spec[1]])
    if method == "GetI":
        return int(info.metadata[spec[1]])
    if method == "Contains":
        return spec[1] in info.name
    if method == "GetSampleId":
        return int(info.index)
    if method == "NameIs":
        same = info.name == spec[1]
        return same if spec[2] == "==" else not same
    return info.name


__all__ = ["NAME", "check_call", "is_sampleinfo_call", "name_equals", "value"]
