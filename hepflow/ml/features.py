"""Feature specs: which columns become a model's inputs, and how, per chunk and vectorised.

A `Features` spec names flat columns, groups of jagged columns padded or
clipped to a fixed length (with one mask per group, so a model can tell a
padded slot from a real zero), the label, the weight with an explicit policy
for negative weights, and the split. The same spec, stored in a model bundle,
turns the columns of any chunk into exactly the matrix the model was trained
on: training and `Predict` share `input_matrix`.

Everything here works on whole chunks with numpy (no Python loop over events):
that is what makes preparing millions of events cheap compared with padding
event by event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import awkward as ak
import numpy as np

from hepflow.errors import did_you_mean
from hepflow.ml.errors import PlanError
from hepflow.ml.split import Split

NegativeWeights = Literal["keep", "drop", "abs"]
#: What the label is: class numbers, or a continuous value to regress.
Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
_T = TypeVar("_T")
#: Column added by `Features.attach` when the label is given per sample.
SAMPLE_LABEL = "_hepflow_label"


@dataclass(frozen=True, slots=True)
class Jagged:
    """Jagged columns of one collection, each cut or padded to `length` entries.

    The first `length` entries of each event are kept (NanoAOD collections are
    sorted by pt, so these are the leading objects); missing entries get `pad`
    after normalisation, and the group's mask says which slots are real.
    All columns of a group must have the same number of entries per event.
    """

    columns: tuple[str, ...]
    length: int
    pad: float = 0.0
    name: str = ""

    def __init__(self, columns: str | Sequence[str], length: int, pad: float = 0.0,
                 name: str = "") -> None:
        cols = _names(columns, "Jagged columns")
        if not cols:
            raise PlanError("Jagged needs one or more column names")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) \
                or not 1 <= length <= MAX_JAGGED_LENGTH:
            raise PlanError(f"Jagged({cols[0]!r}, ...): length must be an integer from 1 to "
                            f"{MAX_JAGGED_LENGTH}, got {length!r}")
        if isinstance(pad, bool) or not isinstance(pad, (int, float, np.number)) \
                or not np.isfinite(pad):
            raise PlanError(f"Jagged({cols[0]!r}, ...): pad must be a finite number, "
                            f"got {pad!r}")
        if not isinstance(name, str):
            raise PlanError(f"Jagged({cols[0]!r}, ...): name must be text, got {name!r}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "length", int(length))
        object.__setattr__(self, "pad", float(pad))
        object.__setattr__(self, "name", name or _common_prefix(cols))

    @property
    def mask_names(self) -> tuple[str, ...]:
        return tuple(f"{self.name}_mask[{i}]" for i in range(self.length))

    def value_names(self) -> tuple[str, ...]:
        return tuple(f"{c}[{i}]" for c in self.columns for i in range(self.length))

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "length": self.length, "pad": self.pad,
                "name": self.name}


def _names(value: Any, what: str) -> tuple[str, ...]:
    """A tuple of column names from one name or a sequence of them; anything else refused."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (Sequence, np.ndarray)) or isinstance(value, (bytes, Mapping)):
        raise PlanError(f"{what} must be a column name or a list of names, got {value!r}")
    names = tuple(value)
    bad = [c for c in names if not isinstance(c, str) or not c]
    if bad:
        raise PlanError(f"{what}: column names must be non-empty text, got {bad[0]!r}")
    return names


def _common_prefix(columns: Sequence[str]) -> str:
    heads = {c.split("_", 1)[0] for c in columns}
    return heads.pop() if len(heads) == 1 else columns[0]


