"""Type checking: resolve names against the schema and functions against the whitelist.

This is where a typo in a column name, indexing a flat branch, or calling an
unknown function fails, at graph-build time, with the user's text and a caret.
Types are C++'s: the exact integer type of every branch and literal flows
through the usual arithmetic conversions, so the engine knows before reading
an event that `nMuon - 2u` is an `unsigned int`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from hepflow.core.types import (
    UNKNOWN,
    VECTOR_DTYPES,
    ColumnType,
    DType,
    IntDType,
    arithmetic,
    column_type,
    conditional,
    int_range,
    integral_promotion,
    jagged,
    scalar,
    wrap,
)
from hepflow.errors import ExpressionError, did_you_mean
from hepflow.plan.expr import cxxtypes, declare, sampleinfo
from hepflow.plan.expr import nodes as n
from hepflow.plan.expr import statements as s
from hepflow.plan.expr.functions import (
    CONSTANTS,
    FUNCTIONS,
    NOT_ROOT_NAMES,
    SignatureError,
    resolve_function,
)
from hepflow.plan.expr.lowering import lower
from hepflow.plan.expr.parser import parse
from hepflow.plan.expr.random_objects import Draw
from hepflow.plan.expr.statement_parser import is_body, parse_body, returns_only_in_lambdas
from hepflow.plan.expr.statements import needs_kernel
from hepflow.plan.expr.tokens import tokenize
from hepflow.plan.expr.typed import (
    Binary,
    BinaryOp,
    BinaryStep,
    BraceCall,
    BraceInit,
    Call,
    Column,
    ComboIndex,
    Constant,
    CorrectionLookup,
    DeclaredCall,
    DrawCall,
    ElementIndex,
    Expression,
    MapCall,
    MaskIndex,
    Ternary,
    Typed,
    Unary,
    UnaryOp,
    UnaryStep,
    UnknownIndex,
)

_COMPARE = frozenset({"<", "<=", ">", ">=", "==", "!="})
_BITWISE = frozenset({"&", "|", "^"})
_SHIFT = frozenset({"<<", ">>"})
# Operations nested inside one another (chains count once). Far beyond what an
# analysis writes, and low enough that evaluating and pickling never recurse deeply.
MAX_DEPTH = 100


class _Checker:
    def __init__(self, text: str, schema: Mapping[str, ColumnType],
                 samples: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.text = text
        self.schema = schema
        self.samples = samples
        self.columns: set[str] = set()
        self.depth = 0
        self.elementwise = False  # checking a Map lambda's body on whole collections

    def fail(self, message: str, node: n.Node, hint: str = "") -> ExpressionError:
        return ExpressionError(message, self.text, node.start, node.end, hint)

    def check(self, node: n.Node) -> Typed:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the expression nests more than {MAX_DEPTH} operations deep; "
                            "split it into several Defines", node)
        method = getattr(self, "visit_" + type(node).__name__)
        typed: Typed = method(node)
        self.depth -= 1
        return typed

    def visit_Literal(self, node: n.Literal) -> Typed:
        value = node.value
        if isinstance(value, str):
            if self.text[node.start] != '"':  # C++: 'x' is a char, 'abc' no string at all
                raise self.fail('a string is written in double quotes, as in C++: "..."',
                                node)
            return Constant(scalar("string"), value=value)
        dtype: DType = node.dtype or ("bool" if isinstance(value, bool) else "int32"
                                      if isinstance(value, int) else "float64")
        return Constant(scalar(dtype), value=value)

    def visit_Draw(self, node: n.Draw) -> Typed:
        """A random draw; `may_fail` so that `?:`, `&&` and `||` draw only on the events
        where C++ evaluates it, and so that equal draws are never computed once."""
        draw = cast(Draw, node.draw)
        return DrawCall(scalar(draw.dtype), (), draw, may_fail=True, text=draw.name)

    def visit_Name(self, node: n.Name) -> Typed:
        name = node.name
        if name == sampleinfo.NAME:
            raise self.fail('use a method of rdfsampleinfo_, e.g. rdfsampleinfo_.GetD("xsec")',
                            node)
        if name in self.schema:
            self.columns.add(name)
            return Column(self.schema[name], value=name)
        if name in CONSTANTS:
            return Constant(scalar("float64"), value=CONSTANTS[name])
        if resolve_function(name) is not None:
            raise self.fail(f"`{name}` is a function; call it with parentheses", node)
        if cxxtypes.is_type_word(name):
            raise self.fail(f"`{name}` is a type; convert with ({name})x or {name}(x)", node)
        hint = did_you_mean(name, self.schema)
        raise self.fail(f"unknown column `{name}`", node, hint)

    def visit_Attribute(self, node: n.Attribute) -> Typed:
        """A dotted column name, as ROOT allows: an RNTuple subfield ``Muon.pt``, ``f.x``."""
        dotted = _dotted(node)
        if dotted is not None and dotted in self.schema:
            self.columns.add(dotted)
            return Column(self.schema[dotted], value=dotted)
        if dotted is not None and any(c.startswith(dotted.split(".")[0] + ".")
                                      for c in self.schema):
            raise self.fail(f"unknown column `{dotted}`", node,
                            did_you_mean(dotted, self.schema))
        raise self.fail(f"`.{node.attr}` is not supported here; use functions such as "
                        "size(v) or methods with parentheses such as p.Pt()", node)

    # ---- prefix operators and conversions, as one chain

    def visit_Unary(self, node: n.Unary | n.Cast) -> Typed:
        chain: list[n.Unary | n.Cast] = []
        inner: n.Node = node
        while isinstance(inner, (n.Unary, n.Cast)):
            chain.append(inner)
            inner = inner.operand
        arg = self.check(inner)
        steps: list[UnaryStep] = []
        value, const = arg.value, arg.op == "const"
        current = arg.type
        for link in reversed(chain):
            op: UnaryOp = "cast" if isinstance(link, n.Cast) else cast(UnaryOp, link.op)
            current = self.unary_type(op, link, current)
            steps.append(UnaryStep(op, current))
            if const:
                folded = _fold_unary(op, value, current.dtype)
                const = folded is not None
                value = folded
        if const:
            return Constant(current, value=value)
        return Unary(current, (arg,), tuple(steps), arg.may_fail)

    visit_Cast = visit_Unary

    def unary_type(self, op: UnaryOp, link: n.Unary | n.Cast, arg: ColumnType) -> ColumnType:
        shown = f"({link.dtype})" if isinstance(link, n.Cast) else op
        self.numeric(arg, link, shown)
        if arg.category == "vector":
            raise self.fail(f"`{shown}` cannot be applied to a 4-vector", link)
        if isinstance(link, n.Cast):
            if arg.kind != "scalar" and self.elementwise:  # a Map lambda's parameter
                return column_type(arg.kind, link.dtype)
            if arg.kind != "scalar":
                raise self.fail(f"a conversion to {scalar(link.dtype)} takes one value, not "
                                f"a collection ({arg}); use RVec<...>(...) or Take", link)
            if link.dtype in VECTOR_DTYPES:
                raise self.fail("build a 4-vector from four values, e.g. "
                                "ROOT::Math::PtEtaPhiMVector(pt, eta, phi, m)", link)
            return scalar(link.dtype)
        if op == "!":  # ROOT's `!` of an RVec<T> is an RVec<T> of 0/1
            return arg if arg.kind == "jagged" else column_type(arg.kind, "bool")
        if op == "~" and arg.category == "float":
            raise self.fail("`~` needs an integer operand", link)
        if arg.category == "float":
            return arg
        return column_type(arg.kind, integral_promotion(arg.dtype))

    # ---- binary operators, as one chain along the left spine

    def visit_Binary(self, node: n.Binary) -> Typed:
        by_name = sampleinfo.name_equals(node, self.text, self.samples)
        if by_name is not None:
            return by_name
        spine: list[n.Binary] = [node]
        while isinstance(spine[-1].left, n.Binary) and \
                sampleinfo.name_equals(spine[-1].left, self.text, self.samples) is None:
            spine.append(spine[-1].left)
        first = self.check(spine[-1].left)
        operands = [first]
        steps: list[BinaryStep] = []
        acc, acc_node = first.type, spine[-1].left
        may_fail = first.may_fail
        for link in reversed(spine):
            right = self.check(link.right)
            step = self.binary_step(link, acc, acc_node, right)
            operands.append(right)
            steps.append(step)
            may_fail = may_fail or right.may_fail or step.may_fail
            acc, acc_node = step.type, link
        return Binary(acc, tuple(operands), tuple(steps), may_fail)

    def binary_step(self, node: n.Binary, left: ColumnType, left_node: n.Node,
                    right: Typed) -> BinaryStep:
        op = cast(BinaryOp, node.op)
        if "string" in (left.category, right.type.category):
            return self.string_step(node, op, left, right.type)
        self.numeric(left, left_node, op)
        self.numeric(right.type, node.right, op)
        kind = "jagged" if "jagged" in (left.kind, right.type.kind) else "scalar"
        a, b = left.dtype, right.type.dtype
        vectors = [t.category == "vector" for t in (left, right.type)]
        if any(vectors):
            if op not in ("+", "-") or not all(vectors):
                other = right.type if vectors[0] else left
                raise self.fail(f"`{op}` cannot be applied to a 4-vector and {other}; "
                                "4-vectors add and subtract", node)
            return BinaryStep(op, column_type(kind, a), a)
        truth: DType = "int32" if kind == "jagged" else "bool"  # ROOT's RVec<int> of 0/1
        if op in ("&&", "||"):
            return BinaryStep(op, column_type(kind, truth), "bool")
        if op in _COMPARE:
            return BinaryStep(op, column_type(kind, truth), arithmetic(a, b))
        if op in _BITWISE or op in _SHIFT:
            if "float" in (left.category, right.type.category):
                raise self.fail(f"`{op}` needs integer or boolean operands", node)
            if op in _SHIFT:
                promoted = integral_promotion(a)
                return BinaryStep(op, column_type(kind, promoted), promoted)
            common: DType = "bool" if a == b == "bool" else arithmetic(a, b)
            return BinaryStep(op, column_type(kind, common), common)
        if op == "%" and "float" in (left.category, right.type.category):
            raise self.fail("`%` needs integer operands in C++; the floating-point "
                            "remainder is fmod(a, b)", node)
        common = arithmetic(a, b)
        may_fail = op in ("/", "%") and common not in ("float32", "float64") and \
            not (right.op == "const" and right.value != 0)
        return BinaryStep(op, column_type(kind, common), common, may_fail)

    def string_step(self, node: n.Binary, op: BinaryOp, left: ColumnType,
                    right: ColumnType) -> BinaryStep:
        """std::string's operators: comparisons (lexicographic, as std::string compares)
        between two strings; anything else is refused here rather than guessed."""
        if op not in _COMPARE:
            raise self.fail(f"`{op}` cannot be applied to a string; strings can only be "
                            "compared (==, !=, <, <=, >, >=)", node)
        if left.category != right.category:
            other = right if left.category == "string" else left
            raise self.fail(f"cannot compare a string with {other}", node)
        if "scalar" != left.kind or "scalar" != right.kind:
            raise self.fail("strings compare one value per event, not collections", node)
        return BinaryStep(op, scalar("bool"), "string")

    def visit_Ternary(self, node: n.Ternary) -> Typed:
        cond = self.check(node.condition)
        if_true = self.check(node.if_true)
        if_false = self.check(node.if_false)
        self.numeric(cond.type, node.condition, "?:")
        a, b = if_true.type, if_false.type
        strings = (a.category == "string", b.category == "string")
        if any(strings) and not all(strings):
            raise self.fail(f"both branches of ?: must have the same type, as in C++, but one "
                            f"is {a} and the other {b}", node)
        for sub, raw in ((if_true, node.if_true), (if_false, node.if_false)):
            if not all(strings):
                self.numeric(sub.type, raw, "?:")
        if a.kind != b.kind and UNKNOWN not in (a, b):
            raise self.fail(f"both branches of ?: must have the same type, as in C++, but one "
                            f"is {a} and the other {b}", node,
                            "compare shapes: a collection (RVec) and one value per event "
                            "cannot be mixed; use Where(mask, v, x) for element-wise choices")
        if cond.type.kind == "jagged" and a.kind != "jagged":
            raise self.fail("a condition that is a collection chooses element by element; "
                            "its branches must be collections too", node.condition)
        if "vector" in (a.category, b.category):
            raise self.fail("?: between 4-vectors is not supported; choose their components, "
                            "e.g. c ? p.Pt() : q.Pt()", node)
        kind = "jagged" if "jagged" in (cond.type.kind, a.kind) else a.kind
        dtype = conditional(a.dtype, b.dtype)
        may_fail = cond.may_fail or if_true.may_fail or if_false.may_fail
        return Ternary(column_type(kind, dtype), (cond, if_true, if_false),
                     may_fail=may_fail)

    def visit_BraceList(self, node: n.BraceList) -> Typed:
        """`ROOT::RVecD{a, b}` and its kin: one collection per event, its items converted
        to the element type as C++ converts them (std::array pads with zeros)."""
        items: list[Typed] = []
        for raw in node.items:
            item = self.check(raw)
            if item.type.kind != "scalar" or item.type.category not in ("bool", "int", "float"):
                raise self.fail(f"an item of {jagged(node.dtype)}{{...}} must be one number "
                                f"per event, not {item.type}", raw)
            items.append(item)
        missing = (node.size or 0) - len(items)
        items += [Constant(scalar(node.dtype), value=0)] * max(missing, 0)
        return BraceCall(jagged(node.dtype), tuple(items), BraceInit(len(items)),
                         any(i.may_fail for i in items))

    def visit_Convert(self, node: n.Convert) -> Typed:
        """A value converted to a local's declared type, as C++ initialises it."""
        want = node.type
        if want.kind == "scalar" and want.category in ("bool", "int", "float"):
            return self.check(n.Cast(node.start, node.end, want.dtype, node.operand))
        arg = self.check(node.operand)
        got = arg.type
        if got == want or UNKNOWN in (got, want):
            return arg
        numbers = ("bool", "int", "float")
        if got.kind != want.kind or got.category not in numbers or \
                want.category not in numbers:
            raise self.fail(f"cannot initialise a local of type {want} from {got}", node)
        return Unary(want, (arg,), (UnaryStep("cast", want),), arg.may_fail)

    def visit_Index(self, node: n.Index) -> Typed:
        base = self.check(node.base)
        index = self.check(node.index)
        btype, itype = base.type, index.type
        may_fail = base.may_fail or index.may_fail
        if btype.kind == "scalar":
            what = f"`{self.text[node.base.start:node.base.end]}`"
            raise self.fail(f"cannot index {what} ({btype}): it holds one value per event, "
                            "not a collection", node)
        if btype.kind == "combos":
            if index.op != "const" or not isinstance(index.value, int) or \
                    isinstance(index.value, bool) or not 0 <= index.value < btype.ncomb:
                raise self.fail(f"Combinations give {btype.ncomb} index lists; index them with "
                                f"a constant 0..{btype.ncomb - 1}", node.index)
            return ComboIndex(jagged(btype.dtype), (base, index), "combo", may_fail)
        if btype.kind == "unknown" or itype.kind == "unknown":
            return UnknownIndex(UNKNOWN, (base, index), "unknown", True)
        if itype.kind == "scalar":
            if itype.category != "int":
                raise self.fail(f"an index must be an integer, not {itype}", node.index)
            if index.op == "const" and isinstance(index.value, int) and index.value < 0:
                raise self.fail("negative indices are not allowed (as in C++)", node.index)
            return ElementIndex(scalar(btype.dtype), (base, index), "element", True)
        if itype.kind == "jagged" and itype.category in ("bool", "int", "float"):
            # ROOT's RVec::operator[](const RVec<V>&) keeps the elements where the value is
            # nonzero, for any V convertible to bool (comparisons give RVec<int>, `!` of an
            # RVec<float> an RVec<float>); Take(v, idx) is how ROOT takes positions
            return MaskIndex(btype, (base, index), "mask", may_fail)
        raise self.fail(f"cannot index a collection with {itype}", node.index)

    def visit_Call(self, node: n.Call) -> Typed:
        rewritten = _rewrite_method(node)
        if rewritten is not None:
            return self.check(rewritten)
        if sampleinfo.is_sampleinfo_call(node):
            return sampleinfo.check_call(node, self.text, self.samples)
        template = node.template
        short = cxxtypes.strip_namespace(node.func)
        if short == "Map" and template is None:
            return self.mapped(node)
        if short in cxxtypes.RVEC_ALIASES and template is None:
            canonical: str | None = "RVec"
            template = cxxtypes.RVEC_ALIASES[short]
        else:
            canonical = resolve_function(node.func)
        user = declare.lookup(node.func) if canonical is None and template is None else None
        if isinstance(user, declare.DeclaredCorrection):
            return self.correction(node, user)
        if isinstance(user, declare.DeclaredCxx):
            from hepflow.plan.expr import cxx_calls  # it builds on this checker

            return cxx_calls.inline_call(self, node, user)
        if user is not None:
            return self.declared(node, user)
        if canonical is None:
            name = node.func.lstrip(".")
            base = name.split("::")[-1]
            if base in NOT_ROOT_NAMES:
                raise ExpressionError(f"unknown function `{name}`: ROOT's name is "
                                      f"`{NOT_ROOT_NAMES[base]}`", self.text, node.func_start,
                                      node.func_end, f"did you mean `{NOT_ROOT_NAMES[base]}`?")
            hint = did_you_mean(base, [f for f in FUNCTIONS if not f.startswith(".")])
            raise ExpressionError(f"unknown function `{name}`", self.text, node.func_start,
                                  node.func_end, hint)
        spec = FUNCTIONS[canonical]
        if not spec.min_args <= len(node.args) <= spec.max_args:
            want = str(spec.min_args) if spec.min_args == spec.max_args else \
                f"{spec.min_args} to {spec.max_args}"
            shown = canonical.lstrip(".")
            raise self.fail(f"{shown} takes {want} argument(s), got {len(node.args)}", node)
        args = tuple(self.check(a) for a in node.args)
        for arg, raw in zip(args, node.args, strict=True):
            if arg.type.category == "string":
                raise self.fail(f"{canonical.lstrip('.')} does not take a string", raw)
        types = [a.type for a in args]
        per_element = self.elementwise and canonical.startswith(".") and \
            types[0].kind == "jagged"  # `v.Pt()` of a Map lambda's 4-vector parameter
        try:
            rtype = spec.rule([scalar(types[0].dtype), *types[1:]] if per_element else types)
            rtype = jagged(rtype.dtype) if per_element else rtype
        except SignatureError as exc:
            where = node.args[exc.arg] if exc.arg is not None else node
            raise self.fail(str(exc), where) from None
        rtype = self.templated(canonical, template, rtype, node)
        if canonical == "Combinations" and rtype.ncomb == -1:
            k = args[1]
            if k.op != "const" or not isinstance(k.value, int) or k.value < 1:
                raise self.fail("Combinations(v, n) needs a positive constant n", node.args[1])
            rtype = ColumnType("combos", rtype.dtype, int(k.value))
        may_fail = spec.may_fail or any(a.may_fail for a in args)
        return Call(rtype, args, canonical, may_fail)

    def declared(self, node: n.Call, func: declare.DeclaredFunction) -> Typed:
        """A call of a function registered with hepflow.Declare, checked against its
        declared signature; the tree holds the function itself."""
        if len(node.args) != len(func.arg_types):
            raise self.fail(f"{func.name} takes {len(func.arg_types)} argument(s), got "
                            f"{len(node.args)} (declared as {func!r})", node)
        args = tuple(self.check(a) for a in node.args)
        for arg, raw, want in zip(args, node.args, func.arg_types, strict=True):
            got = arg.type
            vector_mismatch = (got.category == "vector") != (want.category == "vector")
            if got.kind != want.kind or vector_mismatch or \
                    got.category in ("other", "string"):
                raise self.fail(f"{func.name} expects {want} here, not {got} (declared as "
                                f"{func!r})", raw)
        return DeclaredCall(func.return_type, args, func, True)

    def correction(self, node: n.Call, corr: declare.DeclaredCorrection) -> Typed:
        """A correctionlib correction: numbers per event or per element, strings fixed."""
        if len(node.args) != len(corr.inputs):
            raise self.fail(f"{corr.name} takes {len(corr.inputs)} argument(s), got "
                            f"{len(node.args)} ({corr!r})", node)
        strings: list[tuple[int, str]] = []
        args: list[Typed] = []
        for i, (raw, (name, kind)) in enumerate(zip(node.args, corr.inputs, strict=True)):
            if kind == "string":
                if not (isinstance(raw, n.Literal) and isinstance(raw.value, str)):
                    raise self.fail(f"input `{name}` of {corr.name} is a string: write it "
                                    'in quotes, e.g. "nominal"', raw)
                strings.append((i, raw.value))
                continue
            arg = self.check(raw)
            if arg.type.kind not in ("scalar", "jagged") or \
                    arg.type.category in ("other", "vector", "string"):
                raise self.fail(f"input `{name}` of {corr.name} needs numbers, not "
                                f"{arg.type}", raw)
            args.append(arg)
        kind = "jagged" if any(a.type.kind == "jagged" for a in args) else "scalar"
        return CorrectionLookup(column_type(kind, "float64"), tuple(args),
                                declare.CorrectionCall(corr, tuple(strings)), True)

    def mapped(self, node: n.Call) -> Typed:
        """ROOT's `Map(v1, ..., f)` with `f` declared through hepflow.Declare on single
        values: f applied to the elements of equally long collections."""
        last = node.args[-1] if node.args else None
        if isinstance(last, n.Lambda):
            from hepflow.plan.expr import lambdas  # it builds on this checker

            return lambdas.map_lambda(self, node, last)
        func = declare.lookup(last.name) if isinstance(last, n.Name) else None
        if last is None or not isinstance(func, declare.DeclaredFunction):
            raise self.fail("Map(v, f) needs a lambda or a function declared with "
                            "hepflow.Declare as its last argument", last or node)
        if func.return_type.kind != "scalar" or \
                any(t.kind != "scalar" for t in func.arg_types):
            raise self.fail(f"Map applies {func.name} to single elements, so it must be "
                            f"declared on single values, not as {func!r}", last)
        colls = node.args[:-1]
        if len(colls) != len(func.arg_types):
            raise self.fail(f"Map with {func.name} needs {len(func.arg_types)} collection(s), "
                            f"got {len(colls)}", node)
        args = tuple(self.check(a) for a in colls)
        for arg, raw in zip(args, colls, strict=True):
            if arg.type.kind != "jagged" or arg.type.category in ("other", "vector", "string"):
                raise self.fail(f"Map needs collections of numbers, not {arg.type}", raw)
        return MapCall(jagged(func.return_type.dtype), args, declare.Mapped(func), True)

    def templated(self, name: str, template: DType | None, rtype: ColumnType,
                  node: n.Call) -> ColumnType:
        """The result type of `RVec<T>(...)` and `Construct<V>(...)`; no other takes `<T>`."""
        is_vector = template in VECTOR_DTYPES
        if name == "RVec":
            if template is None or is_vector:
                raise self.fail("write RVec<T>(n, value) with a number type T, e.g. "
                                "RVec<int>(nJet, 0)", node)
            return jagged(template)
        if name == "Construct":
            if template is None or not is_vector:
                raise self.fail("write Construct<ROOT::Math::PtEtaPhiMVector>(pt, eta, phi, m) "
                                "(or PtEtaPhiEVector, PxPyPzEVector)", node)
            return jagged(template)
        if template is not None:
            raise self.fail(f"{name} takes no template argument <...>", node)
        return rtype

    def numeric(self, t: ColumnType, node: n.Node, op: str) -> None:
        if t.kind == "combos":
            raise self.fail(f"`{op}` cannot be applied to Combinations; index them first", node)
        if t.category in ("other", "string") and t.kind != "unknown":
            raise self.fail(f"`{op}` cannot be applied to a column of type {t}", node)


