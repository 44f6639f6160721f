"""`rdfsampleinfo_` inside expressions: ROOT's `RSampleInfo` of the event's file.

As in RDataFrame, `rdfsampleinfo_.Contains("DY")` looks in `AsString()`,
ROOT's `"<file>/<tree>"`; `GetD("xsec")`, `GetI`, `GetS`, `GetSampleId()`
and `GetSampleName()` read the sample of a dataset spec, and a dataset
without named samples (a plain list of files) has none, so they fail here,
at build time, as ROOT fails at run time. String values can be compared with
a string literal (`rdfsampleinfo_.GetSampleName() == "ttbar"`). When the
samples are known, a metadata key missing from any of them fails here too,
naming the samples that lack it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from hepflow.core.types import DType, scalar
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr.typed import SampleInfoLookup, Typed

NAME = "rdfsampleinfo_"
#: Each allowed method, the C++ type it returns, and whether it takes a string argument.
_METHODS: dict[str, tuple[DType, bool]] = {
    "GetD": ("float64", True), "GetI": ("int64", True), "GetS": ("string", True),
    "Contains": ("bool", True), "GetSampleId": ("int64", False),
    "GetSampleName": ("string", False), "AsString": ("string", False),
    "Empty": ("bool", False)}
#: The methods that need a dataset with named samples.
_SAMPLE_DATA = frozenset({"GetD", "GetI", "GetS", "GetSampleId", "GetSampleName"})


def is_sampleinfo_call(node: n.Node) -> bool:
    return isinstance(node, n.Call) and node.func.startswith(".") and bool(node.args) and \
        isinstance(node.args[0], n.Name) and node.args[0].name == NAME


def check_call(node: n.Call, text: str, samples: Mapping[str, Mapping[str, Any]] | None,
               ) -> Typed:
    """Type one call; `samples` maps each named sample to its metadata ({} when none)."""
    method = node.func[1:]
    if method not in _METHODS:
        raise ExpressionError(f"rdfsampleinfo_ has no method `{method}`; use one of "
                              f"{', '.join(sorted(_METHODS))}", text, node.func_start,
                              node.func_end)
    dtype, wants_key = _METHODS[method]
    args = node.args[1:]
    if wants_key != (len(args) == 1) or (args and not (
            isinstance(args[0], n.Literal) and isinstance(args[0].value, str))):
        usage = f'rdfsampleinfo_.{method}("...")' if wants_key else \
            f"rdfsampleinfo_.{method}()"
        raise ExpressionError(f"use {usage}", text, node.start, node.end)
    if samples is not None and not samples and method in _SAMPLE_DATA:
        raise ExpressionError(f"rdfsampleinfo_.{method} reads sample data, and this dataset "
                              "has no samples (a plain list of files has none, as in ROOT); "
                              "give a dataset spec with named samples", text, node.start,
                              node.end)
    key = str(args[0].value) if args and isinstance(args[0], n.Literal) else ""
    if samples is not None and method in ("GetD", "GetI", "GetS"):
        missing = [name for name, meta in samples.items() if key not in meta]
        if missing:
            raise ExpressionError(f"metadata key {key!r} is missing in sample(s) "
                                  f"{', '.join(missing)}", text, node.start, node.end)
    spec = (method, key) if wants_key else (method,)
    return SampleInfoLookup(scalar(dtype), value=spec)


def name_equals(node: n.Binary, text: str, samples: Mapping[str, Mapping[str, Any]] | None
                = None) -> Typed | None:
    """A string-valued call compared with a string literal (`==` or `!=`), else None."""
    if node.op not in ("==", "!="):
        return None
    for call, lit in ((node.left, node.right), (node.right, node.left)):
        method = call.func[1:] if isinstance(call, n.Call) else ""
        if is_sampleinfo_call(call) and isinstance(call, n.Call) and \
                method in _METHODS and _METHODS[method][0] == "string" and \
                isinstance(lit, n.Literal) and isinstance(lit.value, str):
            spec = cast(tuple[str, ...], check_call(call, text, samples).value)
            return SampleInfoLookup(scalar("bool"),
                         value=("Equals", lit.value, node.op, *spec))
    return None


def value(info: Any, spec: tuple[str, ...]) -> Any:
    """The per-file value of a sampleinfo node (`info` is the kernel's `SampleInfo`).

    The method name was checked against `_METHODS` at build time, so calling
    it by name only reaches `SampleInfo`'s ROOT accessors.
    """
    if spec[0] == "Equals":
        same = value(info, spec[3:]) == spec[1]
        return same if spec[2] == "==" else not same
    return getattr(info, spec[0])(*spec[1:])


__all__ = ["NAME", "check_call", "is_sampleinfo_call", "name_equals", "value"]
