"""A loop-free C++ body as one expression, for the vectorised evaluator.

`double z = a * 2; if (z > 3) return z; return 1.;` computes exactly what
`(double)(a * 2) > 3 ? (double)(a * 2) : 1.` does: locals are replaced by the
value they hold at each use (converted to their declared type, as C++
converts on initialisation and assignment), an `if` whose branches return
becomes `?:` over the rest of the body, and an `if` that only assigns merges
the two values of each local with `?:`. The conditions keep C++'s
evaluate-only-what-runs semantics because the evaluator already guards `?:`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hepflow.core.types import ColumnType
from hepflow.errors import ExpressionError
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import statements as s

# The size a body's value may reach once every local is replaced by its value
# (`x = x + x` twice doubles it each time); beyond this the body is refused.
MAX_NODES = 20_000


@dataclass(frozen=True, slots=True)
class _Binding:
    type: ColumnType
    node: n.Node | None  # None: declared without a value, read before one is given
    size: int


@dataclass(frozen=True, slots=True)
class _EndScope(s.Statement):
    """Leaving a block: the names declared in it no longer refer to its locals."""

    names: tuple[tuple[str, int], ...]


@dataclass(slots=True)
class _Env:
    names: dict[str, int]
    values: dict[int, _Binding]

    def copy(self) -> _Env:
        return _Env(dict(self.names), dict(self.values))


TypeOf = Callable[[n.Node], ColumnType]


class _Lowering:
    def __init__(self, text: str, type_of: TypeOf, columns: frozenset[str],
                 elementwise: bool) -> None:
        self.text = text
        self.elementwise = elementwise
        self.type_of = type_of
        self.columns = columns
        self.next_uid = 0
        self.returns: list[tuple[s.Return, n.Node]] = []
        self.dropped: list[n.Node] = []

    def fail(self, message: str, where: s.Statement | n.Node) -> ExpressionError:
        return ExpressionError(message, self.text, where.start, where.end)

    def run(self, body: s.Body, params: Sequence[tuple[str, ColumnType, n.Node]]) -> n.Node:
        env = _Env({}, {})
        for name, type_, value in params:  # a function's parameters: locals holding the args
            uid = self.next_uid
            self.next_uid += 1
            env.names[name] = uid
            env.values[uid] = _Binding(type_, value, self.substitute(value, _Env({}, {}))[1])
        out = self.seq(list(body.statements), env)
        if isinstance(out, _Env):
            end = body.statements[-1] if body.statements else s.Block(0, len(self.text), ())
            raise self.fail("the body can reach its end without `return`; every path of a "
                            "Define body returns the column's value", end)
        return out

    def seq(self, stmts: list[s.Statement], env: _Env) -> n.Node | _Env:
        """Run `stmts` in order: the value returned, or the locals if none returns."""
        for i, st in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(st, s.Return):
                value, _ = self.substitute(st.value, env)
                self.returns.append((st, value))
                return value
            if isinstance(st, s.Block):
                saved = tuple(env.names.items())
                inner = list(st.body) + ([_EndScope(st.end, st.end, saved)] if st.scoped else [])
                return self.seq(inner + rest, env)
            if isinstance(st, _EndScope):
                env.names = dict(st.names)
            elif isinstance(st, s.If):
                return self.branch(st, rest, env)
            elif isinstance(st, s.Declare):
                self.declare(st, env)
            elif isinstance(st, s.Assign):
                self.assign(st, env)
            elif isinstance(st, s.Evaluate):
                self.dropped.append(self.substitute(st.value, env)[0])
            else:  # pragma: no cover - loops take the compiled path
                raise self.fail("loops are compiled, not lowered", st)
        return env

    def branch(self, st: s.If, rest: list[s.Statement], env: _Env) -> n.Node | _Env:
        cond, csize = self.substitute(st.condition, env)
        self.dropped.append(cond)
        if not self.elementwise and self.type_of(cond).kind != "scalar":
            raise self.fail("an `if` condition must be one value per event, not a collection "
                            "(C++ has no conversion of an RVec to bool)", st.condition)
        saved = tuple(env.names.items())
        arms = [st.then, st.otherwise]
        if not any(a is not None and _returns(a) for a in arms):
            results = []
            for arm in arms:
                scoped: list[s.Statement] = [arm] if arm is not None else []
                out = self.seq([*scoped, _EndScope(st.end, st.end, saved)], env.copy())
                assert isinstance(out, _Env)
                results.append(out)
            self.merge(env, cond, csize, results[0], results[1])
            return self.seq(rest, env)
        outs = []
        for arm in arms:
            head: list[s.Statement] = [arm, _EndScope(st.end, st.end, saved)] if arm else []
            out = self.seq(head + rest, env.copy())
            if isinstance(out, _Env):
                raise self.fail("the body can reach its end without `return` after this `if`",
                                st)
            outs.append(out)
        return n.Ternary(st.start, st.end, cond, outs[0], outs[1])

    def merge(self, env: _Env, cond: n.Node, csize: int, a: _Env, b: _Env) -> None:
        for uid, before in env.values.items():
            x, y = a.values[uid], b.values[uid]
            if x is y:
                continue
            if x.node is None or y.node is None:
                env.values[uid] = _Binding(before.type, None, 1)
                continue
            size = csize + x.size + y.size + 1
            self.limit(size, cond)
            node = n.Convert(cond.start, cond.end, before.type,
                             n.Ternary(cond.start, cond.end, cond, x.node, y.node))
            env.values[uid] = _Binding(before.type, node, size)

    def declare(self, st: s.Declare, env: _Env) -> None:
        if st.name in self.columns:
            raise self.fail(f"`{st.name}` is a column of this dataframe; a local of the same "
                            "name would redefine the lambda's parameter, as C++ refuses", st)
        uid = self.next_uid
        self.next_uid += 1
        if st.init is None:
            assert st.type is not None
            env.values[uid] = _Binding(st.type, None, 1)
        else:
            value, size = self.substitute(st.init, env)
            type_ = st.type or self.type_of(value)
            if st.type is not None and not _same_list(value, st.type):
                value = n.Convert(value.start, value.end, st.type, value)
            self.dropped.append(value)  # checked even where never read, as C++ compiles it
            env.values[uid] = _Binding(type_, value, size + 1)
        env.names[st.name] = uid

    def assign(self, st: s.Assign, env: _Env) -> None:
        uid = env.names.get(st.name)
        if uid is None:
            what = "a column; Define a new column or a local instead" \
                if st.name in self.columns else "not a local variable of this body"
            raise self.fail(f"cannot assign to `{st.name}`: it is {what}", st)
        current = env.values[uid]
        value, size = self.substitute(st.value, env)
        if st.op != "=":
            if current.node is None:
                raise self.fail(f"`{st.name}` is used before it is given a value", st)
            value = n.Binary(st.start, st.end, st.op[:-1], current.node, value)
            size += current.size + 1
        self.limit(size, st)
        converted = n.Convert(st.start, st.end, current.type, value)
        self.dropped.append(converted)  # checked even where never read
        env.values[uid] = _Binding(current.type, converted, size + 1)

    def substitute(self, node: n.Node, env: _Env) -> tuple[n.Node, int]:
        """`node` with every local replaced by its current value, and its size."""
        if isinstance(node, n.Name) and node.name in env.names:
            bound = env.values[env.names[node.name]]
            if bound.node is None:
                raise self.fail(f"`{node.name}` is used before it is given a value", node)
            return bound.node, bound.size
        changes: dict[str, Any] = {}
        size = 1
        for field in dataclasses.fields(node):
            value = getattr(node, field.name)
            if isinstance(value, n.Node):
                changes[field.name], sub = self.substitute(value, env)
                size += sub
            elif isinstance(value, tuple) and value and isinstance(value[0], n.Node):
                items = [self.substitute(v, env) for v in value]
                changes[field.name] = tuple(v for v, _ in items)
                size += sum(k for _, k in items)
        self.limit(size, node)
        return (dataclasses.replace(node, **changes) if changes else node), size

    def limit(self, size: int, where: s.Statement | n.Node) -> None:
        if size > MAX_NODES:
            raise self.fail(f"the body's value grows past {MAX_NODES} operations once its "
                            "locals are replaced by their values; split it into several "
                            "Defines", where)


def _returns(statement: s.Statement) -> bool:
    if isinstance(statement, s.Return):
        return True
    if isinstance(statement, s.Block):
        return any(_returns(x) for x in statement.body)
    if isinstance(statement, s.If):
        return _returns(statement.then) or (statement.otherwise is not None and
                                            _returns(statement.otherwise))
    return False


def _same_list(value: n.Node, type_: ColumnType) -> bool:
    return isinstance(value, n.BraceList) and type_.kind == "jagged" and \
        value.dtype == type_.dtype


def lower(text: str, body: s.Body, type_of: TypeOf, columns: frozenset[str],
          params: Sequence[tuple[str, ColumnType, n.Node]] = (), elementwise: bool = False
          ) -> tuple[n.Node, list[tuple[s.Return, n.Node]], list[n.Node]]:
    """The value `body` returns, as one expression; with every `return` and its value
    (their types must agree, as a lambda's deduced return type requires) and the
    other values the body computes (checked, then dropped: C++ compiles them all).
    `params` are a declared function's parameters, each bound to its argument (already
    converted); `elementwise`: a Map lambda's body on whole collections, whose `if`s
    choose element by element."""
    lowering = _Lowering(text, type_of, columns, elementwise)
    node = lowering.run(body, params)
    return node, lowering.returns, lowering.dropped


__all__ = ["MAX_NODES", "lower"]