def _fold_unary(op: UnaryOp, value: object, dtype: DType) -> object | None:
    """The constant a prefix operator gives on a constant, or None if C++ leaves it open."""
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, (int, float)):
        return None
    if dtype == "bool":
        return value == 0 if op == "!" else value != 0
    if dtype in ("float32", "float64"):
        number = -float(value) if op == "-" else float(value)
        return float(np.float32(number)) if dtype == "float32" else number
    int_dtype = cast(IntDType, dtype)
    if isinstance(value, float):  # a conversion (`(int)2.7`, `-(int)x` after it)
        if not math.isfinite(value):
            return None
        truncated = math.trunc(value)
        lo, hi = int_range(int_dtype)
        return truncated if lo <= truncated <= hi else None  # else undefined in C++
    if op == "-":
        return wrap(-value, int_dtype)
    if op == "~":
        return wrap(~value, int_dtype)
    return wrap(value, int_dtype)


def compile_expression(text: str, schema: Mapping[str, ColumnType],
                       samples: Mapping[str, Mapping[str, Any]] | None = None) -> Expression:
    """Parse and type-check `text` against the columns in `schema`.

    `samples` (sample name → metadata), when known, lets `rdfsampleinfo_`
    lookups be checked at build time.
    """
    if isinstance(text, str):
        tokens = tokenize(text)
        if is_body(tokens) and returns_only_in_lambdas(tokens):
            raise ExpressionError("ROOT reads a string that contains `return` as a lambda "
                                  "body, and here the only `return` is inside a lambda: the "
                                  "body would return nothing. Write `return ...;` around the "
                                  "whole expression, as ROOT requires", text, 0, len(text))
        if is_body(tokens):
            return _compile_body(text, schema, samples)
        for tok in tokens:
            if tok.kind == "op" and tok.text == ";":
                raise ExpressionError("statements make a lambda body, which needs `return` "
                                      "(ROOT takes a string as a body only when it contains "
                                      "`return`)", text, tok.start, tok.end)
    tree = parse(text)
    checker = _Checker(text, schema, samples)
    typed = checker.check(tree)
    if _draws(typed) > 1:
        return _in_event_order(text, s.Body((s.Return(0, len(text), tree),)), schema, samples)
    return Expression(text, typed, frozenset(checker.columns))


