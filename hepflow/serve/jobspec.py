"""What a job submission may contain, checked before anything runs (`POST /v1/jobs`'s 4xx).

A submission is an analysis file (Python, run later in its own process, never
here: it is only checked to be UTF-8 text of bounded size) or a training spec
(`TrainingSpec`: an xgboost or Keras training described as data, no code), a dataset spec
(the YAML/JSON `Dataset.load` reads: hepflow's layout, a coffea fileset or an
RDatasetSpec) and options. The dataset is read here — safely: a YAML safe
loader without aliases and with bounded nesting — so that every file it names
can be checked against the server's allowed roots (local paths, after
resolving symbolic links) or remote schemes (``root://``, ``s3://``,
``https://``) before the job is queued. The job then reads the checked copy
(`Dataset.to_dict`), never the text it was sent.
"""

from __future__ import annotations

import json
import os
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from hepflow.config_loader import Loader
from hepflow.dataset.spec import Dataset
from hepflow.errors import HepflowError, PlanError, did_you_mean
from hepflow.ml.dense import DenseNetwork
from hepflow.ml.errors import check_count
from hepflow.serve.config import JobsConfig
from hepflow.serve.errors import BadRequest, InputError, TooLarge

if TYPE_CHECKING:
    from typing import Literal

    from hepflow.ml.normalise import Method

#: The option keys a submission may set.
OPTION_KEYS = ("name",)
_DATASET_SUFFIXES = (".yaml", ".yml", ".json")
_BUNDLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

#: A value in a spec's table (xgboost parameters, jagged lengths, classes).
Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class XGBoostTraining:
    """The xgboost settings of a training spec (``model: xgboost``, the default):
    `params` update hepflow's defaults, `num_boost_round` caps the rounds."""

    kind: ClassVar[str] = "xgboost"

    params: tuple[tuple[str, Scalar], ...] = ()
    num_boost_round: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.num_boost_round <= 10_000:
            raise InputError("training.num_boost_round must be from 1 to 10000")

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "num_boost_round": self.num_boost_round}

    def train(self, df: Any, features: Any) -> Any:
        """`hepflow.ml.train_xgboost` on the selection, as a Python user calls it."""
        from hepflow.ml import train_xgboost

        return train_xgboost(df, features, dict(self.params),
                             num_boost_round=self.num_boost_round, progress=False)