@dataclass(frozen=True, slots=True)
class Features:
    """What a model sees: inputs, label, weight and split, checked against a dataframe.

    * `flat`: one value per event (`MET_pt`, `nJet`, a Define ...);
    * `jagged`: `Jagged` groups, or a mapping `{column: length}` (one group per column);
    * `label`: a column holding integer classes (bool works), or a mapping
      `{sample name: class}` for datasets whose samples are the classes;
    * `classes`: names of the classes, stored in the bundle as the label meaning;
    * `weight`: an event-weight column, and `negative_weights` says what to do
      with negative ones (NLO generators make them): `"keep"` trains with them
      as they are (unbiased, noisier, and a loss can become negative), `"drop"`
      removes those events, `"abs"` uses |w| (biased where negative weights
      cancel positive ones, but stable);
    * `split`: the deterministic train/validation/test `Split`;
    * `task`: `"classification"` (the default: the label holds classes) or
      `"regression"`: the label is a continuous value (a column such as
      `GenMuon_pt`, or a Define such as `GenMuon_pt / Muon_pt`) that the model
      predicts; the training then reports bias and resolution instead of an AUC.
    """

    flat: tuple[str, ...] = ()
    jagged: tuple[Jagged, ...] = ()
    label: str | Mapping[str, int] | None = None
    weight: str | None = None
    negative_weights: NegativeWeights = "keep"
    split: Split = field(default_factory=Split)
    classes: tuple[str, ...] = ()
    task: Task = "classification"

    def __init__(self, flat: Sequence[str] | str = (),
                 jagged: Sequence[Jagged] | Mapping[str, int] | Jagged = (), *,
                 label: str | Mapping[str, int] | None = None, weight: str | None = None,
                 negative_weights: NegativeWeights = "keep", split: Split | None = None,
                 classes: Sequence[str] = (), task: Task = "classification") -> None:
        flat_cols = _names(flat, "Features(flat=...)")
        if isinstance(jagged, Jagged):
            groups: tuple[Jagged, ...] = (jagged,)
        elif isinstance(jagged, Mapping):
            groups = tuple(Jagged(c, n) for c, n in jagged.items())
        elif isinstance(jagged, Sequence) and not isinstance(jagged, str):
            groups = tuple(jagged)
        else:
            groups = ()
        if not isinstance(jagged, (Jagged, Mapping, Sequence)) or isinstance(jagged, str) \
                or not all(isinstance(g, Jagged) for g in groups):
            raise PlanError("Features(jagged=...) takes Jagged groups or {column: length}")
        if negative_weights not in ("keep", "drop", "abs"):
            raise PlanError(f"negative_weights must be 'keep', 'drop' or 'abs', got "
                            f"{negative_weights!r}")
        if label is None:
            raise PlanError("Features needs a label: a column name, or {sample: class}")
        if isinstance(label, Mapping):
            label = _label_map(label)
        elif not isinstance(label, str) or not label:
            raise PlanError(f"Features(label=...) must be a column name or {{sample: class}}, "
                            f"got {label!r}")
        if task not in TASKS:
            raise PlanError(f"Features(task=...) must be 'classification' or 'regression', "
                            f"got {task!r}")
        if task == "regression" and isinstance(label, Mapping):
            raise PlanError("Features(task='regression') needs a label column holding the "
                            "value to predict, not classes per sample")
        if task == "regression" and len(classes):
            raise PlanError("Features(task='regression') has no classes to name")
        if weight is not None and (not isinstance(weight, str) or not weight):
            raise PlanError(f"Features(weight=...) must be a column name, got {weight!r}")
        if split is not None and not isinstance(split, Split):
            raise PlanError(f"Features(split=...) must be a Split, got {split!r}")
        if isinstance(classes, str) or not isinstance(classes, (Sequence, np.ndarray)):
            raise PlanError(f"Features(classes=...) must be a list of class names, got "
                            f"{classes!r}")
        inputs = list(flat_cols) + [c for g in groups for c in g.columns]
        if not inputs:
            raise PlanError("Features needs at least one flat or jagged input column")
        dupes = sorted({c for c in inputs if inputs.count(c) > 1})
        if dupes:
            raise PlanError(f"Features: column(s) {', '.join(dupes)} given more than once")
        object.__setattr__(self, "flat", flat_cols)
        object.__setattr__(self, "jagged", groups)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "negative_weights", negative_weights)
        object.__setattr__(self, "split", split if split is not None else Split())
        object.__setattr__(self, "classes", tuple(str(c) for c in classes))
        object.__setattr__(self, "task", task)
        if self.n_inputs > MAX_INPUTS:
            raise PlanError(f"Features: {self.n_inputs} model inputs is more than the "
                            f"{MAX_INPUTS} hepflow supports; shorten the Jagged lengths")

    # -- names ------------------------------------------------------------------------

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The dataframe columns the model inputs are made of (what `Predict` reads)."""
        return self.flat + tuple(c for g in self.jagged for c in g.columns)

    @property
    def label_column(self) -> str:
        return SAMPLE_LABEL if isinstance(self.label, Mapping) else str(self.label)

    @property
    def read_columns(self) -> tuple[str, ...]:
        """Every column preparation reads: inputs, label, weight, split identifier."""
        extra = [self.label_column, self.split.column]
        if self.weight:
            extra.append(self.weight)
        out = list(self.input_columns)
        out.extend(c for c in extra if c not in out)
        return tuple(out)

    @property
    def value_names(self) -> tuple[str, ...]:
        """Names of the raw values that are normalised (flat, then jagged slots)."""
        return self.flat + tuple(n for g in self.jagged for n in g.value_names())

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the model's input columns: normalised values, then the masks."""
        return self.value_names + tuple(n for g in self.jagged for n in g.mask_names)

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    def class_names(self, labels: Sequence[int]) -> dict[int, str]:
        """The label meaning: class index -> name (given, from samples, or the number).

        A regression has no classes: its model predicts one value, like a binary score.
        """
        if self.regression:
            return {}
        names: dict[int, str] = {}
        if isinstance(self.label, Mapping):
            for sample, value in self.label.items():
                names[value] = f"{names[value]}+{sample}" if value in names else sample
        for i, name in enumerate(self.classes):
            names[i] = name
        return {int(v): names.get(int(v), str(int(v))) for v in labels}

    # -- checks against a dataframe ---------------------------------------------------

    def validate(self, df: Any, *, training: bool = True) -> None:
        """Fail now, on the client, for a missing or mistyped column (before any work)."""
        if not callable(getattr(df, "GetColumnNames", None)) \
                or not callable(getattr(df, "GetColumnType", None)):
            raise PlanError(f"expected a hepflow.RDataFrame, got {type(df).__name__}")
        available = set(df.GetColumnNames()) | {"rdfentry_"}
        wanted: list[tuple[str, str]] = [(c, "scalar") for c in self.flat]
        wanted += [(c, "jagged") for g in self.jagged for c in g.columns]
        if training:
            if isinstance(self.label, Mapping):
                samples = _sample_names(df)
                missing = sorted(set(samples) - set(self.label))
                if missing:
                    raise PlanError(f"label per sample: no class for sample(s) "
                                    f"{', '.join(missing)}; the dataset has "
                                    f"{', '.join(samples) or 'no named samples'}")
            else:
                wanted.append((str(self.label), "scalar"))
            if self.weight:
                wanted.append((self.weight, "scalar"))
            wanted.append((self.split.column, "scalar"))
        problems = []
        for column, kind in wanted:
            if column not in available:
                hint = did_you_mean(column, available)
                problems.append(f"no column `{column}`" + (f"; {hint}" if hint else ""))
                continue
            ctype = str(df.GetColumnType(column)) if column != "rdfentry_" else "int"
            jagged = ctype.startswith("jagged") or "RVec<" in ctype
            if kind == "jagged" and not jagged and not ctype.startswith("unknown"):
                problems.append(f"`{column}` ({ctype}) has one value per event; list it in "
                                "flat=, not in a Jagged group")
            if kind == "scalar" and jagged:
                problems.append(f"`{column}` ({ctype}) is a collection; put it in a Jagged "
                                "group with a length, or reduce it (e.g. Sum, Max) first")
        if problems:
            raise PlanError("the features do not match the dataframe:\n  "
                            + "\n  ".join(problems))

    def attach(self, df: Any) -> Any:
        """The dataframe with the per-sample label column, where the label is per sample."""
        if not isinstance(self.label, Mapping):
            return df
        mapping = dict(self.label)
        return df.DefinePerSample(SAMPLE_LABEL, lambda info: mapping[info.name])

    # -- persistence --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"flat": list(self.flat), "jagged": [g.to_dict() for g in self.jagged],
                "label": dict(self.label) if isinstance(self.label, Mapping) else self.label,
                "weight": self.weight, "negative_weights": self.negative_weights,
                "split": self.split.to_dict(), "classes": list(self.classes),
                "task": self.task}

    @classmethod
    def from_dict(cls, data: Any, where: str = "features") -> Features:
        """The spec `to_dict` wrote, every key and type checked (bundles are untrusted)."""
        d = _record(data, where, required=("flat", "jagged", "label"),
                    optional=("weight", "negative_weights", "split", "classes", "task"))
        jagged = d["jagged"]
        if not isinstance(jagged, list):
            raise PlanError(f"{where}.jagged must be a list of groups, got {jagged!r}")
        groups = []
        for i, g in enumerate(jagged):
            g = _record(g, f"{where}.jagged[{i}]", required=("columns", "length"),
                        optional=("pad", "name"))
            groups.append(_checked(f"{where}.jagged[{i}]", Jagged, g["columns"], g["length"],
                                   g.get("pad", 0.0), g.get("name", "")))
        split = _record(d.get("split", {}), f"{where}.split", required=(),
                        optional=("train", "validation", "test", "column", "seed"))
        for key, value in split.items():
            wanted = (str,) if key == "column" else (int,) if key == "seed" else (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise PlanError(f"{where}.split.{key}: wrong type, got {value!r}")
        return _checked(where, cls, d["flat"], tuple(groups), label=d["label"],
                        weight=d.get("weight"),
                        negative_weights=d.get("negative_weights", "keep"),
                        split=_checked(f"{where}.split", Split, **split),
                        classes=d.get("classes", ()), task=d.get("task", "classification"))


#: Longest padded collection and most model inputs a spec may ask for: a bound that no
#: real model reaches, so that a hostile bundle cannot make a probe batch take gigabytes.
MAX_JAGGED_LENGTH = 4096
MAX_INPUTS = 1 << 16


def _record(data: Any, where: str, *, required: Sequence[str],
            optional: Sequence[str]) -> dict[str, Any]:
    """A mapping with exactly the known keys (missing or unknown keys named)."""
    if not isinstance(data, Mapping):
        raise PlanError(f"{where} must be a mapping, got {type(data).__name__}")
    known = set(required) | set(optional)
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known)
        raise PlanError(f"{where}: unknown key `{unknown[0]}`" + (f"; {hint}" if hint else ""))
    missing = [k for k in required if k not in data]
    if missing:
        raise PlanError(f"{where}: missing key(s) {', '.join(missing)}")
    return dict(data)