def _draws(tree: Typed) -> int:
    """How many random draws `tree` makes per event (at most)."""
    count, todo = 0, [tree]
    while todo:
        t = todo.pop()
        count += isinstance(t.value, Draw)
        todo.extend(t.args)
    return count


def _in_event_order(text: str, body: s.Body, schema: Mapping[str, ColumnType],
                    samples: Mapping[str, Mapping[str, Any]] | None) -> Expression:
    """A value that draws several random numbers per event, compiled per event: the
    vectorised evaluator would make each draw for every event before the next draw,
    where C++ makes an event's draws in turn, and so would hand them out differently."""
    from hepflow.plan.expr.loop_check import compile_loops  # it builds on _Checker

    return compile_loops(text, body, schema, samples)


def _compile_body(text: str, schema: Mapping[str, ColumnType],
                  samples: Mapping[str, Mapping[str, Any]] | None) -> Expression:
    """A lambda body, as ROOT takes a string with `return`: lowered to one expression
    when it has no loop, else compiled per event (hepflow.plan.expr.loops)."""
    body = parse_body(text)
    if any(needs_kernel(st) for st in body.statements):
        from hepflow.plan.expr.loop_check import compile_loops  # it builds on _Checker

        return compile_loops(text, body, schema, samples)

    def type_of(node: n.Node) -> ColumnType:
        return _Checker(text, schema, samples).check(node).type

    node, returns, dropped = lower(text, body, type_of, frozenset(schema))
    checker = _Checker(text, schema, samples)
    for value in dropped:
        checker.check(value)
    first: ColumnType | None = None
    for statement, value in returns:
        rtype = checker.check(value).type
        if first is not None and rtype != first:
            raise ExpressionError(f"this `return` gives {rtype} but an earlier one gives "
                                  f"{first}; a lambda returns one type, as C++ deduces it",
                                  text, statement.start, statement.end)
        first = rtype
    typed = checker.check(node)
    if _draws(typed) > 1:
        return _in_event_order(text, body, schema, samples)
    return Expression(text, typed, frozenset(checker.columns))


