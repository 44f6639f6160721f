"""RDataFrame's transformations: each returns a new dataframe around a new plan node."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hepflow.core.sampleinfo import SampleInfo
from hepflow.core.types import ColumnType, dtype_kind
from hepflow.errors import ExpressionError, PlanError
from hepflow.frame.base import FrameBase
from hepflow.frame.typenames import column_type_name
from hepflow.plan.expr import compile_expression, variation
from hepflow.plan.nodes import (
    Alias,
    Computation,
    DefaultValueFor,
    Define,
    Filter,
    FilterAvailable,
    PerSampleValue,
    PyFunction,
    Range,
    Source,
)
from hepflow.plan.nodes import Vary as VaryNode
from hepflow.plan.variations import PickVariation, is_brace_list, split_braces

if TYPE_CHECKING:
    from typing_extensions import Self



class Transformations(FrameBase):
    """Define, Filter, Vary and the other transformations (see `hepflow.RDataFrame`)."""

    def Define(self, name: str, expression: str | Callable[..., Any],
               columns: Sequence[str] | None = None) -> Self:
        """A new column, computed per event.

        Parameters
        ----------
        name : str
            The new column's name (must not exist yet; see `Redefine`).
        expression : str or callable
            An expression string with RDataFrame's per-event semantics, or a
            Python callable on awkward arrays (the escape hatch).
        columns : sequence of str, optional
            With a callable only: the columns passed to it, in order.

        Returns
        -------
        RDataFrame
            The dataframe with the column added.

        Examples
        --------
        >>> df.Define("pt0", "nMuon > 0 ? Muon_pt[0] : -1.f")            # doctest: +SKIP
        >>> df.Define("ht", lambda pt: ak.sum(pt, axis=1), ["Jet_pt"])   # doctest: +SKIP
        """
        self._new_name(name, "Define")
        return self._derive(Define(self._node, name, self._computation(expression, columns)))

    def Redefine(self, name: str, expression: str | Callable[..., Any],
                 columns: Sequence[str] | None = None) -> Self:
        """Replace an existing column (a branch or a Define) from here on.

        Parameters and returns are those of `Define`; the column must exist.

        Examples
        --------
        >>> df.Redefine("Muon_pt", "Muon_pt * 1.01")                      # doctest: +SKIP
        """
        self._check_column(name)
        return self._derive(Define(self._node, name, self._computation(expression, columns),
                                   redefine=True))

    def DefinePerSample(self, name: str, expression: str | Callable[[SampleInfo], Any],
                        ) -> Self:
        """A column whose value is fixed per sample, e.g. `xsec * lumi / sumw`.

        Parameters
        ----------
        name : str
            The new column's name.
        expression : str or callable
            A string over the metadata keys every sample has (and `rdfsampleinfo_`),
            or a callable receiving a `SampleInfo` (name, index, metadata). Values
            are computed once per sample, here, on the client.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.DefinePerSample("norm", "xsec * lumi / sumw")              # doctest: +SKIP
        """
        self._new_name(name, "DefinePerSample")
        value = self._per_sample_value(name, expression, "DefinePerSample")
        return self._derive(Define(self._node, name, value))

    def _per_sample_value(self, name: str, expression: str | Callable[[SampleInfo], Any],
                          verb: str) -> PerSampleValue:
        """The values of a DefinePerSample/RedefinePerSample expression, one per sample."""
        files = self._graph.files or {("", ""): SampleInfo("", 0, {}, named=False)}
        if isinstance(expression, str):
            values, ctype = _per_sample_values(expression, files, self._graph.samples)
            text = expression
        elif callable(expression):
            values = {key: expression(info) for key, info in files.items()}
            probe = np.asarray(list(values.values()))
            ctype = ColumnType("scalar", dtype_kind(probe.dtype))
            text = getattr(expression, "__qualname__", "callable") + "(sample)"
        else:
            raise PlanError(f"{verb} takes an expression string or a callable")
        if ctype.dtype == "other":
            raise PlanError(f"{verb} `{name}`: values must be numbers or booleans")
        return PerSampleValue(values, ctype, text)

    def RedefinePerSample(self, name: str, expression: str | Callable[[SampleInfo], Any],
                          ) -> Self:
        """Replace an existing column with a value fixed per sample (see `DefinePerSample`).

        Parameters
        ----------
        name : str
            An existing column (a branch or a Define).
        expression : str or callable
            As for `DefinePerSample`: over the samples' metadata, or a callable
            receiving a `SampleInfo`; computed once per sample, on the client.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.RedefinePerSample("weight", "xsec * lumi / sumw")         # doctest: +SKIP
        """
        self._check_column(name)
        value = self._per_sample_value(name, expression, "RedefinePerSample")
        return self._derive(Define(self._node, name, value, redefine=True))

    def Predict(self, name: str, bundle: Any, output: int | None = None) -> Self:
        """A model's score as a lazy column.

        Parameters
        ----------
        name : str
            The score column's name.
        bundle : model bundle or str
            A bundle from `hepflow.ml` (loaded once per worker), or the URL of a
            model served by `hepflow serve` (token from `$HEPFLOW_SERVE_TOKEN`):
            ``.../v1/models/NAME``, or any Open Inference Protocol (KServe V2)
            server, Triton included: ``http(s)://host/v2/models/NAME`` or
            ``grpc://host:port/v2/models/NAME``.
        output : int, optional
            Which output of a multi-output model.

        Returns
        -------
        RDataFrame
        """
        if isinstance(bundle, str) and bundle.startswith(("http://", "https://", "grpc://")):
            from hepflow.serve.client import remote_model

            remote = remote_model(bundle)
            return self.Define(name, remote, list(remote.columns))
        from hepflow.ml.predict import Predict

        result: Self = Predict(self, bundle, name, output=output)
        return result

    def Alias(self, alias: str, column: str) -> Self:
        """A second name for an existing column.

        Examples
        --------
        >>> df.Alias("pt", "Muon_pt")                                     # doctest: +SKIP
        """
        self._new_name(alias, "Alias")
        self._check_column(column)
        return self._derive(Alias(self._node, alias, column))

    def Filter(self, expression: str | Callable[..., Any], name: str = "",
               columns: Sequence[str] | None = None) -> Self:
        """Keep the events passing a condition.

        Parameters
        ----------
        expression : str or callable
            One boolean (or number, non-zero is true) per event.
        name : str, optional
            A named filter appears in `Report()`.
        columns : sequence of str, optional
            With a callable: its input columns (may also be passed as `name`).

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.Filter("nMuon == 2", "two muons")                          # doctest: +SKIP
        """
        if callable(expression) and isinstance(name, (list, tuple)):
            name, columns = "", name
        comp = self._computation(expression, columns)
        if comp.type.kind in ("jagged", "combos"):
            text = expression if isinstance(expression, str) else comp.text
            raise ExpressionError(
                f"a filter needs one value per event, but this gives {comp.type}; "
                "reduce the collection first, e.g. Any(...), All(...) or Sum(...) > 0",
                text, 0, len(text))
        if comp.type.category == "string":
            text = expression if isinstance(expression, str) else comp.text
            raise ExpressionError("a filter needs a boolean (or a number), not a string; "
                                  'compare it, e.g. cat == "signal"', text, 0, len(text))
        node = Filter(self._node, comp, str(name))
        if name:
            self._graph.register_filter(node)
        return self._derive(node)

    def Range(self, begin: int, end: int | None = None, stride: int = 1) -> Self:
        """Range(end) or Range(begin, end, stride) of the entries reaching this node.

        Exact in distributed mode, also after filters (a counting pass finds
        each chunk's first entry number). `end=0` means no end, as in ROOT.

        Examples
        --------
        >>> df.Filter("nMuon > 0").Range(100).Count()                     # doctest: +SKIP
        """
        if end is None:
            begin, end = 0, begin
        if begin < 0 or end < 0 or stride < 1 or (end and end < begin):
            raise PlanError(f"Range({begin}, {end}, {stride}): need 0 <= begin <= end "
                            "(end 0 = no end) and stride >= 1")
        return self._derive(Range(self._node, int(begin), int(end), int(stride)))

    def Vary(self, colName: str | Sequence[str],
             expression: str | Sequence[str] | Callable[..., Any],
             variationTags: Sequence[str] | int, variationName: str = "", *,
             columns: Sequence[str] | None = None) -> Self:
        """Systematic variations of one or more columns, as ROOT's `Vary`.

        The nominal values pass unchanged; `VariationsFor(result)` then gives the
        result under each tag, all computed in the same pass, re-evaluating only
        what a variation changes.

        Parameters
        ----------
        colName : str or sequence of str
            The column(s) varied together.
        expression : str, sequence of str or callable
            ROOT's form, one item per tag: `"ROOT::RVecD{x * 0.9, x * 1.1}"`, and
            for several columns one brace list per column:
            `"RVec<RVecF>{{pt * 0.9, pt * 1.1}, {eta, eta}}"`. Or a Python list of
            expression strings (per tag; per column then per tag for several
            columns), or a callable (with `columns=`) returning the values per tag
            (per column then per tag for several columns).
        variationTags : sequence of str or int
            Tag names (`["down", "up"]`), or a number n for tags "0" ... "n-1".
        variationName : str
            The variation's name in result keys (`"jes:up"`); defaults to the
            column's name for a single column, and is required for several.
        columns : sequence of str, optional
            With a callable: its input columns.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df = df.Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>{Jet_pt * 0.98f, Jet_pt * 1.02f}",
        ...              ["down", "up"], "jes")                           # doctest: +SKIP
        >>> h = df.Histo1D(("ht", "", 50, 0, 1000), "HT")                 # doctest: +SKIP
        >>> VariationsFor(h)["jes:up"]                                    # doctest: +SKIP
        """
        cols = (colName,) if isinstance(colName, str) else tuple(colName)
        if not cols:
            raise PlanError("Vary needs at least one column")
        types = [self._check_column(c) for c in cols]
        if isinstance(variationTags, int) and not isinstance(variationTags, bool):
            if variationTags < 1:
                raise PlanError("Vary needs at least one variation")
            tags = tuple(str(i) for i in range(variationTags))
        elif isinstance(variationTags, Sequence):
            tags = tuple(str(t) for t in variationTags)
        else:
            raise PlanError("Vary: variationTags is a list of tag names or a number")
        if not tags or len(set(tags)) != len(tags):
            raise PlanError(f"Vary: variation tags must be distinct and not empty, got {tags}")
        name = variationName or (cols[0] if len(cols) == 1 else "")
        if not name:
            raise PlanError("Vary of several columns needs a variationName")
        for node in self._node.lineage():
            if isinstance(node, VaryNode) and node.name == name:
                raise PlanError(f"Vary: a variation named {name!r} already exists")
        values = tuple(tuple(self._varied(expression, cols, c, t, len(tags), columns,
                                          types[c], name)
                             for t in range(len(tags))) for c in range(len(cols)))
        for col, ctype, comps in zip(cols, types, values, strict=True):
            for tag, comp in zip(tags, comps, strict=True):
                if comp.type.kind not in (ctype.kind, "unknown"):
                    raise PlanError(f"Vary {name!r}: tag {tag!r} gives {comp.type} for "
                                    f"`{col}`, which is {ctype}")
        return self._derive(VaryNode(self._node, cols, values, tags, name))

    def _varied(self, expression: str | Sequence[str] | Callable[..., Any],
                cols: tuple[str, ...], c: int, t: int, ntags: int,
                columns: Sequence[str] | None, nominal: ColumnType, name: str
                ) -> Computation:
        """The computation of column `cols[c]` under tag number `t`."""
        if callable(expression):
            if columns is None:
                raise PlanError("Vary with a callable needs columns=[...] (its inputs)")
            inputs = tuple(columns)
            for col in inputs:
                self._check_column(col)
            return PyFunction(PickVariation(expression, c, t, len(cols) > 1), inputs, nominal)
        if isinstance(expression, str):
            if not is_brace_list(expression):  # ROOT: any expression giving an RVec per tag
                return variation.picked(self._compile(expression), t, ntags,
                                        name, cols[c], nominal)
            items: list[Any] = split_braces(expression)
            if len(cols) == 1:
                variation.check_brace_type(expression, variation.brace_element_type(
                    expression), nominal, name, cols[c])
                single = self._compile(items[0]) if len(items) == 1 < ntags else None
                if single is not None and single.type.kind == "jagged":
                    # `RVecD{w * weights(x)}`: C++ copies the one RVec item, all tags' values
                    return variation.picked(single, t, ntags, name, cols[c], nominal)
            if len(cols) > 1:
                items = [split_braces(item) for item in items]
        elif isinstance(expression, Sequence):
            items = list(expression)
        else:
            raise PlanError("Vary takes an expression string, a list of them, or a callable")
        per_column = items[c] if len(cols) > 1 else items
        if len(cols) > 1 and len(items) != len(cols):
            raise PlanError(f"Vary of {len(cols)} columns needs one list of values per "
                            f"column, got {len(items)}")
        if isinstance(per_column, str) or not isinstance(per_column, Sequence):
            raise PlanError(f"Vary: the values of `{cols[c]}` must be one item per tag")
        if t >= len(per_column) or (t == 0 and len(per_column) != ntags):
            raise PlanError(f"Vary: `{cols[c]}` has {len(per_column)} varied values for "
                            f"{ntags} tags")
        item = per_column[t]
        if not isinstance(item, str):
            raise PlanError(f"Vary: each varied value is an expression string, got {item!r}")
        compiled: Computation = variation.converted(self._compile(item), nominal)
        return compiled

    def _missing_ranges(self, column: str, verb: str) -> tuple[tuple[int, int], ...]:
        """The `rdfentry_` ranges of the files lacking branch `column`."""
        ctype = self._check_column(column)
        found = self._node.lookup(column)
        if found is None or not isinstance(found[1], Source) or \
                found[1].branch_of(column) is None:
            raise PlanError(f"{verb}: `{column}` ({ctype}) is not a branch of the dataset; "
                            "only branches can be missing from some files")
        ranges, offset = [], 0
        for info in self._graph.source.data:
            entries = int(info.num_entries)
            if column not in info.branches:
                ranges.append((offset, offset + entries))
            offset += entries
        return tuple(ranges)

    def FilterAvailable(self, column: str) -> Self:
        """Keep the entries of the files that have branch `column`.

        For datasets whose files have different branch sets. The decision is
        per file, from the branch lists read at preprocessing; the branch is
        not read.

        Parameters
        ----------
        column : str
            A branch of the dataset.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.FilterAvailable("Jet_btag").Histo1D(model, "Jet_btag")    # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "FilterAvailable")
        return self._derive(FilterAvailable(self._node, column, self._check_column(column),
                                            missing))

    def FilterMissing(self, column: str) -> Self:
        """Keep the entries of the files that lack branch `column` (FilterAvailable's complement).

        Examples
        --------
        >>> df.FilterMissing("Jet_btag").Count()                          # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "FilterMissing")
        return self._derive(FilterAvailable(self._node, column, self._check_column(column),
                                            missing, keep_missing=True))

    def DefaultValueFor(self, column: str, default: Any) -> Self:
        """Branch `column`, or `default` for every entry of the files that lack it.

        Parameters
        ----------
        column : str
            A branch of the dataset.
        default : number, bool or sequence
            A number (or bool) for a per-event branch, a list for a collection
            branch (each event then gets that list).

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.DefaultValueFor("Jet_btag", []).DefaultValueFor("genWeight", 1.0)  # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "DefaultValueFor")
        ctype = self._check_column(column)
        if ctype.is_collection:
            if isinstance(default, (str, bytes)) or not isinstance(default, Sequence):
                raise PlanError(f"DefaultValueFor: `{column}` is a collection ({ctype}); "
                                f"the default must be a list, e.g. [], got {default!r}")
            probe = np.asarray(default)
        else:
            probe = np.asarray(default)
            if probe.ndim != 0:
                raise PlanError(f"DefaultValueFor: `{column}` has one value per event "
                                f"({ctype}); the default must be one number, got {default!r}")
        wanted = "string" if ctype.category == "string" else "numeric"
        got = dtype_kind(probe.dtype) if probe.size else None
        if got == "other" or (got is not None and (got == "string") != (wanted == "string")):
            raise PlanError(f"DefaultValueFor: the default of `{column}` must be {wanted}, "
                            f"got {default!r}")
        return self._derive(DefaultValueFor(self._node, column, default, ctype, missing))


    def GetColumnType(self, name: str) -> str:
        """The C++ type name of a column as ROOT spells it, e.g. `ROOT::VecOps::RVec<Float_t>`.

        A TTree branch is named by its leaf type (`UInt_t`), an RNTuple field by
        its field type (`std::uint32_t`), a defined column by its C++ type (`int`).
        """
        self._check_column(name)
        spelled = column_type_name(self._node, name)
        assert spelled is not None  # _check_column found it
        return spelled

    def GetDefinedColumnNames(self) -> list[str]:
        """Columns added by Define (not Redefine) up to here."""
        return [n.name for n in self._node.lineage() if isinstance(n, Define) and not n.redefine]

    def GetFilterNames(self) -> list[str]:
        """Names of the named filters up to here."""
        return [n.name for n in self._node.lineage() if isinstance(n, Filter) and n.name]


