"""What a job submission may contain, checked before anything runs (`POST /v1/jobs`'s 4xx).

A submission is an analysis file (Python, run later in its own process, never
here: it is only checked to be UTF-8 text of bounded size), a dataset spec
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hepflow.dataset.spec import Dataset
from hepflow.errors import HepflowError
from hepflow.serve.config import JobsConfig
from hepflow.serve.errors import BadRequest, InputError, TooLarge

#: The option keys a submission may set.
OPTION_KEYS = ("name",)
_DATASET_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A checked submission: the analysis source, the dataset as read, and the options."""

    analysis: str
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


__all__ = ["OPTION_KEYS", "JobRequest", "analysis_text", "check_location", "job_options",
           "locations", "read_dataset"]
