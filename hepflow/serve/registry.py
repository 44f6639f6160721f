"""The served models: one folder per model, loaded once, replaced atomically.

The model folder holds one bundle folder per model, named after the model
(``models/bdt/bundle.json``, ``models/bdt/model.ubj``). Everything a request
needs (the bundle, the loaded model, the input checks, the micro-batcher)
hangs off one `ServedModel` object, and a request takes that object once, at
its start. Replacing a model therefore never mixes two versions within a
request and never makes a request wait: an upload is unpacked into a hidden
staging folder, loaded and test-predicted there, and only then are the folders
renamed and the registry's entry swapped in one assignment. Requests already
holding the old object finish on it. A crash between the two renames leaves a
``.old-<name>-*`` folder, which the next start puts back.

TFaaS's model cache raced under concurrent requests and its ``/data`` endpoint
read any server file; here model names are checked against a strict pattern
(no slashes, no leading dot) before they touch a path, and the model file
named inside ``bundle.json`` must be a plain file name in the bundle folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hepflow.errors import PlanError
from hepflow.ml.bundle import Bundle, load, predict_matrix, read_meta
from hepflow.ml.prepare import columns_to_inputs, model_inputs
from hepflow.serve.archive import extract, remove_tree
from hepflow.serve.batching import MicroBatcher
from hepflow.serve.config import ServeConfig
from hepflow.serve.errors import ConfigError, InputError
from hepflow.serve.inputs import CONTENT_TYPES, InputSpec, RawBatch, raw_inputs
from hepflow.serve.metrics import ServeMetrics
from hepflow.util.jsondata import jsonable

log = logging.getLogger("hepflow.serve.registry")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def valid_name(name: str) -> bool:
    return bool(NAME.match(name)) and ".." not in name


@dataclass
class ServedModel:
    """One model as served: its bundle, loaded model, input checks and batcher."""

    name: str
    bundle: Bundle
    version: str
    spec: InputSpec
    batcher: MicroBatcher
    path: Path
    loaded_at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        b = self.bundle
        return {"name": self.name, "kind": b.kind, "version": self.version,
                "inputs": list(b.features.input_columns),
                "jagged": {c: g.length for g in b.features.jagged for c in g.columns},
                "classes": {str(k): v for k, v in b.classes.items()},
                "loaded_at": self.loaded_at}

    def describe(self) -> dict[str, Any]:
        b = self.bundle
        out: dict[str, Any] = jsonable({**self.summary(),
                         "features": b.features.to_dict(),
                         "model_inputs": list(b.features.input_names),
                         "normalisation": b.normalisation.to_dict(),
                         "metrics": b.metrics, "provenance": b.provenance,
                         "content_types": list(CONTENT_TYPES)})
        return out


def _check_model_file(folder: Path) -> None:
    """Refuse a bundle.json that is hostile or whose model file is not plain and inside.

    `read_meta` bounds the size and nesting of the JSON (100,000 nested
    brackets would otherwise break the parser with a `RecursionError`, a 500).
    """
    meta_file = folder / "bundle.json"
    if meta_file.is_symlink() or not meta_file.is_file():
        raise InputError("bundle.json is missing or not a regular file")
    try:
        meta = read_meta(folder)
    except PlanError as err:
        raise InputError(_without_paths(str(err), folder)) from err
    model_file = str(meta["model_file"])  # a plain file name: `read_meta` checked it
    target = folder / model_file
    if target.is_symlink() or not target.is_file():
        raise InputError(f"the bundle's model file {model_file} is missing")


def _check_upload_kind(folder: Path, kinds: tuple[str, ...]) -> None:
    """Refuse an uploaded bundle whose model kind the server does not take from clients."""
    _check_model_file(folder)
    kind = str(read_meta(folder)["kind"])
    if kind not in kinds:
        hint = (" export it to ONNX first (hepflow.ml.to_onnx(bundle)) and upload that;"
                if kind == "torch" else "")
        raise InputError(f"this server does not take {kind} bundles by upload:{hint} the "
                         f"server's limits.upload_kinds are {', '.join(kinds) or 'none'}")


def _without_paths(text: str, folder: Path) -> str:
    """A refusal's first line, without the server's staging folder (clients see it)."""
    text = text.replace(str(folder) + os.sep, "").replace(str(folder), "the bundle")
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def probe_batch(features: Any) -> RawBatch:
    """Three made-up events: a smoke test for a model and for the fast preparation.

    Jagged groups get 0, 1 and `length` + 2 entries (so padding and clipping
    are both exercised), with distinct values so that a misplaced slot shows.
    """
    flat = {c: np.asarray([1.0, -2.0, 3.5]) + i for i, c in enumerate(features.flat)}
    jagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for group in features.jagged:
        counts = np.asarray([0, 1, group.length + 2], dtype=np.int64)
        for i, name in enumerate(group.columns):
            jagged[name] = (counts, np.arange(int(counts.sum()), dtype=np.float64) * 1.5 + i)
    return RawBatch(3, flat, jagged)


def open_bundle(folder: Path) -> Bundle:
    """Load a bundle folder and prove it predicts: the check before it is served."""
    _check_model_file(folder)
    try:
        bundle = load(folder)
        model = bundle.model
        columns = probe_batch(bundle.features).columns()
        out = predict_matrix(bundle.kind, model,
                             columns_to_inputs(bundle.features, bundle.normalisation, columns))
    except InputError:
        raise
    except PlanError as err:
        raise InputError(f"the bundle cannot be loaded: {_without_paths(str(err), folder)}"
                         ) from err
    except Exception as err:  # any failure of untrusted content is a refusal
        text = _without_paths(str(err), folder)
        raise InputError(f"the bundle cannot be loaded: {type(err).__name__}: {text}") from err
    if out.shape[0] != 3:
        raise InputError(f"the bundle's model answered {out.shape[0]} rows for three events")
    return bundle


def fast_preparation_agrees(bundle: Bundle) -> bool:
    """Whether `inputs.raw_inputs` prepares exactly as the bundle's own code does."""
    batch = probe_batch(bundle.features)
    try:
        reference = columns_to_inputs(bundle.features, bundle.normalisation, batch.columns())
        values, mask = raw_inputs(bundle.features, batch)
        fast = model_inputs(bundle.features, bundle.normalisation, values, mask)
    except Exception:  # noqa: BLE001 - a spec the fast path does not know: use the bundle's
        return False
    return bool(fast.shape == reference.shape and np.array_equal(fast, reference))


