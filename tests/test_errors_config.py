"""Bad config files and values: one clear error class per layer, naming the file or key.

The cluster and serve configs share `hepflow.config_loader`; these tests feed
both the same hostile files (missing, a folder, not UTF-8, nested 100,000
deep, bad syntax, the wrong top level) and wrong values (types, unknown keys,
NaN, infinite sizes), and check the error class and the key words.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from hepflow.cluster.config import ClusterConfig, LocalOptions, load_cluster_config
from hepflow.cluster.submit import JobRecord, find_job
from hepflow.config_loader import Loader
from hepflow.errors import ClusterConfigError, HepflowError, SubmitError
from hepflow.serve.config import load_config, parse_size
from hepflow.serve.errors import ConfigError

HOSTILE_FILES: list[tuple[str, str, bytes, str]] = [
    # (case, file name, content, words)
    ("deep YAML", "c.yaml", b"cluster: " + b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    ("deep JSON", "c.json", b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    ("not UTF-8", "c.yaml", b"\xff\xfe\x00cluster", "is not UTF-8 text"),
    ("bad YAML", "c.yaml", b"cluster: [unclosed\n", "is not valid YAML"),
    ("bad JSON", "c.json", b"{'single': quotes}", "is not valid JSON"),
    ("bad TOML", "c.toml", b"[cluster\nbackend = 1", "is not valid TOML"),
]


@pytest.mark.parametrize(("case", "name", "content", "words"), HOSTILE_FILES,
                         ids=[c[0] for c in HOSTILE_FILES])
def test_hostile_files_are_clear_errors_for_both_configs(tmp_path: Path, case: str, name: str,
                                                         content: bytes, words: str) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(ClusterConfigError) as cluster:
        load_cluster_config(file)
    with pytest.raises(ConfigError) as serve:
        load_config(file, models=tmp_path, insecure_no_auth=True)
    for info in (cluster, serve):
        assert words in str(info.value) and str(file) in str(info.value)
        assert isinstance(info.value, HepflowError) and isinstance(info.value, ValueError)
        assert info.value.__cause__ is not None  # the parser's own error is kept


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the serve config .*Is a directory"):
        load_config(tmp_path, models=tmp_path, insecure_no_auth=True)
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "missing.yaml", models=tmp_path, insecure_no_auth=True)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml", models=tmp_path, insecure_no_auth=True)
    with pytest.raises(ClusterConfigError, match="must contain a mapping"):
        load_cluster_config(tmp_path / "list.yaml")


@pytest.mark.parametrize(("spec", "words"), [
    (5, "not int"),
    ({"backend": "local", "timeout": math.nan}, "cluster.timeout: expected a finite number"),
    ({"backend": "local", "timeout": math.inf}, "expected a finite number, got inf"),
    ({"backend": "local", "workers": "2"}, "cluster.workers: expected an integer, got '2'"),
    ({"backend": "local", "workers": True}, "expected an integer, got True"),
    ({"backend": "local", "local": {"threads_per_workr": 2}},
     "unknown key `threads_per_workr`; did you mean `threads_per_worker`"),
    ({"backend": "slurm", "slurm": {"setup": {"a": 1}}}, "expected text or a list of text"),
    ({"backend": "slurm", "slurm": {"setup": [["nested"]]}}, "expected text, got ['nested']"),
    ({"backend": "htcondor", "htcondor": {"job_extra_directives": ["a"]}},
     "expected a mapping of names to values"),
    ({"backend": "gateway", "gateway": {"cluster_options": {"x": [1]}}},
     "expected a number, text or true/false"),
    ({"backend": "scheduler", "scheduler": {"address": "tls://h:1", "tls": 5}},
     "cluster.scheduler.tls must be a mapping, got int"),
])
def test_bad_cluster_values(spec: Any, words: str) -> None:
    with pytest.raises(ClusterConfigError) as info:
        load_cluster_config(spec)
    assert words in str(info.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: ClusterConfig("local", LocalOptions(), workers="two"),  # type: ignore[arg-type]
     "workers must be a finite number, got 'two'"),
    (lambda: ClusterConfig("local", LocalOptions(), timeout=math.nan), "timeout must be"),
    (lambda: LocalOptions(threads_per_worker="1"),  # type: ignore[arg-type]
     "threads_per_worker must be a finite number, got '1'"),
])
def test_bad_cluster_records_built_in_python(make: Any, words: str) -> None:
    with pytest.raises(ClusterConfigError, match=words):
        make()


@pytest.mark.parametrize(("overrides", "words"), [
    ({"limits": {"request_timeout_s": math.nan}}, "limits.request_timeout_s: expected a finite"),
    ({"limits": {"max_body_bytes": math.inf}}, "a size must be a number of bytes"),
    ({"limits": {"max_body_bytes": "9" * 400 + "GB"}}, "is too large"),
    ({"limits": {"max_body_bytes": [1]}}, "a size must be a number of bytes or e.g. '64MiB', "
                                          "got list"),
    ({"limits": {"max_rows": 1.5}}, "limits.max_rows: expected an integer, got 1.5"),
    ({"batching": {"threads": "2"}}, "batching.threads: expected an integer"),
    ({"limits": {"allow_nan": "yes"}}, "limits.allow_nan: expected true or false"),
    ({"limits": {"max_rowz": 1}}, "limits: unknown key `max_rowz`; did you mean `max_rows`"),
    ({"auth": {"issuer": "https://x/"}}, "auth: missing audience"),
    ({"auth": {"issuer": "https://x/", "audience": "a", "algorithms": "HS256"}},
     "symmetric algorithms"),
    ({"port": "80"}, "port: expected an integer, got '80'"),
    ({"host": 127}, "host: expected text, got 127"),
])
def test_bad_serve_values(tmp_path: Path, overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(models=tmp_path, insecure_no_auth=True, **overrides)
    assert words in str(info.value)


def test_sizes() -> None:
    assert parse_size("64MiB") == 64 * 2**20 and parse_size(1.5e3) == 1500
    for bad in (math.nan, math.inf, True, None, "1e999GB", "lots"):
        with pytest.raises(ConfigError):
            parse_size(bad)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class _Inner:
    size: int = 1


@dataclasses.dataclass(frozen=True)
class _Record:
    name: str
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    tags: tuple[str, ...] = ()
    ratio: float | None = None


class _Error(HepflowError, ValueError):
    pass


def test_the_loader_names_keys_types_and_missing_fields() -> None:
    loader = Loader(_Error)
    record = loader.build(_Record, {"name": "x", "inner": {"size": 3}, "tags": "one",
                                    "ratio": 2}, "top")
    assert record == _Record("x", _Inner(3), ("one",), 2.0)
    assert loader.build(_Record, {"name": "y", "inner": None}, "top").inner == _Inner()
    for data, words in [
        ({}, "top: missing name"),
        ({"name": "x", "nmae": 1}, "top: unknown key `nmae`; did you mean `name`?"),
        ({"name": "x", "inner": {"size": "3"}}, "top.inner.size: expected an integer"),
        ({"name": "x", "inner": {"sise": 3}}, "top.inner: unknown key `sise`"),
        ({"name": "x", "ratio": "half"}, "top.ratio: expected a finite number"),
        ({"name": 5}, "top.name: expected text, got 5"),
        ([1, 2], "top must be a mapping, got list"),
    ]:
        with pytest.raises(_Error) as info:
            loader.build(_Record, data, "top")
        assert words in str(info.value), (data, str(info.value))
    assert Loader(_Error, numbers_as_text=True).build(_Record, {"name": 5}).name == "5"


def test_damaged_job_records_are_submit_errors(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPFLOW_JOBS_DIR", str(tmp_path / "jobs"))
    (tmp_path / "jobs").mkdir()
    broken = tmp_path / "jobs" / "slurm-12.json"
    for text, words in [("{not json", "is not valid JSON"), ("[1]", "must hold a JSON object"),
                        (json.dumps({"backend": "slurm"}), "is damaged: missing job_id"),
                        (json.dumps({f.name: 1 for f in dataclasses.fields(JobRecord)}),
                         "wrong type for backend")]:
        broken.write_text(text)
        with pytest.raises(SubmitError) as info:
            find_job("12")
        assert words in str(info.value) and str(broken) in str(info.value)
    with pytest.raises(SubmitError, match="no detached job '99'"):
        find_job("99")


@pytest.mark.parametrize("workers", [0, -1, "2", 2.5, True])
def test_local_cluster_refuses_a_bad_worker_count(workers: Any) -> None:
    from hepflow.cluster import local_cluster

    with pytest.raises(ClusterConfigError, match="number of workers must be an integer >= 1"):
        local_cluster(workers)