@dataclass(frozen=True, slots=True)
class KerasTraining:
    """The Keras settings of a training spec (``model: keras``): a fully-connected
    network (`hidden` layer sizes, `activation`, `dropout`, Adam's `learning_rate`:
    a `hepflow.ml.DenseNetwork`) and `train_keras`'s own options under its names.

    The output layer follows the classes the selection holds: one sigmoid unit
    for 0/1, softmax units for 0..K-1. `strategy: multiworker` (train_keras's
    default) trains on the job's Dask workers; on a server whose jobs share one
    scheduler, `strategy: local` trains in the job's process instead, since
    TensorFlow joins a multi-worker group only once per worker process.
    """

    kind: ClassVar[str] = "keras"

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    dropout: float = 0.0
    learning_rate: float = 1e-3
    epochs: int = 10
    batch_size: int = 1024
    steps_per_epoch: int | None = None
    shuffle_buffer: int = 10_000
    patience: int | None = 3
    seed: int = 0
    strategy: str = "multiworker"
    normalisation: str = "standard"
    balance_classes: bool = False

    def __post_init__(self) -> None:
        try:
            self.network(1)
            check_count(self.epochs, "epochs")
            check_count(self.batch_size, "batch_size")
            check_count(self.steps_per_epoch, "steps_per_epoch", optional=True)
            check_count(self.shuffle_buffer, "shuffle_buffer", minimum=0)
            check_count(self.patience, "patience", minimum=0, optional=True)
        except PlanError as err:  # its message starts with the setting's name
            raise InputError(f"training.{err}") from None
        if self.epochs > 10_000:
            raise InputError("training.epochs must be from 1 to 10000")
        if self.strategy not in _STRATEGIES:
            raise InputError(f"training.strategy {self.strategy!r} must be "
                             f"{' or '.join(_STRATEGIES)}")
        if self.normalisation not in _NORMALISATIONS:
            raise InputError(f"training.normalisation {self.normalisation!r} must be "
                             f"{', '.join(_NORMALISATIONS[:-1])} or {_NORMALISATIONS[-1]}")

    def network(self, outputs: int) -> DenseNetwork:
        """The network to train, with `outputs` units in its last layer."""
        return DenseNetwork(self.hidden, self.activation, self.dropout, self.learning_rate,
                            outputs)

    def to_dict(self) -> dict[str, Any]:
        return {"hidden": list(self.hidden), "activation": self.activation,
                "dropout": self.dropout, "learning_rate": self.learning_rate,
                "epochs": self.epochs, "batch_size": self.batch_size,
                "steps_per_epoch": self.steps_per_epoch, "shuffle_buffer": self.shuffle_buffer,
                "patience": self.patience, "seed": self.seed, "strategy": self.strategy,
                "normalisation": self.normalisation, "balance_classes": self.balance_classes}

    def train(self, df: Any, features: Any) -> Any:
        """`hepflow.ml.train_keras` on the selection, as a Python user calls it.

        The selection is prepared first (`hepflow.ml.prepare`, as `train_keras`
        would), so that the output layer can match the classes it holds.
        """
        from hepflow.ml import prepare, train_keras

        prepared = prepare(df, features, normalisation=typing.cast("Method",
                                                                   self.normalisation))
        classes = list(prepared.summary.classes)
        if classes != list(range(len(classes))):
            raise PlanError(f"a Keras training needs the classes 0..K-1, the selection has "
                            f"{classes}; give `classes` ({{sample: class}}) or a 0/1 label")
        net = self.network(1 if len(classes) <= 2 else len(classes))
        return train_keras(prepared, None, net, epochs=self.epochs,
                           batch_size=self.batch_size, steps_per_epoch=self.steps_per_epoch,
                           shuffle_buffer=self.shuffle_buffer, patience=self.patience,
                           seed=self.seed,
                           strategy=typing.cast("Literal['multiworker', 'local']",
                                                self.strategy),
                           balance_classes=self.balance_classes, progress=True)


#: The models a training spec trains, by the name its `model` key gives.
MODELS: dict[str, type[XGBoostTraining] | type[KerasTraining]] = {
    cls.kind: cls for cls in (XGBoostTraining, KerasTraining)}
