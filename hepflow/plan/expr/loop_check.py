"""Type-check a C++ body with loops into `loops.LoopBody`, for the compiled backend.

The expression checker does the typing: locals are names it resolves to
`Typed("local")` in their scope, and every expression that reads no local and
cannot fail is handed to the vectorised evaluator as an input of the kernel.
Collections a body declares from such expressions (`auto v = Jet_pt[m];`) are
aliases of their input; building collections inside a compiled body is not in
the subset yet and is refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hepflow.core.types import ColumnType, scalar
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.check import _Checker
from hepflow.plan.expr.functions import VECTOR_METHODS
from hepflow.plan.expr.loops import (
    COMPILED_CALLS,
    LAssign,
    LBreak,
    LContinue,
    LDeclare,
    LDeclareList,
    LFor,
    LIf,
    LoopBody,
    LPush,
    LRangeFor,
    LResize,
    LReturn,
    LSetItem,
    LStatement,
    LWhile,
)
from hepflow.plan.expr.random_objects import Draw
from hepflow.plan.expr.statements import mutated, mutation
from hepflow.plan.expr.typed import (
    BraceInit,
    Call,
    Constant,
    ElementIndex,
    Expression,
    Input,
    Local,
    LoopCall,
    Typed,
    VectorAccess,
)

_NUMBERS = ("bool", "int", "float")
_ACCESSORS = frozenset("." + m for m in VECTOR_METHODS)  # p.Pt(), ... of a 4-vector local


@dataclass(frozen=True, slots=True)
class _Local:
    uid: int
    type: ColumnType


class _LoopChecker(_Checker):
    """The expression checker, with the body's locals in scope."""

    def __init__(self, text: str, schema: Mapping[str, ColumnType],
                 samples: Mapping[str, Mapping[str, Any]] | None) -> None:
        super().__init__(text, schema, samples)
        self.scopes: list[dict[str, _Local | Typed]] = [{}]
        self.inputs: dict[Typed, int] = {}
        self.next_uid = 0
        self.loop_depth = 0
        self.return_type: ColumnType | None = None
        self.declared_return: ColumnType | None = None
        self.mutated: frozenset[str] = frozenset()

    def lookup(self, name: str) -> _Local | Typed | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def visit_Name(self, node: n.Name) -> Typed:
        found = self.lookup(node.name)
        if isinstance(found, _Local):
            return Local(found.type, value=found.uid)
        if isinstance(found, Typed):
            return found
        return super().visit_Name(node)

    # ---- expressions: inputs for what reads no local, compiled code for the rest

    def expression(self, node: n.Node) -> Typed:
        return self.split(self.check(node), node)

    def split(self, t: Typed, node: n.Node) -> Typed:
        if t.op == "local" and t.type.category == "vector":
            raise self.fail(f"a {t.type.dtype} local is compiled as its four coordinates: "
                            "use its accessors (p.Pt(), p.Theta(), ...); anything else of "
                            "it in a body with loops is not compiled yet", node)
        if t.op in ("const", "local", "input") or (t.op == "call" and isinstance(t.value, Draw)):
            return t
        if t.op == "call" and t.value in _ACCESSORS and t.args[0].op == "local":
            return _accessor(t)
        if not _reads_local(t) and not t.may_fail:
            return self.input(t, node)
        if t.op == "index" and t.value == "element":
            base = self.input(t.args[0], node) if not _reads_local(t.args[0]) else t.args[0]
            if base.op not in ("input", "local"):
                raise self.fail("only a collection that reads no local can be indexed in "
                                "a compiled body", node)
            return ElementIndex(t.type, (base, self.split(t.args[1], node)), t.value, True)
        if t.op == "call" and str(t.value) in ("size", "Length"):
            arg = t.args[0] if t.args[0].op == "local" else self.input(t.args[0], node)
            return Call(t.type, (arg,), t.value)
        if t.op == "call" and not (isinstance(t.value, str) and t.value in COMPILED_CALLS):
            name = getattr(t.value, "name", t.value)
            raise self.fail(f"`{name}` on values that depend on a local is not compiled yet; "
                            "compute it outside the loop (in another Define)", node)
        if t.op not in ("unary", "binary", "ternary", "call"):
            raise self.fail("this operation on values that depend on a local is not "
                            "compiled yet; compute it in another Define", node)
        if t.type.kind != "scalar" or t.type.category not in _NUMBERS:
            raise self.fail(f"values of type {t.type} that depend on a local are not "
                            "compiled yet; only numbers", node)
        args = tuple(self.split(a, node) for a in t.args)
        return type(t)(t.type, args, t.value, t.may_fail)

    def input(self, t: Typed, node: n.Node) -> Typed:
        if t.type.category in ("vector", "string", "other") or \
                t.type.kind not in ("scalar", "jagged"):
            raise self.fail(f"values of type {t.type} are not compiled in a body with loops "
                            "yet; only numbers and collections of numbers", node)
        k = self.inputs.setdefault(t, len(self.inputs))
        return Input(t.type, value=k)

    def condition(self, node: n.Node) -> Typed:
        cond = self.expression(node)
        if cond.type.kind != "scalar" or cond.type.category not in _NUMBERS:
            raise self.fail(f"a condition must be one value per event, not {cond.type}", node)
        return cond

    # ---- statements

    def block(self, statements: tuple[s.Statement, ...], scoped: bool = True
              ) -> tuple[LStatement, ...]:
        if scoped:
            self.scopes.append({})
        out: list[LStatement] = []
        for st in statements:
            out.extend(self.statement(st))
        if scoped:
            self.scopes.pop()
        return tuple(out)

    def statement(self, st: s.Statement) -> list[LStatement]:
        method = getattr(self, "stmt_" + type(st).__name__)
        result: list[LStatement] = method(st)
        return result

    def stmt_Block(self, st: s.Block) -> list[LStatement]:
        return list(self.block(st.body, st.scoped))

    def stmt_Declare(self, st: s.Declare) -> list[LStatement]:
        if st.name in self.schema:
            raise ExpressionError(f"`{st.name}` is a column of this dataframe; a local of the "
                                  "same name would redefine the lambda's parameter, as C++ "
                                  "refuses", self.text, st.start, st.end)
        if st.name in self.scopes[-1]:
            raise ExpressionError(f"`{st.name}` is declared twice in one scope", self.text,
                                  st.start, st.end)
        raw = None if st.init is None else self.check(st.init)
        if (st.type or (raw.type if raw is not None else None) or scalar("float64")).kind \
                == "jagged":
            return self.declare_collection(st, raw)
        init = None if st.init is None or st.type is None else self.check(
            n.Convert(st.init.start, st.init.end, st.type, st.init))
        init = init or raw
        type_ = st.type or (init.type if init is not None else scalar("float64"))
        if type_.kind == "scalar" and type_.category == "vector":
            return self.declare_vector(st, raw, type_)
        if type_.kind != "scalar" or type_.category not in _NUMBERS:
            raise ExpressionError(f"a local of type {type_} is not compiled yet; only numbers",
                                  self.text, st.start, st.end)
        assert st.init is None or init is not None
        value = None if init is None or st.init is None else self.split(init, st.init)
        uid = self.next_uid
        self.next_uid += 1
        self.scopes[-1][st.name] = _Local(uid, type_)
        return [LDeclare(uid, type_, value)]

    def declare_vector(self, st: s.Declare, raw: Typed | None, type_: ColumnType
                       ) -> list[LStatement]:
        """`PtEtaPhiEVector p(pt, eta, phi, e);` (or `{...}`, or `= V(...)`): four double
        locals holding the coordinates ROOT's constructor stores (phi wrapped, an
        unphysical negative mass corrected), read by the vector's accessors."""
        system = str(type_.dtype)
        f64 = scalar("float64")
        if st.init is None:
            values: list[Typed | None] = [None] * 4
        elif isinstance(st.init, n.Call) and raw is not None and raw.op == "call" and \
                raw.value == system and len(st.init.args) == 4:
            values = [self.expression(n.Convert(a.start, a.end, f64, a)) for a in st.init.args]
        else:
            raise self.fail(f"a {system} local of a body with loops is built from its four "
                            f"coordinates, `{system} p(a, b, c, d)`; other values of it "
                            "are not compiled yet", st.init)
        out: list[LStatement] = []
        raws = []
        for value in values:
            out.append(LDeclare(self.next_uid, f64, value))
            raws.append(Local(f64, value=self.next_uid))
            self.next_uid += 1
        base = self.next_uid
        coords = (raws[0], raws[1], VectorAccess(f64, tuple(raws), f"{system}.Restrict2"),
                  VectorAccess(f64, tuple(raws), f"{system}.Restrict3"))
        for coord in coords:
            out.append(LDeclare(self.next_uid, f64, coord))
            self.next_uid += 1
        self.scopes[-1][st.name] = _Local(base, type_)
        return out

    def declare_collection(self, st: s.Declare, raw: Typed | None) -> list[LStatement]:
        """A local collection: an alias of its value when that reads no local and the body
        never changes it in place, else a collection the kernel builds."""
        assert st.init is None or raw is not None
        type_ = st.type or (raw.type if raw is not None else scalar("float64"))
        where = st.init or n.Name(st.start, st.end, st.name)
        if type_.category not in _NUMBERS:
            raise ExpressionError(f"a local of type {type_} is not compiled yet; only numbers "
                                  "and collections of numbers", self.text, st.start, st.end)
        if raw is not None and raw.type.kind != "jagged":
            raise self.fail(f"cannot initialise a local of type {type_} from {raw.type}", where)
        if raw is not None and st.name not in self.mutated and not _reads_local(raw) and \
                not raw.may_fail:
            alias = raw if st.type is None or raw.type == st.type else \
                self.check(n.Convert(where.start, where.end, type_, where))
            self.input(alias, where)
            self.scopes[-1][st.name] = alias  # read where it is used, as the same input
            return []
        init = None if raw is None else self.collection_value(raw, where)
        uid = self.next_uid
        self.next_uid += 1
        self.scopes[-1][st.name] = _Local(uid, type_)
        return [LDeclareList(uid, type_, init)]

    def collection_value(self, t: Typed, node: n.Node) -> Typed:
        """A collection a compiled body copies or builds: a local one, a brace list of
        values, `RVec<T>(n)` or `RVec<T>(n, v)`, `Take(v, n)` of a collection, or anything
        reading no local (an input)."""
        if t.type.kind != "jagged" or t.type.category not in _NUMBERS:
            raise self.fail(f"a collection of numbers is needed here, not {t.type}", node)
        if t.op == "local":
            return t
        if t.op == "call" and (isinstance(t.value, BraceInit) or t.value == "RVec"):
            return Call(t.type, tuple(self.split(a, node) for a in t.args), t.value)
        if t.op == "call" and t.value == "Take" and \
                (t.args[1].type.kind == "scalar" or len(t.args) == 2):
            # Take(v, n), Take(v, n, default), Take(v, indices): of collections as they are
            base, which = (self.collection_part(a, node) for a in t.args[:2])
            fill = tuple(self.split(a, node) for a in t.args[2:])
            return Call(t.type, (base, which, *fill), "Take")
        if _reads_local(t) or t.may_fail:
            raise self.fail("this collection, built from locals, is not compiled yet; build "
                            "it with push_back or a brace list", node)
        return self.input(t, node)

    def collection_part(self, t: Typed, node: n.Node) -> Typed:
        """A value a compiled `Take` reads: a number, or a collection as a local or an
        input (one the body builds first is an error)."""
        if t.type.kind != "jagged":
            return self.split(t, node)
        if t.op == "local" or not (_reads_local(t) or t.may_fail):
            return t if t.op == "local" else self.input(t, node)
        raise self.fail("Take of a collection built in the same expression is not compiled "
                        "yet; declare that collection as a local first", node)

    def list_local(self, name: str, where: s.Statement) -> _Local:
        found = self.lookup(name)
        if not isinstance(found, _Local) or found.type.kind != "jagged":
            raise ExpressionError(f"`{name}` is not a local collection of this body",
                                  self.text, where.start, where.end)
        return found

    def stmt_AssignElement(self, st: s.AssignElement) -> list[LStatement]:
        found = self.list_local(st.name, st)
        element = scalar(found.type.dtype)
        index = self.expression(st.index)
        if index.type.kind != "scalar" or index.type.category != "int":
            raise self.fail(f"an index must be an integer, not {index.type}", st.index)
        value: n.Node = st.value
        if st.op != "=":
            current = n.Index(st.start, st.end, n.Name(st.start, st.end, st.name), st.index)
            value = n.Binary(st.start, st.end, st.op[:-1], current, value)
        converted = self.expression(n.Convert(st.start, st.end, element, value))
        return [LSetItem(found.uid, index, converted)]

    def mutate(self, st: s.Evaluate, call: n.Call) -> list[LStatement]:
        found = self.list_local(str(mutation(st)), st)
        element = scalar(found.type.dtype)
        args = call.args[1:]
        method = call.func.lstrip(".")
        wanted = {"push_back": (1, 1), "emplace_back": (1, 1), "reserve": (1, 1),
                  "resize": (1, 2), "clear": (0, 0)}[method]
        if not wanted[0] <= len(args) <= wanted[1]:
            raise self.fail(f"{method} takes {wanted[0]} to {wanted[1]} argument(s), got "
                            f"{len(args)}", call)
        if method in ("push_back", "emplace_back"):
            value = self.expression(n.Convert(args[0].start, args[0].end, element, args[0]))
            return [LPush(found.uid, value)]
        if method == "clear":
            zero = Constant(scalar("uint64"), value=0)
            return [LResize(found.uid, found.type, zero, None)]
        size = self.expression(n.Convert(args[0].start, args[0].end, scalar("int64"),
                                         args[0]))
        if method == "reserve":
            return []
        fill = None if len(args) < 2 else \
            self.expression(n.Convert(args[1].start, args[1].end, element, args[1]))
        return [LResize(found.uid, found.type, size, fill)]

    def stmt_Assign(self, st: s.Assign) -> list[LStatement]:
        found = self.lookup(st.name)
        if not isinstance(found, _Local):
            what = "a collection alias" if isinstance(found, Typed) else \
                "a column; Define a new column or a local instead" \
                if st.name in self.schema else "not a local variable of this body"
            raise ExpressionError(f"cannot assign to `{st.name}`: it is {what}", self.text,
                                  st.start, st.end)
        value: n.Node = st.value
        if st.op != "=":
            value = n.Binary(st.start, st.end, st.op[:-1], n.Name(st.start, st.end, st.name),
                             value)
        converted = n.Convert(st.start, st.end, found.type, value)
        return [LAssign(found.uid, found.type, self.expression(converted))]

    def stmt_Evaluate(self, st: s.Evaluate) -> list[LStatement]:
        if mutation(st) is not None:
            assert isinstance(st.value, n.Call)
            return self.mutate(st, st.value)
        self.check(st.value)
        return []

    def stmt_If(self, st: s.If) -> list[LStatement]:
        cond = self.condition(st.condition)
        then = self.block((st.then,))
        otherwise = self.block((st.otherwise,)) if st.otherwise is not None else ()
        return [LIf(cond, then, otherwise)]

    def stmt_While(self, st: s.While) -> list[LStatement]:
        cond = self.condition(st.condition)
        self.loop_depth += 1
        body = self.block((st.body,))
        self.loop_depth -= 1
        return [LWhile(cond, body)]

    def stmt_For(self, st: s.For) -> list[LStatement]:
        self.scopes.append({})
        init = self.block((st.init,), False) if st.init is not None else ()
        cond = self.condition(st.condition) if st.condition is not None else None
        step = self.block((st.step,), False) if st.step is not None else ()
        self.loop_depth += 1
        body = self.block((st.body,))
        self.loop_depth -= 1
        self.scopes.pop()
        return [LFor(init, cond, step, body)]

    def stmt_RangeFor(self, st: s.RangeFor) -> list[LStatement]:
        coll = self.check(st.collection)
        if coll.type.kind != "jagged" or coll.type.category not in _NUMBERS:
            raise self.fail(f"a range-for goes over a collection of numbers, not {coll.type}",
                            st.collection)
        out: list[LStatement] = []
        if coll.op != "local" and (_reads_local(coll) or coll.may_fail):
            # `for (x : Take(v, 4))`: the collection, built first, is a local of its own
            built = self.collection_value(coll, st.collection)
            coll = Local(coll.type, value=self.next_uid)
            out.append(LDeclareList(self.next_uid, coll.type, built))
            self.next_uid += 1
        local = coll.op == "local"
        k = coll.value if local else self.input(coll, st.collection).value
        assert isinstance(k, int)
        type_ = st.type or scalar(coll.type.dtype)
        if type_.kind != "scalar" or type_.category not in _NUMBERS:
            raise ExpressionError(f"the loop variable must be a number, not {type_}",
                                  self.text, st.start, st.end)
        uid = self.next_uid
        self.next_uid += 1
        self.scopes.append({st.name: _Local(uid, type_)})
        self.loop_depth += 1
        body = self.block((st.body,))
        self.loop_depth -= 1
        self.scopes.pop()
        return [*out, LRangeFor(uid, type_, k, body, local)]

    def stmt_Break(self, st: s.Break) -> list[LStatement]:
        self.jump(st, "break")
        return [LBreak()]

    def stmt_Continue(self, st: s.Continue) -> list[LStatement]:
        self.jump(st, "continue")
        return [LContinue()]

    def jump(self, st: s.Statement, word: str) -> None:
        if not self.loop_depth:
            raise ExpressionError(f"`{word}` outside a loop", self.text, st.start, st.end)

    def parameters(self, params: Sequence[tuple[str, ColumnType, Typed]]
                   ) -> tuple[LStatement, ...]:
        """A declared function's parameters: locals given the call's arguments."""
        out: list[LStatement] = []
        whole = n.Name(0, len(self.text), "")
        for name, type_, value in params:
            if type_.kind == "jagged" and name in self.mutated:  # a by-value copy it changes
                uid = self.next_uid
                self.next_uid += 1
                self.scopes[0][name] = _Local(uid, type_)
                out.append(LDeclareList(uid, type_, self.collection_value(value, whole)))
                continue
            if type_.kind == "jagged" or type_.category == "vector":
                if _reads_local(value) or value.may_fail:
                    raise self.fail(f"the collection given for `{name}` must not depend on a "
                                    "local of a compiled body", whole)
                self.input(value, whole)
                self.scopes[0][name] = value
                continue
            uid = self.next_uid
            self.next_uid += 1
            self.scopes[0][name] = _Local(uid, type_)
            out.append(LDeclare(uid, type_, self.split(value, whole)))
        return tuple(out)

    def check_return(self, value: Typed, node: n.Node) -> None:
        if value.type.kind != "scalar" or value.type.category not in _NUMBERS:
            raise self.fail(f"a body with loops that returns {value.type} is not compiled "
                            "yet; only one number per event", node)

    def stmt_Return(self, st: s.Return) -> list[LStatement]:
        if self.declared_return is not None and self.declared_return.kind == "jagged":
            value = self.collection_value(self.check(st.value), st.value)
            self.return_type = self.declared_return  # elements convert when returned
            return [LReturn(value)]
        if self.declared_return is not None:  # a function converts to its return type
            converted = n.Convert(st.value.start, st.value.end, self.declared_return,
                                  st.value)
            value = self.check(converted)
            self.check_return(value, st.value)
            self.return_type = self.declared_return
            return [LReturn(self.split(value, st.value))]
        value = self.check(st.value)
        if value.type.kind == "jagged":
            value = self.collection_value(value, st.value)
        else:
            self.check_return(value, st.value)
        if self.return_type is not None and value.type != self.return_type:
            raise ExpressionError(f"this `return` gives {value.type} but an earlier one gives "
                                  f"{self.return_type}; a lambda returns one type, as C++ "
                                  "deduces it", self.text, st.start, st.end)
        self.return_type = value.type
        return [LReturn(value if value.type.kind == "jagged" else self.split(value, st.value))]


