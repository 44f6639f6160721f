"""Model bundles: the model with everything needed to use it correctly later.

A bundle holds the trained model (xgboost UBJSON, a `.keras` file, a
TorchScript `.pt` or an ONNX graph run by onnxruntime), the
feature spec, the fitted normalisation, the label meaning (class index ->
name), the training metrics and provenance (dataset, selection plan, hepflow
version). A model without its exact input recipe is a trap: the same feature
order, padding, masks and normalisation must be applied at inference, which is
what `Bundle.predict_columns` and `Predict` do from the stored spec.

On disk a bundle is a directory: `bundle.json` plus the model file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.ml.errors import PlanError
from hepflow.ml.features import Features
from hepflow.ml.normalise import Normalisation
from hepflow.ml.runtimes import RUNTIMES

FORMAT = "hepflow-model-bundle"
VERSION = 1
_MODEL_FILES = {"xgboost": "model.ubj", "keras": "model.keras",
                **{kind: runtime.file for kind, runtime in RUNTIMES.items()}}
#: Every kind of model a bundle can hold.
MODEL_KINDS = tuple(_MODEL_FILES)
_PREDICT_BATCH = 65536

# Models loaded in this process, by bundle token: one load per worker process.
_loaded: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass
class Bundle:
    """A trained model, its feature spec, normalisation, label meaning and provenance."""

    kind: str
    model_bytes: bytes
    features: Features
    normalisation: Normalisation
    classes: dict[int, str]
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _MODEL_FILES:
            raise PlanError(f"unknown model kind {self.kind!r}; expected one of "
                            f"{', '.join(_MODEL_FILES)}")

    @property
    def token(self) -> str:
        """A content hash: two bundles with the same token predict the same."""
        digest = hashlib.sha256(self.model_bytes)
        digest.update(json.dumps(self._meta(), sort_keys=True).encode())
        return digest.hexdigest()[:32]

    @property
    def model(self) -> Any:
        """The model object (an `xgboost.Booster` or a Keras model), loaded once per process."""
        return load_model(self.kind, self.model_bytes, self.token)

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.features.input_names

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Scores for an input matrix: (n,) for two classes, (n, classes) otherwise."""
        return predict_matrix(self.kind, self.model, inputs)

    def predict_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Scores for a chunk's columns (numpy or awkward), prepared exactly as in training."""
        from hepflow.ml.prepare import columns_to_inputs

        missing = [c for c in self.features.input_columns if c not in columns]
        if missing:
            raise PlanError(f"this model needs column(s) {', '.join(missing)}")
        return self.predict(columns_to_inputs(self.features, self.normalisation, columns))

    # -- files --------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "kind": self.kind,
                "model_file": _MODEL_FILES[self.kind], "features": self.features.to_dict(),
                "inputs": list(self.input_names),
                "normalisation": self.normalisation.to_dict(),
                "classes": {str(k): v for k, v in self.classes.items()}}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write `bundle.json` and the model file into `directory` (created if needed)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        meta = self._meta()
        meta["provenance"] = self.provenance
        meta["metrics"] = self.metrics
        model_file = path / _MODEL_FILES[self.kind]
        tmp = model_file.with_suffix(model_file.suffix + ".tmp")
        tmp.write_bytes(self.model_bytes)
        tmp.replace(model_file)
        (path / "bundle.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        return path

    def __repr__(self) -> str:
        auc = self.metrics.get("test_auc")
        score = f", test AUC {auc:.4f}" if isinstance(auc, float) else ""
        return (f"<hepflow.ml.Bundle {self.kind}: {len(self.features.input_columns)} columns "
                f"-> {self.features.n_inputs} inputs, classes {self.classes}{score}>")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


#: Bounds on `bundle.json`: far above what `Bundle.save` writes, far below what could
#: hurt a server reading an uploaded bundle (deep nesting would break recursive code).
MAX_META_BYTES = 16 * 2**20
MAX_META_DEPTH = 32
_PLAIN_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_META_KEYS = {"format", "version", "kind", "model_file", "features", "inputs",
              "normalisation", "classes", "provenance", "metrics"}


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in parsed JSON (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_META_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


def read_meta(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed `bundle.json` of a bundle folder, with its size, nesting and layout checked.

    Bundles come from elsewhere (an upload, a colleague's folder), so every
    failure is a `PlanError` naming the file and what is wrong with it, never
    a `RecursionError` or `KeyError` from deep inside a parser.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise PlanError(f"a model bundle is a folder path, not {type(directory).__name__}")
    path = Path(directory)
    meta_file = path / "bundle.json"
    if not meta_file.is_file():
        raise PlanError(f"{path} is not a model bundle (no bundle.json)")
    try:
        size = meta_file.stat().st_size
        if size > MAX_META_BYTES:
            raise PlanError(f"{meta_file} is {size} bytes, more than a bundle description "
                            f"may be ({MAX_META_BYTES})")
        text = meta_file.read_bytes().decode("utf-8")
    except OSError as err:
        raise PlanError(f"cannot read {meta_file}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise PlanError(f"{meta_file} is not UTF-8 text") from err
    try:
        meta = json.loads(text)
    except RecursionError as err:
        raise PlanError(f"{meta_file} nests lists or objects too deeply") from err
    except ValueError as err:
        raise PlanError(f"{meta_file} is not valid JSON: {err}") from err
    if _depth(meta) > MAX_META_DEPTH:
        raise PlanError(f"{meta_file} nests lists or objects more than {MAX_META_DEPTH} deep")
    if not isinstance(meta, dict):
        raise PlanError(f"{meta_file} must hold a JSON object")
    if meta.get("format") != FORMAT:
        raise PlanError(f"{meta_file} is not a hepflow model bundle")
    unknown = sorted(set(meta) - _META_KEYS)
    missing = sorted({"version", "kind", "model_file", "features", "inputs", "normalisation",
                      "classes"} - set(meta))
    if unknown or missing:
        raise PlanError(f"{meta_file}: " + "; ".join(
            ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing key(s) {', '.join(missing)}"] if missing else [])))
    version = meta["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PlanError(f"{meta_file}: version must be a positive integer, got {version!r}")
    if version > VERSION:
        raise PlanError(f"{meta_file} was written by a newer hepflow (bundle version "
                        f"{version}); upgrade hepflow to read it")
    kind, model_file = meta["kind"], meta["model_file"]
    if not isinstance(model_file, str) or not _PLAIN_FILE.fullmatch(model_file):
        raise PlanError(f"{meta_file}: model_file {model_file!r} must be a plain file name "
                        "in the bundle folder")
    if kind not in _MODEL_FILES or model_file != _MODEL_FILES[kind]:
        raise PlanError(f"{meta_file}: model kind {kind!r} with model file "
                        f"{meta['model_file']!r} is not a valid bundle layout")
    for key in ("classes", "provenance", "metrics"):
        if not isinstance(meta.get(key, {}), dict):
            raise PlanError(f"{meta_file}: `{key}` must be an object")
    return meta


def load(directory: str | os.PathLike[str]) -> Bundle:
    """Read a bundle written by `Bundle.save`, checking every part of it."""
    meta = read_meta(directory)
    path = Path(directory)
    meta_file = path / "bundle.json"
    features = Features.from_dict(meta["features"], f"{meta_file}: features")
    if meta["inputs"] != list(features.input_names):
        raise PlanError(f"{meta_file}: the stored inputs do not match the feature spec")
    norm = Normalisation.from_dict(meta["normalisation"], f"{meta_file}: normalisation")
    if norm.names != features.value_names:
        raise PlanError(f"{meta_file}: the normalisation is for other columns than the "
                        "feature spec")
    classes: dict[int, str] = {}
    for key, name in meta["classes"].items():
        if not re.fullmatch(r"[0-9]{1,6}", key) or not isinstance(name, str):
            raise PlanError(f"{meta_file}: classes must map class numbers to names, got "
                            f"{key!r}: {name!r}")
        classes[int(key)] = name
    kind = meta["kind"]
    try:
        model_bytes = (path / _MODEL_FILES[kind]).read_bytes()
    except OSError as err:
        raise PlanError(f"cannot read the model file of {path}: {err.strerror or err}") from err
    return Bundle(kind, model_bytes, features, norm, classes,
                  meta.get("provenance", {}), meta.get("metrics", {}))


def load_model(kind: str, payload: bytes, token: str) -> Any:
    """The model from its bytes, cached in this process by token."""
    if not payload:
        # xgboost aborts the whole process (std::terminate) on an empty buffer.
        raise PlanError("the bundle's model file is empty")
    with _lock:
        found = _loaded.get(token)
        if found is not None:
            return found
        if kind in RUNTIMES:
            model = RUNTIMES[kind].load(payload)
        elif kind == "xgboost":
            import xgboost

            model: Any = xgboost.Booster()
            model.load_model(bytearray(payload))
            model.set_param({"nthread": 1})
        else:
            _check_keras_archive(payload)
            from hepflow.ml.tfsetup import import_keras

            keras = import_keras()
            with tempfile.TemporaryDirectory(prefix="hepflow-model-") as tmp:
                file = Path(tmp) / "model.keras"
                file.write_bytes(payload)
                model = keras.saving.load_model(file, compile=False)
        _loaded[token] = model
        return model


#: Most a `.keras` file may unpack to: it is a zip, and a bundle from elsewhere could hold
#: a small one that unpacks to far more than any model (read sizes stop at the declared ones).
MAX_KERAS_UNPACKED = 4 * 2**30
_MAX_KERAS_MEMBERS = 10_000


def _check_keras_archive(payload: bytes) -> None:
    """Refuse a `.keras` payload that is not a zip, or whose members add up to too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise PlanError(f"the bundle's model file is not a Keras archive: {err}") from err
    total = sum(m.file_size for m in members)
    if len(members) > _MAX_KERAS_MEMBERS or total > MAX_KERAS_UNPACKED:
        raise PlanError(f"the bundle's Keras model unpacks to {total} bytes in {len(members)} "
                        f"files, more than a model may ({MAX_KERAS_UNPACKED} bytes)")


def predict_matrix(kind: str, model: Any, inputs: np.ndarray) -> np.ndarray:
    """Scores from a loaded model: (n,) for one output column, (n, classes) otherwise."""
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    if kind in RUNTIMES:
        out = RUNTIMES[kind].predict(model, x)
    elif kind == "xgboost":
        out = np.asarray(model.inplace_predict(x)) if len(x) else np.zeros(0, np.float32)
    else:
        pieces = [np.asarray(model(x[i:i + _PREDICT_BATCH], training=False))
                  for i in range(0, len(x), _PREDICT_BATCH)]
        out = np.concatenate(pieces) if pieces else np.zeros((0, 1), np.float32)
    if out.ndim == 2 and out.shape[-1] == 1:
        out = out[:, 0]
    return out.astype(np.float32, copy=False)


__all__ = ["MAX_META_BYTES", "MAX_META_DEPTH", "MODEL_KINDS", "Bundle", "load", "load_model",
           "predict_matrix", "read_meta"]
