"""The C++ type names `GetColumnType` returns, spelled as ROOT's RDataFrame spells them.

ROOT's spelling depends on where a column comes from, not only on its type:
a TTree branch is named by its leaf's type (`UInt_t`, `Float_t`, collections
`ROOT::VecOps::RVec<Float_t>`), an RNTuple field by its field type
(`std::uint32_t`, `float`), a defined column by the demangled C++ type of its
expression (`int`, `double`, `ROOT::VecOps::RVec<int>`), where a 64-bit
integer from `rdfentry_` or a `Long64_t` is `ULong64_t`/`Long64_t` and an index
list (`Argsort`, `Nonzero`, `Combinations`) holds `unsigned long` (size_t).
This module only spells: the types themselves come from the planner.
"""

from __future__ import annotations

from typing import Final, Literal

from hepflow.core.types import CXX_NAMES, ColumnType, DType
from hepflow.io.snapshot import SIZEOF_PREFIX
from hepflow.plan.nodes import (
    Alias,
    DefaultValueFor,
    EmptySource,
    FilterAvailable,
    PlanNode,
    Source,
)

Origin = Literal["ttree", "rntuple", "define"]

RVEC: Final = "ROOT::VecOps::RVec"

LEAF_NAMES: Final[dict[DType, str]] = {
    "bool": "Bool_t", "int8": "Char_t", "uint8": "UChar_t", "int16": "Short_t",
    "uint16": "UShort_t", "int32": "Int_t", "uint32": "UInt_t", "int64": "Long64_t",
    "uint64": "ULong64_t", "float32": "Float_t", "float64": "Double_t",
}
"""TLeaf::GetTypeName of each leaf type."""

FIELD_NAMES: Final[dict[DType, str]] = {
    "bool": "bool", "int8": "std::int8_t", "uint8": "std::uint8_t", "int16": "std::int16_t",
    "uint16": "std::uint16_t", "int32": "std::int32_t", "uint32": "std::uint32_t",
    "int64": "std::int64_t", "uint64": "std::uint64_t", "float32": "float", "float64": "double",
}
"""RNTuple field type names of each fundamental type."""

_LORENTZ: Final[dict[DType, str]] = {
    "PtEtaPhiMVector": "ROOT::Math::LorentzVector<ROOT::Math::PtEtaPhiM4D<double> >",
    "PtEtaPhiEVector": "ROOT::Math::LorentzVector<ROOT::Math::PtEtaPhiE4D<double> >",
    "PxPyPzEVector": "ROOT::Math::LorentzVector<ROOT::Math::PxPyPzE4D<double> >",
    "PxPyPzMVector": "ROOT::Math::LorentzVector<ROOT::Math::PxPyPzM4D<double> >",
}

_DEFINED_SCALARS: Final[dict[DType, str]] = {
    **CXX_NAMES, **_LORENTZ, "int8": "char", "int64": "Long64_t", "uint64": "ULong64_t"}
_DEFINED_ELEMENTS: Final[dict[DType, str]] = {
    **CXX_NAMES, **_LORENTZ, "int8": "char", "int64": "Long64_t"}

SPECIAL_NAMES: Final[dict[str, str]] = {"rdfentry_": "ULong64_t", "rdfslot_": "unsigned int"}


def _rvec(element: str) -> str:
    # ROOT's demangler leaves a space between two closing brackets.
    return f"{RVEC}<{element}{' ' if element.endswith('>') else ''}>"


def root_type_name(ctype: ColumnType, origin: Origin, name: str = "") -> str:
    """How ROOT's `GetColumnType` spells `ctype` for a column of that origin."""
    if ctype.kind == "unknown":
        return "unknown"
    if ctype.kind == "combos":
        return _rvec(_rvec("unsigned long"))
    if origin == "define":
        names = _DEFINED_ELEMENTS if ctype.kind == "jagged" else _DEFINED_SCALARS
        element = names[ctype.dtype]
        if ctype.kind == "jagged":
            return _rvec(element)
        return element
    if origin == "rntuple":
        dtype: DType = "uint64" if name.startswith(SIZEOF_PREFIX) else ctype.dtype
        element = FIELD_NAMES.get(dtype, CXX_NAMES[dtype])
    else:
        element = LEAF_NAMES.get(ctype.dtype, CXX_NAMES[ctype.dtype])
    return _rvec(element) if ctype.kind == "jagged" else element


def column_type_name(node: PlanNode, name: str) -> str | None:
    """ROOT's spelling of column `name` as seen at `node` (None: no such column).

    An alias, a `DefaultValueFor` and a `FilterAvailable` pass the column on, so
    the spelling is that of where it was read or defined.
    """
    found = node.lookup(name)
    if found is None:
        return None
    ctype, origin_node = found
    if name in SPECIAL_NAMES and isinstance(origin_node, Source):
        return SPECIAL_NAMES[name]
    if isinstance(origin_node, Alias):
        return column_type_name(origin_node.parent, origin_node.target)
    if isinstance(origin_node, (DefaultValueFor, FilterAvailable)):
        return column_type_name(origin_node.parent, name)
    if isinstance(origin_node, Source) and not isinstance(origin_node, EmptySource):
        return root_type_name(ctype, _source_origin(origin_node), name)
    return root_type_name(ctype, "define", name)


def _source_origin(source: Source) -> Origin:
    files = tuple(source.data or ())
    fmt = getattr(files[0], "format", "") if files else ""
    return "rntuple" if fmt == "rntuple" else "ttree"


__all__ = ["FIELD_NAMES", "LEAF_NAMES", "Origin", "column_type_name", "root_type_name"]
