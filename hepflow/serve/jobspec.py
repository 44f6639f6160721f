"""What a job submission may contain, checked before anything runs (`POST /v1/jobs`'s 4xx).

A submission is an analysis file (Python, run later in its own process, never
here: it is only checked to be UTF-8 text of bounded size) or a training spec
(`TrainingSpec`: an xgboost training described as data, no code), a dataset spec
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hepflow.config_loader import Loader
from hepflow.dataset.spec import Dataset
from hepflow.errors import HepflowError
from hepflow.serve.config import JobsConfig
from hepflow.serve.errors import BadRequest, InputError, TooLarge

#: The option keys a submission may set.
OPTION_KEYS = ("name",)
_DATASET_SUFFIXES = (".yaml", ".yml", ".json")
_BUNDLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

#: A value in a spec's table (xgboost parameters, jagged lengths, classes).
Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """An xgboost training described as data: no code runs but hepflow's own.

    ``defines`` (name: expression) are defined in order, then ``filters``
    (expressions) applied; the features are ``flat`` columns and ``jagged``
    ones (column: length, padded or clipped); the label is a column
    (``label``) or one class per sample (``classes``: sample: class). The
    trained bundle is saved as the job's result ``bundle``. Expressions are
    hepflow's parsed expressions, checked when the job builds its dataframe.
    """

    model: str = "xgboost"
    defines: tuple[tuple[str, str], ...] = ()
    filters: tuple[str, ...] = ()
    flat: tuple[str, ...] = ()
    jagged: tuple[tuple[str, Scalar], ...] = ()
    label: str | None = None
    classes: tuple[tuple[str, Scalar], ...] = ()
    weight: str | None = None
    negative_weights: str = "keep"
    params: tuple[tuple[str, Scalar], ...] = ()
    num_boost_round: int = 100
    bundle: str = "model"

    def __post_init__(self) -> None:
        if self.model != "xgboost":
            raise InputError(f"training.model {self.model!r}: a training spec trains "
                             "'xgboost'; other models need an analysis file (model_fn)")
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
        if not 0 < self.num_boost_round <= 10_000:
            raise InputError("training.num_boost_round must be from 1 to 10000")
        if not _BUNDLE_NAME.match(self.bundle):
            raise InputError(f"training.bundle {self.bundle!r} must be a plain name "
                             "(letters, digits, '_', '.', '-')")

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `read_training` reads back to an equal spec."""
        return {"model": self.model, "defines": dict(self.defines),
                "filters": list(self.filters), "flat": list(self.flat),
                "jagged": dict(self.jagged), "label": self.label,
                "classes": dict(self.classes), "weight": self.weight,
                "negative_weights": self.negative_weights, "params": dict(self.params),
                "num_boost_round": self.num_boost_round, "bundle": self.bundle}


SPEC_LOADER = Loader(InputError)


def read_training(path: Path, shown: str = "the training spec") -> TrainingSpec:
    """A `TrainingSpec` from a YAML or JSON file; every mistake an `InputError` (422)."""
    try:
        data = SPEC_LOADER.read_file(path, "training spec")
        if isinstance(data, Mapping) and isinstance(data.get("training"), Mapping):
            data = data["training"]
        spec: TrainingSpec = SPEC_LOADER.build(TrainingSpec, data, "training")
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


__all__ = ["OPTION_KEYS", "JobRequest", "TrainingSpec", "analysis_text", "check_location",
           "job_options", "locations", "read_dataset", "read_training", "training_spec"]