def _rewrite_method(node: n.Call) -> n.Node | None:
    """RVec's `v.empty()`, `v.at(i)`, `v.front()` and `v.back()` as the size and index
    operations they are (`at` checks the index, as every index here is checked)."""
    name, args = node.func, node.args
    if name == ".empty" and len(args) == 1:
        size = n.Call(node.start, node.end, ".size", node.func_start, node.func_end, args)
        return n.Binary(node.start, node.end, "==", size,
                        n.Literal(node.end, node.end, 0, "uint64"))
    if name == ".at" and len(args) == 2:
        return n.Index(node.start, node.end, args[0], args[1])
    if name == ".front" and len(args) == 1:
        return n.Index(node.start, node.end, args[0], n.Literal(node.end, node.end, 0, "int32"))
    if name == ".back" and len(args) == 1:
        size = n.Call(node.start, node.end, ".size", node.func_start, node.func_end, args)
        last = n.Binary(node.start, node.end, "-", size, n.Literal(node.end, node.end, 1,
                                                                    "int32"))
        return n.Index(node.start, node.end, args[0], last)
    return None


def _dotted(node: n.Node) -> str | None:
    """``a.b.c`` of a chain of attributes on a name, None for anything else (``f(x).y``)."""
    if isinstance(node, n.Name):
        return node.name
    if isinstance(node, n.Attribute):
        inner = _dotted(node.base)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


__all__ = ["MAX_DEPTH", "compile_expression"]
