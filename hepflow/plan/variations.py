"""Systematic variations: the plan of one result under one tag of one `Vary`.

ROOT's semantics: each variation is applied alone (no combinations), and a
result's map holds "nominal" plus a key `name:tag` for every variation it
depends on. A varied plan is the nominal one with the `Vary` node replaced by
redefinitions of the varied columns; below it, a node is re-created only if
the variation changes what it reads or which events reach it, and otherwise
becomes a `Shared` view of the nominal node, evaluated once for all results
and all variations. So a variation of `Jet_pt` does not re-evaluate a muon
selection, and all variations of all results fill in the same single pass.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from hepflow.errors import PlanError
from hepflow.plan.actions.base import Action
from hepflow.plan.nodes import Define, PlanNode, Shared, Vary


@dataclass(frozen=True, slots=True)
class Variation:
    """One tag of one Vary node: the unit a varied result is computed under."""

    vary: Vary
    tag: int

    @property
    def key(self) -> str:
        return self.vary.keys()[self.tag]


@dataclass(frozen=True, slots=True)
class _Rebased:
    node: PlanNode
    view_changed: bool
    changed: frozenset[str]  # columns whose per-event values differ from nominal here

    @property
    def touched(self) -> bool:
        return self.view_changed or bool(self.changed)


class Rebaser:
    """Builds (and memoises, so every result shares them) the varied copies of nodes."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int, int], _Rebased] = {}
        self._keep: list[PlanNode] = []  # keeps memoised ids alive and unique

    def node(self, node: PlanNode, variation: Variation) -> _Rebased:
        key = (id(node), id(variation.vary), variation.tag)
        found = self._memo.get(key)
        if found is None:
            found = self._rebase(node, variation)
            self._memo[key] = found
            self._keep.append(node)
        return found

    def _rebase(self, node: PlanNode, variation: Variation) -> _Rebased:
        if node is variation.vary:
            vary = variation.vary
            top: PlanNode = vary.parent
            for column, values in zip(vary.columns, vary.values, strict=True):
                top = Define(top, column, values[variation.tag], redefine=True)
            return _Rebased(top, False, frozenset(vary.columns))
        if node.parent is None:
            return _Rebased(node, False, frozenset())
        above = self.node(node.parent, variation)
        if not above.touched:
            return _Rebased(node, False, frozenset())
        defined = frozenset(node.defines())
        reads = set(node.selection_reads())
        for name in defined:
            reads |= node.column_reads(name)
        if above.view_changed or reads & above.changed:
            clone = replace(node, parent=above.node)  # type: ignore[type-var]
            view_changed = above.view_changed or node.selects
            changed = (above.changed | defined if reads & above.changed
                       else above.changed - defined)
            return _Rebased(clone, view_changed, changed)
        return _Rebased(Shared(above.node, node), False, above.changed - defined)

    def action(self, action: Action[Any, Any], variation: Variation,
               ) -> Action[Any, Any] | None:
        """The action under `variation`, or None when the variation does not change it."""
        changes: dict[str, Any] = {}
        touched = False
        for f in fields(action):  # type: ignore[arg-type]
            value = getattr(action, f.name)
            if isinstance(value, PlanNode):
                rebased = self.node(value, variation)
                changes[f.name] = rebased.node
                if f.name == "node":
                    touched |= rebased.view_changed or bool(
                        set(action.columns()) & rebased.changed)
                else:
                    touched |= rebased.view_changed
            elif isinstance(value, tuple) and value and all(isinstance(v, PlanNode)
                                                            for v in value):
                rebased_all = [self.node(v, variation) for v in value]
                changes[f.name] = tuple(r.node for r in rebased_all)
                touched |= any(r.view_changed for r in rebased_all)
        if not touched:
            return None
        return replace(action, **changes)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class PickVariation:
    """One column's values under one tag, from a user callable returning all of them.

    The callable returns the values per tag (per column, then per tag, when
    several columns vary together); it is called once per varied column and tag.
    """

    func: Any
    column: int
    tag: int
    several: bool

    def __call__(self, *args: Any) -> Any:
        out = self.func(*args)
        return out[self.column][self.tag] if self.several else out[self.tag]

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", "callable")
        return f"{name}[{self.column}][{self.tag}]" if self.several else f"{name}[{self.tag}]"


def variations_above(action: Action[Any, Any]) -> list[Variation]:
    """Every tag of every Vary node upstream of the action (and of its counted filters)."""
    seen: dict[int, Vary] = {}
    for start in (action.node, *action.counted_filters()):
        for node in start.lineage():
            if isinstance(node, Vary):
                seen.setdefault(id(node), node)
    return [Variation(vary, tag) for vary in seen.values() for tag in range(len(vary.tags))]


def split_braces(text: str) -> list[str]:
    """The top-level items of ROOT's `RVecD{a, b}` / `RVec<RVecF>{{a, b}, {c, d}}` form.

    Only the braces and commas are looked at (the items are then parsed as
    expressions one by one); anything else is refused with the form ROOT uses.
    """
    body = text.strip()
    start = body.find("{")
    if start < 0 or not body.endswith("}") or (body[:start].strip() and not _is_type(
            body[:start])):
        raise PlanError(f"Vary expects the varied values as ROOT writes them, e.g. "
                        f"'ROOT::RVecD{{x * 0.9, x * 1.1}}' (or a list of expression "
                        f"strings), got {text!r}")
    inner = body[start + 1:-1]
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in inner:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth < 0:
                raise PlanError(f"unbalanced brackets in the Vary expression {text!r}")
        if ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise PlanError(f"unbalanced brackets in the Vary expression {text!r}")
    items.append("".join(current).strip())
    if any(not item for item in items):
        raise PlanError(f"an empty item in the Vary expression {text!r}")
    return items


def is_brace_list(text: str) -> bool:
    """ROOT's brace form (`RVecD{a, b}`, `{a, b}`), as opposed to an expression that
    returns all the varied values at once (`x * ROOT::RVecD(2, 3.)`)."""
    body = text.strip()
    start = body.find("{")
    return start >= 0 and body.endswith("}") and (not body[:start].strip()
                                                   or _is_type(body[:start]))


def _is_type(prefix: str) -> bool:
    """`ROOT::RVecD`, `RVec<RVecF>`, `ROOT::VecOps::RVec<double>` and the like."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:<> ")
    stripped = prefix.strip()
    return bool(stripped) and set(stripped) <= allowed and "RVec" in stripped


__all__ = ["PickVariation", "Rebaser", "Variation", "is_brace_list", "split_braces",
           "variations_above"]
