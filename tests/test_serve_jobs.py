"""Jobs over HTTP (`hepflow serve --jobs`): a real server, a real LocalCluster, real files.

An analysis file submitted with a token runs in its own process on the
cluster's scheduler and gives the same histograms as `hepflow run`; other
users cannot see, fetch or cancel it; cancelling stops its process and its
Dask tasks; bad datasets and quotas get their 4xx; a user's ended jobs keep
their outputs (counting against that user's storage quota) until removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uproot
import yaml

from hepflow.cli import main
from hepflow.serve.config import load_config
from hepflow.serve.testing import LocalIssuer, running

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DIMUON = Path("examples/dimuon.py")
SLOW = '''
import time
import hepflow
from hepflow.analysis import dataset


def slow(x):
    time.sleep(4)
    return x


df = hepflow.RDataFrame(dataset())
total = df.Define("y", slow, ["MET_pt"]).Sum("y")
'''
FAILING = '''
import os
import hepflow
from hepflow.analysis import dataset

print("secret visible:", "SERVER_SECRET_TOKEN" in os.environ, "PATH" in os.environ)

df = hepflow.RDataFrame(dataset())
total = df.Sum("no_such_branch")
'''


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from hepflow.samples import make_sample

    folder = tmp_path_factory.mktemp("jobdata")
    return [str(p) for p in make_sample(folder, events=6_000, files=2, seed=3,
                                        basket_entries=1_000)]


@pytest.fixture(scope="module")
def server(issuer: LocalIssuer, client: Any, sample: list[str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = str(Path(sample[0]).parent)
    jobs = {"enabled": True, "folder": str(tmp_path_factory.mktemp("jobs")),
            "cluster": client.scheduler.address, "allowed_roots": [root],
            "max_jobs_per_user": 1, "cancel_grace_s": 2.0}
    config = load_config(models=tmp_path_factory.mktemp("models"),
                         auth=issuer.auth_config(), jobs=jobs)
    with running(config) as server:
        yield server


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dataset_yaml(files: list[str]) -> str:
    return yaml.safe_dump({"samples": {"dy": {"files": files}}})


def submit(server: Any, token: str, analysis: str, dataset: str) -> httpx.Response:
    return httpx.post(server.url + "/v1/jobs", headers=auth(token), timeout=30,
                      files={"analysis": ("analysis.py", analysis.encode()),
                             "dataset": ("dataset.yaml", dataset.encode())})


def wait(server: Any, token: str, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=auth(token)).json()
        if job["state"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


@pytest.fixture(scope="module")
def finished(server: Any, issuer: LocalIssuer, sample: list[str]) -> tuple[str, dict[str, Any]]:
    token = issuer.token(["hepflow:submit"], subject="alice")
    answer = submit(server, token, DIMUON.read_text(), dataset_yaml(sample))
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    job = wait(server, token, job_id)
    return job_id, job


def test_job_gives_the_histograms_of_hepflow_run(server: Any, issuer: LocalIssuer,
                                                 client: Any, sample: list[str],
                                                 finished: tuple[str, dict[str, Any]],
                                                 tmp_path: Path) -> None:
    job_id, job = finished
    token = issuer.token(["hepflow:submit"], subject="alice")
    assert job["state"] == "succeeded", job
    assert job["progress"]["chunks_total"] == job["run_info"]["chunks"] > 1
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"]
    assert job["run_info"]["entries_processed"] == 6_000
    listed = httpx.get(f"{server.url}/v1/jobs/{job_id}/results", headers=auth(token)).json()
    assert {"name": "mass", "type": "histogram", "formats": ["root", "json"]} in \
        listed["results"]

    spec = tmp_path / "dataset.yaml"
    spec.write_text(dataset_yaml(sample))
    assert main(["run", str(DIMUON), "--dataset", str(spec), "--outdir", str(tmp_path / "out"),
                 "--scheduler", client.scheduler.address]) == 0
    with uproot.open(tmp_path / "out" / "histograms.root") as f:
        expected = f["mass"].values()
        edges = f["mass"].axis().edges()
    assert expected.sum() > 0

    root = httpx.get(f"{server.url}/v1/jobs/{job_id}/results/mass", headers=auth(token))
    assert root.status_code == 200
    downloaded = tmp_path / "mass.root"
    downloaded.write_bytes(root.content)
    with uproot.open(downloaded) as f:
        np.testing.assert_array_equal(f["mass"].values(), expected)
    as_json = httpx.get(f"{server.url}/v1/jobs/{job_id}/results/mass?format=json",
                        headers=auth(token)).json()
    np.testing.assert_array_equal(as_json["values"], expected)
    np.testing.assert_allclose(as_json["axes"][0]["edges"], edges)
    logs = httpx.get(f"{server.url}/v1/jobs/{job_id}/logs", headers=auth(token))
    assert "hepflow job: succeeded" in logs.text


def test_other_users_cannot_see_fetch_or_cancel(server: Any, issuer: LocalIssuer,
                                                finished: tuple[str, dict[str, Any]]) -> None:
    job_id, _ = finished
    bob = auth(issuer.token(["hepflow:submit"], subject="bob"))
    for path in ("", "/logs", "/results", "/results/mass"):
        answer = httpx.get(f"{server.url}/v1/jobs/{job_id}{path}", headers=bob)
        assert answer.status_code == 404, (path, answer.text)
    assert httpx.delete(f"{server.url}/v1/jobs/{job_id}", headers=bob).status_code == 404
    assert httpx.get(server.url + "/v1/jobs", headers=bob).json()["jobs"] == []
    missing = httpx.get(f"{server.url}/v1/jobs/{'0' * 24}", headers=bob)
    assert missing.json() == httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=bob).json() \
        | {"message": f"no job {'0' * 24!r}"}


def test_no_token_bad_token_and_missing_scope_are_refused(server: Any, issuer: LocalIssuer,
                                                          sample: list[str]) -> None:
    body = {"analysis": "x = 1\n", "dataset": dataset_yaml(sample)}
    url = server.url + "/v1/jobs"
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.get(url).status_code == 401
    bad = issuer.token(["hepflow:submit"], key=LocalIssuer.new_key())
    assert httpx.post(url, json=body, headers=auth(bad)).status_code == 401
    predict_only = auth(issuer.token(["hepflow:predict", "hepflow:admin"]))
    answer = httpx.post(url, json=body, headers=predict_only)
    assert answer.status_code == 403 and "submit" in answer.json()["message"]
    assert httpx.get(url, headers=predict_only).status_code == 403


def test_a_path_outside_the_allowed_roots_is_refused(server: Any, issuer: LocalIssuer,
                                                     sample: list[str], tmp_path: Path) -> None:
    token = issuer.token(["hepflow:submit"], subject="carol")
    outside = tmp_path / "elsewhere.root"
    outside.write_bytes(Path(sample[0]).read_bytes())
    escape = str(Path(sample[0]).parent / ".." / outside.parent.name / outside.name)
    for files, words in (([str(outside)], str(outside)), ([escape], escape),
                         (["http://example.org/a.root"], "http://"),
                         (["relative.root"], "outside the allowed roots")):
        answer = submit(server, token, DIMUON.read_text(), dataset_yaml([sample[0], *files]))
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["message"]
    broken = submit(server, token, DIMUON.read_text(), "samples: [unclosed")
    assert broken.status_code == 422 and "dataset.yaml" in broken.json()["message"]
    assert httpx.get(server.url + "/v1/jobs", headers=auth(token)).json()["jobs"] == []


def test_a_failing_analysis_fails_with_its_error_and_sees_no_server_secrets(
        server: Any, issuer: LocalIssuer, sample: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_SECRET_TOKEN", "s3cr3t")
    token = issuer.token(["hepflow:submit"], subject="dave")
    answer = submit(server, token, FAILING, dataset_yaml(sample))
    assert answer.status_code == 201, answer.text
    job = wait(server, token, answer.json()["id"])
    assert job["state"] == "failed" and "no_such_branch" in job["error"]
    logs = httpx.get(f"{server.url}/v1/jobs/{job['id']}/logs", headers=auth(token)).text
    assert "secret visible: False True" in logs, logs


def test_a_job_over_the_time_limit_is_stopped(issuer: LocalIssuer, client: Any,
                                               sample: list[str], tmp_path: Path) -> None:
    jobs = {"enabled": True, "folder": str(tmp_path / "jobs"),
            "cluster": client.scheduler.address,
            "allowed_roots": [str(Path(sample[0]).parent)], "max_seconds": 2}
    config = load_config(models=tmp_path, auth=issuer.auth_config(), jobs=jobs)
    token = issuer.token(["hepflow:submit"])
    with running(config) as short:
        answer = submit(short, token, SLOW, dataset_yaml(sample))
        assert answer.status_code == 201, answer.text
        job = wait(short, token, answer.json()["id"], timeout=30)
        process = short.service.jobs.get("alice", job["id"]).process
    assert job["state"] == "failed" and "limit of 2 s" in job["error"], job
    assert process.poll() is not None


def scheduler_tasks(client: Any) -> set[str]:
    return set(client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks]))


def test_cancel_stops_the_process_and_its_tasks_and_quota_is_429(
        server: Any, issuer: LocalIssuer, client: Any, sample: list[str]) -> None:
    token = issuer.token(["hepflow:submit"], subject="erin")
    before = scheduler_tasks(client)
    answer = submit(server, token, SLOW, dataset_yaml(sample))
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    over = submit(server, token, SLOW, dataset_yaml(sample))  # one job per user here
    assert over.status_code == 429 and "limit is 1" in over.json()["message"]
    deadline = time.monotonic() + 60
    while not scheduler_tasks(client) - before:
        assert time.monotonic() < deadline, "the slow job's tasks never reached the scheduler"
        time.sleep(0.1)
    job = server.service.jobs.get("erin", job_id)
    cancelled = httpx.delete(f"{server.url}/v1/jobs/{job_id}", headers=auth(token), timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert job.process.poll() is not None
    deadline = time.monotonic() + 10
    while scheduler_tasks(client) - before:
        assert time.monotonic() < deadline, "the cancelled job's tasks are still there"
        time.sleep(0.1)
    again = submit(server, token, SLOW, dataset_yaml(sample))
    assert again.status_code == 201, "a cancelled job no longer counts against the quota"
    second = f"{server.url}/v1/jobs/{again.json()['id']}"
    assert httpx.delete(second, headers=auth(token), timeout=30).json()["state"] == "cancelled"
    # a second DELETE removes the cancelled job and what it kept
    folder = server.service.jobs.get("erin", job_id).folder
    removed = httpx.delete(f"{server.url}/v1/jobs/{job_id}", headers=auth(token), timeout=30)
    assert removed.status_code == 200 and removed.json()["removed"] is True, removed.text
    assert removed.json()["state"] == "cancelled" and removed.json()["freed_bytes"] > 0
    assert not folder.exists()
    assert httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=auth(token)).status_code == 404
    assert httpx.delete(second, headers=auth(token), timeout=30).json()["removed"] is True


def test_results_over_the_output_quota_fail_the_job(issuer: LocalIssuer, client: Any,
                                                    sample: list[str], tmp_path: Path) -> None:
    jobs = {"enabled": True, "folder": str(tmp_path / "jobs"),
            "cluster": client.scheduler.address,
            "allowed_roots": [str(Path(sample[0]).parent)], "max_output_bytes": 2000}
    config = load_config(models=tmp_path, auth=issuer.auth_config(), jobs=jobs)
    token = issuer.token(["hepflow:submit"])
    with running(config) as small:
        answer = submit(small, token, DIMUON.read_text(), dataset_yaml(sample))
        assert answer.status_code == 201, answer.text
        job = wait(small, token, answer.json()["id"])
    assert job["state"] == "failed"
    assert "over the output quota of 2000 bytes" in job["error"]


COUNT = '''
import hepflow
from hepflow.analysis import dataset

df = hepflow.RDataFrame(dataset())
count = df.Count()
'''
#: writes 200 kB into its outputs, then runs for a few seconds per chunk
BLOB_THEN_SLOW = '''
from pathlib import Path

Path("out/blob.bin").write_bytes(bytes(200_000))
''' + SLOW


def test_a_users_storage_quota_stops_refuses_and_is_freed_by_delete(
        issuer: LocalIssuer, client: Any, sample: list[str], tmp_path: Path) -> None:
    """Kept job folders count against their owner only; DELETE on an ended job frees them."""
    jobs = {"enabled": True, "folder": str(tmp_path / "jobs"),
            "cluster": client.scheduler.address,
            "allowed_roots": [str(Path(sample[0]).parent)],
            "max_user_output_bytes": 100_000, "cancel_grace_s": 2.0}
    config = load_config(models=tmp_path, auth=issuer.auth_config(), jobs=jobs)
    alice = issuer.token(["hepflow:submit"], subject="alice")
    bob = issuer.token(["hepflow:submit"], subject="bob")
    data = dataset_yaml(sample)
    with running(config) as quota:
        started = time.monotonic()
        answer = submit(quota, alice, BLOB_THEN_SLOW, data)
        assert answer.status_code == 201, answer.text
        big = wait(quota, alice, answer.json()["id"], timeout=60)
        assert time.monotonic() - started < 20, "the job was not stopped while it ran"
        assert big["state"] == "failed", big
        assert "over the storage quota of 97.66 kiB (100000 bytes) per user" in big["error"]
        assert "DELETE /v1/jobs/{id}" in big["error"] and "it was stopped" in big["error"]
        assert quota.service.jobs.get("alice", big["id"]).process.poll() is not None
        assert big["kept_bytes"] > 200_000

        refused = submit(quota, alice, COUNT, data)
        assert refused.status_code == 429, refused.text
        message = refused.json()["message"]
        assert f"the jobs of 'alice' keep {big['kept_bytes'] / 1024:.2f} kiB " \
            f"({big['kept_bytes']} bytes)" in message and "DELETE /v1/jobs/" in message
        assert "the storage quota is 97.66 kiB (100000 bytes) per user" in message
        listed = httpx.get(quota.url + "/v1/jobs", headers=auth(alice)).json()
        assert listed["kept_bytes"] == big["kept_bytes"] and listed["quota_bytes"] == 100_000

        other = submit(quota, bob, COUNT, data)  # alice's usage is not bob's
        assert other.status_code == 201, other.text
        assert wait(quota, bob, other.json()["id"])["state"] == "succeeded"

        folder = quota.service.jobs.get("alice", big["id"]).folder
        removed = httpx.delete(f"{quota.url}/v1/jobs/{big['id']}", headers=auth(alice))
        assert removed.status_code == 200, removed.text
        assert removed.json() == {"id": big["id"], "name": "", "state": "failed",
                                  "removed": True, "freed_bytes": big["kept_bytes"],
                                  "kept_bytes": 0}
        assert not folder.exists()
        assert httpx.get(f"{quota.url}/v1/jobs/{big['id']}",
                         headers=auth(alice)).status_code == 404
        again = submit(quota, alice, COUNT, data)
        assert again.status_code == 201, again.text
        small = wait(quota, alice, again.json()["id"])
        assert small["state"] == "succeeded" and 0 < small["kept_bytes"] < 100_000, small


def test_jobs_are_off_unless_enabled(server: Any, issuer: LocalIssuer, tmp_path: Path,
                                     ) -> None:
    config = load_config(models=tmp_path, auth=issuer.auth_config())
    with running(config) as plain:
        answer = httpx.post(plain.url + "/v1/jobs", json={},
                            headers=auth(issuer.token(["hepflow:submit"])))
        described = httpx.get(plain.url + "/openapi.json").json()
    assert answer.status_code in (404, 405)
    assert json.loads(answer.text)["error"] == "http_error"
    assert not any(p.startswith("/v1/jobs") for p in described["paths"])
    with_jobs = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/results/{name}"} <= \
        set(with_jobs["paths"])


TRAINING = {"defines": {"HT": "Sum(Jet_pt)"}, "filters": ["nJet >= 1"],
            "flat": ["MET_pt", "HT"], "jagged": {"Jet_eta": 2},
            "classes": {"a": 0, "b": 1}, "params": {"max_depth": 2},
            "num_boost_round": 5, "bundle": "bdt"}


def test_a_training_spec_gives_a_bundle_the_upload_endpoint_takes(
        server: Any, issuer: LocalIssuer, sample: list[str], tmp_path: Path) -> None:
    token = issuer.token(["hepflow:submit"], subject="frank")
    two = yaml.safe_dump({"samples": {"a": {"files": [sample[0]]}, "b": {"files": [sample[1]]}}})
    answer = httpx.post(server.url + "/v1/jobs", headers=auth(token), timeout=30,
                        json={"training": TRAINING, "dataset": two,
                              "options": {"name": "a bdt"}})
    assert answer.status_code == 201, answer.text
    job = wait(server, token, answer.json()["id"], timeout=120)
    assert job["state"] == "succeeded", httpx.get(
        f"{server.url}/v1/jobs/{job['id']}/logs", headers=auth(token)).text
    assert job["name"] == "a bdt" and 0 <= job["results"]["bdt"]["test_auc"] <= 1
    listed = httpx.get(f"{server.url}/v1/jobs/{job['id']}/results", headers=auth(token))
    assert listed.json() == {"results": [{"name": "bdt", "type": "bundle",
                                          "formats": ["tar.gz"]}]}
    archive = httpx.get(f"{server.url}/v1/jobs/{job['id']}/results/bdt", headers=auth(token))
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    admin = auth(issuer.token(["hepflow:admin"]))
    put = httpx.put(server.url + "/v1/models/bdt", content=archive.content, timeout=60,
                    headers={**admin, "Content-Type": "application/gzip"})
    assert put.status_code == 201, put.text
    described = httpx.get(server.url + "/v1/models/bdt", headers=admin).json()
    assert described["features"]["flat"] == ["MET_pt", "HT"], described


#: A small Keras network as data: the same keys without xgboost's, and train_keras's own
KERAS = {**{k: v for k, v in TRAINING.items() if k not in ("params", "num_boost_round")},
         "model": "keras", "hidden": [8, 4], "activation": "tanh", "learning_rate": 0.01,
         "epochs": 2, "batch_size": 256, "patience": None, "strategy": "local", "bundle": "nn"}


def test_a_keras_training_spec_trains_as_train_keras_does(
        server: Any, issuer: LocalIssuer, client: Any, sample: list[str],
        tmp_path: Path) -> None:
    """The job's bundle predicts as the same network trained with hepflow.ml in Python."""
    import tarfile

    import awkward as ak

    import hepflow
    import hepflow.ml as ml

    token = issuer.token(["hepflow:submit"], subject="heidi")
    two = {"samples": {"a": {"files": [sample[0]]}, "b": {"files": [sample[1]]}}}
    answer = httpx.post(server.url + "/v1/jobs", headers=auth(token), timeout=30,
                        json={"training": KERAS, "dataset": yaml.safe_dump(two)})
    assert answer.status_code == 201, answer.text
    job = wait(server, token, answer.json()["id"], timeout=120)
    logs = httpx.get(f"{server.url}/v1/jobs/{job['id']}/logs", headers=auth(token)).text
    assert job["state"] == "succeeded", logs
    assert job["results"]["nn"]["model"] == "keras" and "keras epoch 2/2: loss" in logs
    listed = httpx.get(f"{server.url}/v1/jobs/{job['id']}/results", headers=auth(token))
    assert listed.json() == {"results": [{"name": "nn", "type": "bundle",
                                          "formats": ["tar.gz"]}]}
    archive = httpx.get(f"{server.url}/v1/jobs/{job['id']}/results/nn", headers=auth(token))
    assert archive.status_code == 200, archive.text
    (tmp_path / "nn.tar.gz").write_bytes(archive.content)
    with tarfile.open(tmp_path / "nn.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    served = ml.load(tmp_path / "nn")
    assert served.kind == "keras" and served.classes == {0: "a", 1: "b"}

    spec = tmp_path / "two.yaml"
    spec.write_text(yaml.safe_dump(two))
    df = hepflow.RDataFrame(hepflow.Dataset.load(spec), client=client) \
        .Define("HT", "Sum(Jet_pt)").Filter("nJet >= 1")
    features = ml.Features(["MET_pt", "HT"], {"Jet_eta": 2}, label={"a": 0, "b": 1})
    local = ml.train_keras(df, features, ml.DenseNetwork(hidden=(8, 4), activation="tanh",
                                                         learning_rate=0.01),
                           epochs=2, batch_size=256, patience=None, strategy="local",
                           progress=False).bundle

    def layers(bundle: ml.Bundle) -> list[tuple[str, Any, Any]]:
        return [(type(layer).__name__, layer.get_config().get("units"),
                 layer.get_config().get("activation")) for layer in bundle.model.layers]

    assert layers(served) == layers(local) == [("Dense", 8, "tanh"), ("Dense", 4, "tanh"),
                                               ("Dense", 1, "sigmoid")]
    with uproot.open(sample[0]) as f:
        events = f["Events"].arrays(["MET_pt", "Jet_pt", "Jet_eta"], entry_stop=500)
    columns = {"MET_pt": events["MET_pt"], "HT": ak.sum(events["Jet_pt"], axis=1),
               "Jet_eta": events["Jet_eta"]}
    scores = served.predict_columns(columns)
    assert scores.shape == (500,) and np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_allclose(scores, local.predict_columns(columns), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("change", "words"), [
    ({"model": "torch"}, "trains 'xgboost' or 'keras'"),
    ({"model": "keras", "activation": "relux"}, "training.activation 'relux'"),
    ({"model": "keras", "hidden": [8, -3]}, "training.hidden: each layer size must be an integer"),
    ({"model": "keras", "num_boost_round": 5}, "training.num_boost_round is a setting of xgboost"),
    ({"model": "keras", "epochs": 0}, "training.epochs must be an integer >= 1"),
    ({"model": "keras", "hidden": ["8"]}, "training.hidden[0]: expected an integer"),
    ({"model": "keras", "lerning_rate": 0.1}, "did you mean `learning_rate`"),
    ({"model": "keras", "strategy": "ddp"}, "training.strategy 'ddp' must be multiworker"),
    ({"epochs": 3}, "training.epochs is a setting of keras training, not of model: xgboost"),
    ({"classes": {}}, "one of them"),
    ({"jagged": {"Jet_eta": 0}}, "from 1 to 256"),
    ({"bundle": "../x"}, "plain name"),
    ({"learning": 1}, "unknown key `learning`"),
])
def test_a_bad_training_spec_is_a_422_saying_why(server: Any, issuer: LocalIssuer,
                                                 sample: list[str], change: dict[str, Any],
                                                 words: str) -> None:
    token = issuer.token(["hepflow:submit"], subject="grace")
    base = KERAS if change.get("model") == "keras" else TRAINING
    answer = httpx.post(server.url + "/v1/jobs", headers=auth(token),
                        json={"training": {**base, **change},
                              "dataset": dataset_yaml(sample)})
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["message"]


LINKS = '''
import os
import hepflow
from hepflow.analysis import dataset

os.makedirs("out/results", exist_ok=True)
for suffix in ("root", "json"):
    os.symlink("/etc/passwd", f"out/results/passwd.{suffix}")
os.unlink("job.log")
os.symlink("/etc/passwd", "job.log")
df = hepflow.RDataFrame(dataset())
count = df.Count()
'''


def test_links_a_job_leaves_are_not_followed(server: Any, issuer: LocalIssuer,
                                             sample: list[str]) -> None:
    token = issuer.token(["hepflow:submit"], subject="mallory")
    answer = submit(server, token, LINKS, dataset_yaml(sample))
    assert answer.status_code == 201, answer.text
    job = wait(server, token, answer.json()["id"])
    assert job["state"] == "succeeded", job
    base = f"{server.url}/v1/jobs/{job['id']}"
    assert httpx.get(base + "/results", headers=auth(token)).json() == {"results": []}
    assert httpx.get(base + "/results/passwd", headers=auth(token)).status_code == 404
    logs = httpx.get(base + "/logs", headers=auth(token))
    assert "root:" not in logs.text and logs.status_code == 404