def _accessor(t: Typed) -> Typed:
    """`p.Theta()` of a 4-vector local: GenVector's formula on its four coordinate
    locals (uids `p`'s .. +3), a call the kernel makes to `fourvector_scalar`."""
    vector = t.args[0]
    base = vector.value
    assert isinstance(base, int)
    coords = tuple(Local(scalar("float64"), value=base + i) for i in range(4))
    return VectorAccess(t.type, coords, f"{vector.type.dtype}.{str(t.value).lstrip('.')}")


def _reads_local(t: Typed) -> bool:
    return t.op == "local" or any(_reads_local(a) for a in t.args)


def compile_loops(text: str, body: s.Body, schema: Mapping[str, ColumnType],
                  samples: Mapping[str, Mapping[str, Any]] | None,
                  params: Sequence[tuple[str, ColumnType, Typed]] = (),
                  return_type: ColumnType | None = None) -> Expression:
    """The body as one call of a compiled kernel, its inputs the call's args. `params`
    are a declared function's parameters with their (converted) arguments, and
    `return_type` its declared return type."""
    checker = _LoopChecker(text, schema, samples)
    checker.declared_return = return_type
    checker.mutated = mutated(body.statements)
    statements = checker.parameters(params) + checker.block(body.statements)
    if checker.return_type is None:
        raise ExpressionError("the body has no `return`", text, 0, len(text))
    inputs = tuple(checker.inputs)
    loop = LoopBody(statements, tuple(t.type for t in inputs), checker.return_type)
    tree = LoopCall(checker.return_type, inputs, loop, True)  # a loop may run away
    return Expression(text, tree, frozenset(checker.columns))


__all__ = ["compile_loops"]
