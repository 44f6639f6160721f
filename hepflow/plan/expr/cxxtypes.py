"""C++ type names as RDataFrame users write them in casts and templates.

`(int)x`, `(unsigned long long)x`, `static_cast<ULong64_t>(x)`, `float(x)`,
`RVec<double>(n, 0.)`, `Construct<ROOT::Math::PtEtaPhiMVector>(...)`: the
spellings here are C++'s fundamental types, ROOT's typedefs (`Int_t`,
`Float_t`, ...), `<cstdint>` and the 4-vector classes of ROOT::Math.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hepflow.core.types import DType

_TYPEDEFS: Final[dict[str, DType]] = {
    "bool": "bool", "Bool_t": "bool", "char": "int8", "Char_t": "int8", "UChar_t": "uint8",
    "Short_t": "int16", "UShort_t": "uint16", "Int_t": "int32", "UInt_t": "uint32",
    "Long_t": "int64", "ULong_t": "uint64", "Long64_t": "int64", "ULong64_t": "uint64",
    "Float_t": "float32", "Double_t": "float64", "Double32_t": "float64",
    "Float16_t": "float32", "float": "float32", "double": "float64", "size_t": "uint64",
    "int": "int32", "short": "int16", "long": "int64", "unsigned": "uint32", "signed": "int32",
    "int8_t": "int8", "uint8_t": "uint8", "int16_t": "int16", "uint16_t": "uint16",
    "int32_t": "int32", "uint32_t": "uint32", "int64_t": "int64", "uint64_t": "uint64",
}
VECTORS: Final[dict[str, DType]] = {
    "PtEtaPhiMVector": "PtEtaPhiMVector", "PtEtaPhiEVector": "PtEtaPhiEVector",
    "PxPyPzEVector": "PxPyPzEVector", "PxPyPzMVector": "PxPyPzMVector",
    "XYZTVector": "PxPyPzEVector",
}
_WORDS = frozenset({"unsigned", "signed", "char", "short", "int", "long"})
# ROOT's RVec aliases (ROOT/RVec.hxx): RVecF is RVec<float>, ...
RVEC_ALIASES: Final[dict[str, DType]] = {
    "RVecB": "bool", "RVecC": "int8", "RVecI": "int32", "RVecU": "uint32", "RVecL": "int64",
    "RVecUL": "uint64", "RVecLL": "int64", "RVecULL": "uint64", "RVecF": "float32",
    "RVecD": "float64",
}
_NAMESPACES = ("std::", "ROOT::Math::", "ROOT::VecOps::", "ROOT::")


def strip_namespace(name: str) -> str:
    for prefix in _NAMESPACES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def single_word_type(name: str) -> DType | None:
    """The type a one-word name stands for (`int`, `Float_t`, `std::uint8_t`), or None."""
    base = strip_namespace(name)
    if base in VECTORS:
        return VECTORS[base]
    if name != base and base in ("int", "float", "double", "bool", "char", "short", "long"):
        return None  # `std::int` is no type
    return _TYPEDEFS.get(base)


def type_from_words(words: Sequence[str]) -> DType | None:
    """The type spelled by `words` (`["unsigned", "long", "long"]`), or None."""
    if len(words) == 1:
        return single_word_type(words[0])
    if not words or not set(words) <= _WORDS or words.count("long") > 2:
        return None
    unsigned = "unsigned" in words
    if unsigned and "signed" in words:
        return None
    rest = [w for w in words if w not in ("unsigned", "signed")]
    if rest.count("int") > 1 or rest.count("char") + rest.count("short") > 1:
        return None
    if "char" in rest:
        if len(rest) > 1:
            return None
        return "uint8" if unsigned else "int8"
    if "short" in rest:
        if "long" in rest:
            return None
        return "uint16" if unsigned else "int16"
    if "long" in rest:
        return "uint64" if unsigned else "int64"
    return "uint32" if unsigned else "int32"


def is_type_word(name: str) -> bool:
    return name in _WORDS or single_word_type(name) is not None


__all__ = ["RVEC_ALIASES", "VECTORS", "is_type_word", "single_word_type", "strip_namespace",
           "type_from_words"]