def _checked(where: str, make: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """`make(*args, **kwargs)`, its errors prefixed with where in the file they come from."""
    try:
        return make(*args, **kwargs)
    except PlanError as err:
        raise PlanError(f"{where}: {err}") from err
    except (TypeError, ValueError) as err:
        raise PlanError(f"{where}: {err}") from err


def _label_map(label: Mapping[Any, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for sample, value in label.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < MAX_INPUTS:
            raise PlanError(f"Features(label=...): the class of sample {sample!r} must be a "
                            f"small integer >= 0, got {value!r}")
        out[str(sample)] = int(value)
    return out


def _sample_names(df: Any) -> list[str]:
    graph = getattr(df, "_graph", None)
    return [s for s in getattr(graph, "samples", {}) if s]


# -- per-chunk, vectorised ------------------------------------------------------------


def flat_values(column: Any) -> np.ndarray:
    """One float32 value per event from a numpy or awkward column."""
    if isinstance(column, ak.Array):
        if column.ndim != 1:
            raise PlanError("a flat feature column holds a collection; use a Jagged group")
        column = ak.to_numpy(column)
    return np.asarray(column, dtype=np.float32)


def pad_clip(column: Any, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A jagged column as (values (n, length), mask (n, length), counts (n,)).

    Vectorised: the flat content and per-event start offsets index a
    (n, length) grid; slots past an event's count are masked and left at 0.
    """
    arr = column if isinstance(column, ak.Array) else ak.Array(column)
    if arr.ndim != 2:
        raise PlanError(f"a Jagged feature needs one list per event, got ndim={arr.ndim}")
    counts = np.asarray(ak.to_numpy(ak.num(arr, axis=1)), dtype=np.int64)
    content = np.asarray(ak.to_numpy(ak.flatten(arr, axis=1)), dtype=np.float32)
    n = counts.size
    mask = np.arange(length, dtype=np.int64)[None, :] < counts[:, None]
    values = np.zeros((n, length), dtype=np.float32)
    if content.size:
        starts = np.cumsum(counts) - counts
        index = starts[:, None] + np.arange(length, dtype=np.int64)[None, :]
        values[mask] = content[index[mask]]
    return values, mask, counts


def raw_inputs(spec: Features, columns: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(values (n, V), group masks (n, M)) before normalisation; padded slots hold 0."""
    n = None
    parts: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    if spec.flat:  # one matrix filled column by column: one conversion, no concatenation
        flat = [flat_values(columns[name]) for name in spec.flat]
        block = np.empty((len(flat[0]), len(flat)), np.float32)
        for i, column in enumerate(flat):
            block[:, i] = column
        parts.append(block)
    for group in spec.jagged:
        first_counts = None
        group_mask = None
        for name in group.columns:
            values, mask, counts = pad_clip(columns[name], group.length)
            if first_counts is None:
                first_counts, group_mask = counts, mask
            elif not np.array_equal(counts, first_counts):
                raise PlanError(f"Jagged group {group.name}: `{name}` and "
                                f"`{group.columns[0]}` have different numbers of entries "
                                "per event; put them in separate groups")
            parts.append(values)
        assert group_mask is not None
        masks.append(group_mask)
    for p in parts:
        n = p.shape[0] if n is None else n
    n = n or 0
    values = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0), np.float32)
    mask = np.concatenate(masks, axis=1) if masks else np.zeros((n, 0), np.bool_)
    return values, mask


def valid_matrix(spec: Features, mask: np.ndarray) -> np.ndarray:
    """Per value slot, whether it is real (flat values always are): (n, V) bool."""
    n = mask.shape[0]
    parts = [np.ones((n, len(spec.flat)), np.bool_)]
    offset = 0
    for group in spec.jagged:
        m = mask[:, offset:offset + group.length]
        parts.extend([m] * len(group.columns))
        offset += group.length
    return np.concatenate(parts, axis=1)


def pad_values(spec: Features) -> np.ndarray:
    """The value written into padded slots of each value column (after normalisation)."""
    pads = [0.0] * len(spec.flat)
    for group in spec.jagged:
        pads.extend([group.pad] * (len(group.columns) * group.length))
    return np.asarray(pads, dtype=np.float32)


__all__ = ["MAX_INPUTS", "MAX_JAGGED_LENGTH", "SAMPLE_LABEL", "TASKS", "Features", "Jagged",
           "NegativeWeights", "Task", "flat_values", "pad_clip", "pad_values", "raw_inputs",
           "valid_matrix"]