class ModelRegistry:
    """The models of one model folder, by name."""

    def __init__(self, config: ServeConfig, metrics: ServeMetrics, executor: Executor) -> None:
        self.directory = Path(config.models)
        if not self.directory.is_dir():
            raise ConfigError(f"the model folder {self.directory} does not exist")
        self.config = config
        self.metrics = metrics
        self.executor = executor
        self.models: dict[str, ServedModel] = {}
        self.failures: dict[str, str] = {}
        self._admin = ThreadPoolExecutor(1, thread_name_prefix="hepflow-serve-admin")
        self._admin_lock: asyncio.Lock | None = None

    def close(self) -> None:
        self._admin.shutdown(wait=False, cancel_futures=True)

    def get(self, name: str) -> ServedModel | None:
        return self.models.get(name)

    # -- start-up --------------------------------------------------------------------------

    def scan(self) -> None:
        """Load every bundle folder (blocking; run once at start-up)."""
        self._recover()
        for entry in sorted(self.directory.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not valid_name(entry.name):
                self.failures[entry.name] = "not a valid model name"
                continue
            if not (entry / "bundle.json").is_file():
                continue
            try:
                self.models[entry.name] = self._serve(entry.name, entry, open_bundle(entry))
            except InputError as err:
                self.failures[entry.name] = err.message
                log.error("model %s not served: %s", entry.name, err.message)
        self.metrics.models.set(len(self.models))
        log.info("serving %d model(s) from %s: %s", len(self.models), self.directory,
                 ", ".join(self.models) or "none")

    def _recover(self) -> None:
        for entry in self.directory.iterdir():
            if entry.name.startswith((".upload-", ".del-")):
                remove_tree(entry)
            elif entry.name.startswith(".old-"):
                name = entry.name[len(".old-"):].rsplit("-", 1)[0]
                if valid_name(name) and not (self.directory / name).exists():
                    log.warning("restoring %s: a replacement was interrupted", name)
                    os.rename(entry, self.directory / name)
                else:
                    remove_tree(entry)

    def _serve(self, name: str, path: Path, bundle: Bundle) -> ServedModel:
        spec = InputSpec.of(bundle.features, allow_nan=self.config.limits.allow_nan,
                            max_rows=self.config.limits.max_rows,
                            max_bytes=self.config.limits.max_body_bytes)
        batching = self.config.batching
        model = bundle.model
        run = _runner(name, bundle, model)
        batcher = MicroBatcher(
            run, executor=self.executor, max_rows=batching.max_batch_rows,
            max_delay_s=batching.max_delay_ms / 1000.0,
            inline_rows=batching.inline_rows if bundle.kind == "xgboost" else 0,
            concurrency=batching.threads, observe=self.metrics.observer(name))
        return ServedModel(name, bundle, bundle.token, spec, batcher, path)

    # -- changes ---------------------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        if self._admin_lock is None:
            self._admin_lock = asyncio.Lock()
        return self._admin_lock

    async def put(self, name: str, upload: IO[bytes]) -> tuple[ServedModel, bool]:
        """Unpack, check and serve an uploaded archive as `name`; (model, created)."""
        if not valid_name(name):
            raise InputError(f"{name!r} is not a valid model name (letters, digits, `.`, `_`, "
                             "`-`; starting with a letter or digit)")
        loop = asyncio.get_running_loop()
        async with self._lock():
            served, created = await loop.run_in_executor(self._admin, self._install, name,
                                                         upload)
            self.models[name] = served
            self.failures.pop(name, None)
            self.metrics.models.set(len(self.models))
        log.info("model %s %s (version %s)", name, "added" if created else "replaced",
                 served.version)
        return served, created

    def _install(self, name: str, upload: IO[bytes]) -> tuple[ServedModel, bool]:
        limits = self.config.limits
        tag = secrets.token_hex(6)
        staging = self.directory / f".upload-{name}-{tag}"
        staging.mkdir(mode=0o700)
        trash: Path | None = None
        try:
            root = extract(upload, staging, max_files=limits.max_archive_files,
                           max_bytes=limits.max_unpacked_bytes)
            _check_upload_kind(root, limits.upload_kinds)
            served = self._serve(name, self.directory / name, open_bundle(root))
            root.chmod(0o755)
            final = self.directory / name
            created = not (final.exists() or final.is_symlink())
            if not created:
                trash = self.directory / f".old-{name}-{tag}"
                os.rename(final, trash)
            try:
                os.rename(root, final)
            except OSError:
                if trash is not None:
                    os.rename(trash, final)
                    trash = None
                raise
            return served, created
        finally:
            remove_tree(staging)
            if trash is not None:
                remove_tree(trash)

    async def delete(self, name: str) -> bool:
        """Stop serving `name` and remove its folder; False if there was no such model."""
        if not valid_name(name):
            return False
        loop = asyncio.get_running_loop()
        async with self._lock():
            served = self.models.pop(name, None)
            self.failures.pop(name, None)
            self.metrics.models.set(len(self.models))
            folder = self.directory / name
            if served is None and not folder.is_dir():
                return False
            await loop.run_in_executor(self._admin, self._remove_folder, name)
        log.info("model %s deleted", name)
        return True

    def _remove_folder(self, name: str) -> None:
        folder = self.directory / name
        if folder.is_dir() and not folder.is_symlink():
            trash = self.directory / f".del-{name}-{secrets.token_hex(6)}"
            os.rename(folder, trash)
            remove_tree(trash)
        elif folder.is_symlink():
            folder.unlink()


def _runner(name: str, bundle: Bundle, model: Any) -> Callable[[RawBatch], np.ndarray]:
    """The batch function: the bundle's preparation and normalisation, then its model."""
    features, norm, kind = bundle.features, bundle.normalisation, bundle.kind
    if fast_preparation_agrees(bundle):
        def run(batch: RawBatch) -> np.ndarray:
            values, mask = raw_inputs(features, batch)
            return predict_matrix(kind, model, model_inputs(features, norm, values, mask))

        return run
    log.warning("model %s: using the training layer's (slower, awkward-based) feature "
                "preparation, as the fast one disagrees with it on this bundle", name)

    def run_reference(batch: RawBatch) -> np.ndarray:
        return predict_matrix(kind, model, columns_to_inputs(features, norm, batch.columns()))

    return run_reference


__all__ = ["NAME", "ModelRegistry", "ServedModel", "fast_preparation_agrees", "open_bundle",
           "probe_batch", "valid_name"]