def _per_sample_values(expression: str, files: Mapping[tuple[str, str], SampleInfo],
                       samples: Mapping[str, SampleInfo],
                       ) -> tuple[dict[tuple[str, str], Any], ColumnType]:
    """Evaluate a metadata expression once per file, as ROOT does (no event data involved)."""
    from hepflow.engine.evaluate import evaluate

    infos = list(files.values())
    common = set.intersection(*(set(i.metadata) for i in infos)) if infos else set()
    schema = {k: ColumnType("scalar", dtype_kind(np.asarray(infos[0].metadata[k]).dtype))
              for k in common}
    try:
        compiled = compile_expression(expression, schema, {s: i.metadata for s, i in
                                                           samples.items() if i.named})
    except ExpressionError:
        _refuse_text_used_as_number(expression, samples, common, set(common))
        raise
    _refuse_text_used_as_number(expression, samples, common,
                                {k for k in common if schema[k].category != "string"})
    values = {}
    for key, info in files.items():
        frame = _MetadataFrame(info)
        values[key] = np.asarray(evaluate(compiled.tree, frame))[0].item()
    return values, compiled.type


def _refuse_text_used_as_number(expression: str, samples: Mapping[str, SampleInfo],
                                common: set[str], numeric: set[str]) -> None:
    """A metadata value that is text where the expression needs a number names its sample.

    `numeric` are the keys the expression takes as numbers. The metadata the
    expression reads are found by checking it with every key typed as a number;
    an expression that needs text somewhere is left to the real check.
    """
    number = ColumnType("scalar", dtype_kind(np.dtype(np.float64)))
    try:
        probe = compile_expression(expression, dict.fromkeys(common, number))
    except ExpressionError:
        return
    for key in sorted(probe.columns & numeric):
        for sample, info in samples.items():
            value = info.metadata.get(key)
            if isinstance(value, str):
                raise PlanError(f"sample {sample!r}: metadata {key!r} is {value!r}, which is "
                                f"not a number, but `{expression}` computes with it")


class _MetadataFrame:
    """One pseudo-event whose columns are a sample's metadata."""

    n = 1

    def __init__(self, info: SampleInfo) -> None:
        self.info = info

    def column(self, name: str) -> Any:
        return np.asarray([self.info.metadata[name]])

    def subset(self, index: np.ndarray) -> _MetadataFrame:
        return self

    def sample_info(self) -> SampleInfo:
        return self.info


__all__ = ["Transformations"]
