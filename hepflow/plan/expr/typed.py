"""The typed expression tree: what the engine evaluates.

Produced only by the type checker, so every node here is known to make sense
for the columns it reads. Chains of binary operators (`a + b + c`, 490 terms
joined by `&&`) and of prefix operators (`- - x`, `(int)-x`) are single nodes
holding their steps, so the tree stays shallow however long the chain: it
checks, evaluates and pickles without deep recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from hepflow.core.types import ColumnType, DType

Op = Literal["col", "const", "unary", "binary", "ternary", "index", "call", "sampleinfo",
             "local", "input", "vector"]
# the last three only inside a compiled body (plan.expr.loops); "vector" is a 4-vector
# local's accessor on its coordinates (value "System.Method", engine.fourvector_scalar)
UnaryOp = Literal["-", "+", "!", "~", "cast"]
BinaryOp = Literal["||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>",
                   "+", "-", "*", "/", "%"]
IndexKind = Literal["combo", "element", "mask", "unknown"]


@dataclass(frozen=True, slots=True)
class UnaryStep:
    """One prefix operator or conversion, and the type it gives."""

    op: UnaryOp
    type: ColumnType


@dataclass(frozen=True, slots=True)
class BinaryStep:
    """`acc <op> operand`: the result type, and the common type both sides convert to
    first (C++'s usual arithmetic conversions; for `&&`/`||` it is bool)."""

    op: BinaryOp
    type: ColumnType
    common: DType
    may_fail: bool = False


@dataclass(frozen=True, slots=True)
class Typed:
    """One checked operation with its result type: the base of one class per operation.

    Each subclass is one kind of operation (`Column`, `Constant`, `Unary`, `Binary`,
    `Ternary`, the indexings, `Call` and the calls of declared things, ...); the
    engines dispatch on the class, through `visit` (the checker's way), never on a
    string. `value` carries what the kind needs: the column name (Column), the number
    (Constant), the steps (Unary: tuple of UnaryStep, innermost first; Binary: tuple
    of BinaryStep, one per operand after the first), the function name (Call) or
    what a call runs (DeclaredCall: the DeclaredFunction, LoopCall: the LoopBody,
    ...), the lookup (SampleInfoLookup). `may_fail` marks subtrees that can fail on
    some events (an index past the end of a collection); `&&`, `||` and `?:` then
    evaluate them only on the events where C++ would, so `nMuon > 0 && Muon_pt[0] >
    20` is safe. `op` names the kind in messages and in the checks that ask what
    kind of value a subtree is.
    """

    type: ColumnType
    args: tuple[Typed, ...] = ()
    value: object = None
    may_fail: bool = False
    text: str = field(default="", compare=False)
    op: ClassVar[Op]

    def visit(self, visitor: object, *extra: object) -> Any:
        """`visitor.visit_<class name>(self, *extra)`: the one dispatch on the kind of
        operation, as the checker's on syntax nodes."""
        return getattr(visitor, "visit_" + type(self).__name__)(self, *extra)


@dataclass(frozen=True, slots=True)
class Column(Typed):
    """A column of the dataset or a Define (`value`: its name)."""

    op: ClassVar[Op] = "col"


@dataclass(frozen=True, slots=True)
class Constant(Typed):
    """A number or string known when the plan is built (`value`)."""

    op: ClassVar[Op] = "const"


@dataclass(frozen=True, slots=True)
class Unary(Typed):
    """A chain of prefix operators and conversions (`value`: the UnarySteps)."""

    op: ClassVar[Op] = "unary"


@dataclass(frozen=True, slots=True)
class Binary(Typed):
    """A chain of binary operators, `a + b - c` (`value`: the BinarySteps)."""

    op: ClassVar[Op] = "binary"


@dataclass(frozen=True, slots=True)
class Ternary(Typed):
    """`c ? a : b` (args: c, a, b)."""

    op: ClassVar[Op] = "ternary"


@dataclass(frozen=True, slots=True)
class Index(Typed):
    """`base[index]`; one subclass per kind of index (`value` names it too)."""

    op: ClassVar[Op] = "index"


@dataclass(frozen=True, slots=True)
class ElementIndex(Index):
    """`v[i]`: one element per event, checked against the collection's size."""


@dataclass(frozen=True, slots=True)
class MaskIndex(Index):
    """`v[mask]`: the elements where a same-sized collection is true."""


@dataclass(frozen=True, slots=True)
class ComboIndex(Index):
    """`Combinations(...)[0]`: one of the index collections of a combination."""


@dataclass(frozen=True, slots=True)
class UnknownIndex(Index):
    """An index of a value whose type is known only per event (a Python callable's):
    element or mask as the index turns out to be."""


@dataclass(frozen=True, slots=True)
class Call(Typed):
    """A built-in function (VecOps, <cmath>, ...) by name (`value`)."""

    op: ClassVar[Op] = "call"


@dataclass(frozen=True, slots=True)
class DeclaredCall(Call):
    """A Python function given to `hepflow.Declare` (`value`: the DeclaredFunction)."""


@dataclass(frozen=True, slots=True)
class MapCall(Call):
    """`Map(v..., f)` of a declared function of single values (`value`: a Mapped)."""


@dataclass(frozen=True, slots=True)
class CorrectionLookup(Call):
    """A correctionlib correction (`value`: the CorrectionCall, its strings fixed)."""


@dataclass(frozen=True, slots=True)
class VariationCall(Call):
    """One variation's value of a Vary expression (`value`: the VariationPick)."""


@dataclass(frozen=True, slots=True)
class BraceCall(Call):
    """`ROOT::RVecD{a, b}`: a collection per event from its items (`value`: BraceInit)."""


@dataclass(frozen=True, slots=True)
class LoopCall(Call):
    """A C++ body with loops, compiled per event (`value`: the LoopBody; args: inputs)."""


@dataclass(frozen=True, slots=True)
class DrawCall(Call):
    """A random draw of `thread_local` objects (`value`: a random_objects.Draw)."""


@dataclass(frozen=True, slots=True)
class SampleInfoLookup(Typed):
    """`rdfsampleinfo_.Contains("x")` and the like (`value`: the lookup)."""

    op: ClassVar[Op] = "sampleinfo"


@dataclass(frozen=True, slots=True)
class Local(Typed):
    """A local variable of a compiled body (`value`: its uid)."""

    op: ClassVar[Op] = "local"


@dataclass(frozen=True, slots=True)
class Input(Typed):
    """The k-th input of a compiled body, computed beforehand (`value`: k)."""

    op: ClassVar[Op] = "input"


@dataclass(frozen=True, slots=True)
class VectorAccess(Typed):
    """A 4-vector local's accessor on its coordinates (`value`: "System.Method")."""

    op: ClassVar[Op] = "vector"


@dataclass(frozen=True, slots=True)
class BraceInit:
    """The `value` of a call building a collection from `size` items, one per event
    (`ROOT::RVecD{a, b}`): its args are the items, already of the element type's kind."""

    size: int


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, checked expression and the exact set of columns it reads."""

    text: str
    tree: Typed
    columns: frozenset[str]

    @property
    def type(self) -> ColumnType:
        return self.tree.type


__all__ = ["Binary", "BinaryOp", "BinaryStep", "BraceCall", "BraceInit", "Call", "Column",
           "ComboIndex", "Constant", "CorrectionLookup", "DeclaredCall", "DrawCall",
           "ElementIndex", "Expression", "Index", "IndexKind", "Input", "Local", "LoopCall",
           "MapCall", "MaskIndex", "Op", "SampleInfoLookup", "Ternary", "Typed", "Unary",
           "UnaryOp", "UnaryStep", "UnknownIndex", "VariationCall", "VectorAccess"]