_STRATEGIES = ("multiworker", "local")
_NORMALISATIONS = ("standard", "minmax", "none")


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """A training described as data: no code runs but hepflow's own.

    ``defines`` (name: expression) are defined in order, then ``filters``
    (expressions) applied; the features are ``flat`` columns and ``jagged``
    ones (column: length, padded or clipped); the label is a column
    (``label``) or one class per sample (``classes``: sample: class). The
    trained bundle is saved as the job's result ``bundle``. Expressions are
    hepflow's parsed expressions, checked when the job builds its dataframe.
    ``model`` holds what the spec's `model` key chose (`MODELS`), with that
    model's own settings; in the file they sit beside the keys above.
    """

    model: XGBoostTraining | KerasTraining = field(default_factory=XGBoostTraining)
    defines: tuple[tuple[str, str], ...] = ()
    filters: tuple[str, ...] = ()
    flat: tuple[str, ...] = ()
    jagged: tuple[tuple[str, Scalar], ...] = ()
    label: str | None = None
    classes: tuple[tuple[str, Scalar], ...] = ()
    weight: str | None = None
    negative_weights: str = "keep"
    bundle: str = "model"

    def __post_init__(self) -> None:
        if (self.label is None) == (not self.classes):
            raise InputError("training: give `label` (a column) or `classes` "
                             "({sample: class}), one of them")
        if not self.flat and not self.jagged:
            raise InputError("training: no input columns (`flat` or `jagged`)")
        for column, length in self.jagged:
            if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= 256:
                raise InputError(f"training.jagged.{column}: the length must be an integer "
                                 "from 1 to 256")
        for sample, cls in self.classes:
            if isinstance(cls, bool) or not isinstance(cls, int) or cls < 0:
                raise InputError(f"training.classes.{sample}: a class is an integer >= 0")
        if self.negative_weights not in ("keep", "drop", "abs"):
            raise InputError("training.negative_weights must be keep, drop or abs")
        if not _BUNDLE_NAME.match(self.bundle):
            raise InputError(f"training.bundle {self.bundle!r} must be a plain name "
                             "(letters, digits, '_', '.', '-')")

    @classmethod
    def from_data(cls, data: Any) -> TrainingSpec:
        """The spec from plain data (a parsed file): `model` picks the settings class,
        and a key of another model's (``epochs`` for xgboost) is named as such."""
        if not isinstance(data, Mapping):
            raise InputError(f"training must be a mapping, got {type(data).__name__}")
        kind = data.get("model", XGBoostTraining.kind)
        settings = MODELS.get(kind) if isinstance(kind, str) else None
        if settings is None:
            raise InputError(f"training.model {kind!r}: a training spec trains "
                             f"{' or '.join(repr(m) for m in MODELS)}; other models need an "
                             "analysis file (model_fn)")
        common = {f.name for f in fields(cls)} - {"model"}
        own = {f.name for f in fields(settings)}
        for key in data:
            if key == "model" or key in common or key in own:
                continue
            others = [m for m, c in MODELS.items() if key in {f.name for f in fields(c)}]
            if others:
                raise InputError(f"training.{key} is a setting of {others[0]} training, not "
                                 f"of model: {kind}; {kind} takes {', '.join(sorted(own))}")
            hint = did_you_mean(str(key), sorted(common | own | {"model"}))
            raise InputError(f"training: unknown key `{key}`" + (f"; {hint}" if hint else ""))
        hints = typing.get_type_hints(cls)
        kwargs = {k: SPEC_LOADER.convert(hints[k], v, f"training.{k}")
                  for k, v in data.items() if k in common}
        model = SPEC_LOADER.build(settings, {k: v for k, v in data.items() if k in own},
                                  "training")
        return cls(model=model, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `read_training` reads back to an equal spec."""
        return {"model": self.model.kind, "defines": dict(self.defines),
                "filters": list(self.filters), "flat": list(self.flat),
                "jagged": dict(self.jagged), "label": self.label,
                "classes": dict(self.classes), "weight": self.weight,
                "negative_weights": self.negative_weights, "bundle": self.bundle,
                **self.model.to_dict()}


SPEC_LOADER = Loader(InputError)


def read_training(path: Path, shown: str = "the training spec") -> TrainingSpec:
    """A `TrainingSpec` from a YAML or JSON file; every mistake an `InputError` (422)."""
    try:
        data = SPEC_LOADER.read_file(path, "training spec")
        if isinstance(data, Mapping) and isinstance(data.get("training"), Mapping):
            data = data["training"]
        spec = TrainingSpec.from_data(data)
    except InputError as err:
        raise InputError(err.message.replace(str(path), shown)) from None
    return spec


def training_spec(data: bytes | str | Mapping[str, Any], filename: str, folder: Path,
                  config: JobsConfig) -> TrainingSpec:
    """The submitted training spec (text or a JSON object), read and checked."""
    raw = json.dumps(data).encode() if isinstance(data, Mapping) else \
        data.encode() if isinstance(data, str) else data
    if len(raw) > config.max_analysis_bytes:
        raise TooLarge(f"the training spec is {len(raw)} bytes; the limit is "
                       f"{config.max_analysis_bytes}")
    suffix = ".json" if isinstance(data, Mapping) or raw.lstrip()[:1] == b"{" else ".yaml"
    path = folder / ("training.submitted" + suffix)
    path.write_bytes(raw)
    return read_training(path, filename or "the training spec")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A checked submission: an analysis file or a training spec, the dataset, the options."""

    analysis: str | None
    training: TrainingSpec | None
    dataset: Dataset
    name: str


def analysis_text(data: bytes | str, config: JobsConfig) -> str:
    """The analysis file's text: bounded, UTF-8, not empty (it is not compiled here)."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > config.max_analysis_bytes:
        raise TooLarge(f"the analysis file is {len(raw)} bytes; the limit is "
                       f"{config.max_analysis_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"the analysis file is not UTF-8 text (byte {err.start})") from None
    if not text.strip():
        raise InputError("the analysis file is empty")
    if "\0" in text:
        raise InputError("the analysis file contains a NUL byte: it is not Python source")
    return text


def read_dataset(data: bytes | str | Mapping[str, Any], filename: str, folder: Path,
                 config: JobsConfig) -> Dataset:
    """Read the dataset spec (through `Dataset.load`, in `folder`) and check every file in it.

    Relative paths resolve against `folder` (the job's own), which lies outside the
    allowed roots: a dataset must name its files by absolute path or remote URL.
    """
    if isinstance(data, Mapping):
        raw = json.dumps(data).encode()
        suffix = ".json"
    else:
        raw = data.encode() if isinstance(data, str) else data
        suffix = Path(filename).suffix.lower() if filename else ""
        if suffix not in _DATASET_SUFFIXES:
            suffix = ".json" if raw.lstrip()[:1] in (b"{", b"[") else ".yaml"
    if len(raw) > config.max_dataset_bytes:
        raise TooLarge(f"the dataset spec is {len(raw)} bytes; the limit is "
                       f"{config.max_dataset_bytes}")
    path = folder / ("dataset.submitted" + suffix)
    path.write_bytes(raw)
    shown = filename or "the dataset spec"
    try:
        dataset = Dataset.load(path)
    except HepflowError as err:
        raise InputError(str(err).replace(str(path), shown)) from None
    for location in locations(dataset):
        check_location(location, config)
    return dataset


def locations(dataset: Dataset) -> Iterator[str]:
    """Every file and replica a dataset reads, its friends' included."""
    for _, spec in dataset.files:
        yield from spec.replicas
    for friend in dataset.friends:
        for spec in friend.files:
            yield from spec.replicas


def check_location(location: str, config: JobsConfig) -> None:
    """Refuse (400, naming it) a file outside the allowed roots or behind another scheme."""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if len(scheme) > 1 and scheme != "file":
        if scheme in config.remote_schemes:
            return
        allowed = ", ".join(f"{s}://" for s in config.remote_schemes) or "none"
        raise BadRequest(f"dataset file {location}: the scheme {scheme}:// is not allowed "
                         f"on this server (remote schemes allowed: {allowed})")
    local = parts.path if scheme == "file" else location
    real = os.path.realpath(local)
    for root in config.allowed_roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return
    roots = ", ".join(config.allowed_roots) or "none configured"
    raise BadRequest(f"dataset file {location} is outside the allowed roots ({roots}); "
                     "name files below them by absolute path, or by a remote URL")


def job_options(data: Any) -> dict[str, Any]:
    """The submission's options: a JSON object with known keys only."""
    if data is None or data == "":
        return {}
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as err:
            raise BadRequest(f"options: not JSON ({err})") from None
    if not isinstance(data, Mapping):
        raise BadRequest("options must be a JSON object")
    unknown = sorted(set(map(str, data)) - set(OPTION_KEYS))
    if unknown:
        raise BadRequest(f"unknown option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(OPTION_KEYS)}")
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 200 or not name.isprintable():
        raise BadRequest("options.name must be printable text of at most 200 characters")
    return {"name": name}


__all__ = ["MODELS", "OPTION_KEYS", "JobRequest", "KerasTraining", "TrainingSpec",
           "XGBoostTraining", "analysis_text", "check_location",
           "job_options", "locations", "read_dataset", "read_training", "training_spec"]
