"""Against a real single-node Slurm: dask-jobqueue workers as Slurm jobs, detached drivers.

The module starts one private Slurm (munged, slurmctld, slurmd; see
hepflow.testing.slurm) and always stops it.  Where Slurm is not installed or
cannot start, the tests are skipped with the reason; with
HEPFLOW_REQUIRE_SLURM=1 (CI) they fail instead, so that a broken set-up
cannot pass as "skipped".
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from hepflow.cluster import ClusterConfig, ClusterError, connect, load_cluster_config, submit
from hepflow.cluster.cli import add_parser
from hepflow.testing.slurm import SingleNodeSlurm, SlurmStartError, slurm_unavailable_reason

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[1]
DIMUON = REPO / "examples" / "dimuon.py"


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("HEPFLOW_REQUIRE_SLURM") == "1":
        pytest.fail(f"HEPFLOW_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm() -> Iterator[SingleNodeSlurm]:
    reason = slurm_unavailable_reason()
    if reason is not None:
        _skip_or_fail(reason)
    # 4 declared CPUs: a driver job and worker jobs side by side on a 2-core CI machine
    cluster = SingleNodeSlurm(cpus=4, startup_timeout=60)
    try:
        cluster.start()
    except SlurmStartError as err:
        cluster.close()
        _skip_or_fail(f"a single-node Slurm could not start here: {err}")
    try:
        with cluster.activated():
            yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def dataset(sample_files: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = tmp_path_factory.mktemp("slurm-ds") / "dataset.yaml"
    spec.write_text(yaml.safe_dump({"samples": {"dy": {"files": sample_files}}}))
    return spec


def _slurm_config(tmp_path: Path, **slurm: object) -> dict[str, object]:
    section: dict[str, object] = {"cores": 1, "memory": "1GiB", "walltime": "00:10:00",
                                  "scheduler_host": "127.0.0.1", **slurm}
    return {"backend": "slurm", "workers": 1, "timeout": 90, "slurm": section}


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hepflow")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_slurmcluster_workers_give_the_local_result(slurm, dataset, tmp_path):
    config = _slurm_config(tmp_path, log_directory=str(tmp_path / "worker-logs"))
    config["workers"] = 2
    config["wait_for"] = 2  # the report counts the workers joined when the run starts
    on_slurm = submit(DIMUON, config, dataset=dataset, outdir=tmp_path / "slurm",
                      report=tmp_path / "slurm.json")
    assert on_slurm["cluster"]["backend"] == "slurm" and on_slurm["cluster"]["workers"] == 2
    logs = sorted(p.name for p in (tmp_path / "worker-logs").glob("hepflow-worker-*.err"))
    assert len(logs) == 2, logs  # the workers really were two Slurm jobs
    local = submit(DIMUON, ClusterConfig.local(1), dataset=dataset, outdir=tmp_path / "local")
    assert on_slurm["results"] == local["results"]
    assert on_slurm["results"]["cutflow"]["cuts"][0]["all"] == 40_000
    with uproot.open(tmp_path / "slurm" / "histograms.root") as a, \
            uproot.open(tmp_path / "local" / "histograms.root") as b:
        np.testing.assert_array_equal(a["mass"].values(), b["mass"].values())
    report = json.loads((tmp_path / "slurm.json").read_text())
    assert report["runs"]["mass"]["entries_processed"] == 40_000


def test_detached_jobs_finish_or_report_their_failure(slurm, dataset, tmp_path, monkeypatch,
                                                      capsys):
    monkeypatch.setenv("HEPFLOW_JOBS_DIR", str(tmp_path / "jobs"))
    config = tmp_path / "slurm.yaml"
    config.write_text(yaml.safe_dump({"cluster": _slurm_config(tmp_path)}))
    bad = tmp_path / "bad analysis.py"
    bad.write_text("import hepflow\nfrom hepflow.analysis import dataset\n"
                   "df = hepflow.RDataFrame(dataset())\n"
                   "h = df.Histo1D(('pt', 'pt', 10, 0, 100), 'Muon_Pt')\n")
    # submit both first: they run side by side
    assert _cli(["submit", str(DIMUON), "--cluster", str(config), "--dataset", str(dataset),
                 "--outdir", str(tmp_path / "good"), "--detach"]) == 0
    good_id = capsys.readouterr().out.strip()
    assert _cli(["submit", str(bad), "--cluster", str(config), "--dataset", str(dataset),
                 "--outdir", str(tmp_path / "bad"), "--detach"]) == 0
    bad_id = capsys.readouterr().out.strip()
    assert good_id.isdigit() and bad_id.isdigit() and good_id != bad_id

    assert _cli(["status", good_id, "--wait", "150"]) == 0
    shown = capsys.readouterr().out
    assert f"slurm-{good_id}: FINISHED" in shown
    out = tmp_path / "good"
    for name in ("histograms.root", "mass.png", "results.json", "run.json"):
        assert (out / name).is_file(), name
    report = json.loads((out / "run.json").read_text())
    assert report["cluster"]["backend"] == "slurm"
    assert report["results"]["cutflow"]["cuts"][0]["all"] == 40_000
    assert _cli(["logs", good_id]) == 0
    assert "hepflow driver: finished" in capsys.readouterr().out

    assert _cli(["status", bad_id, "--wait", "150", "--json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "FAILED" and status["exit_code"] == 1
    assert "unknown column `Muon_Pt`" in status["error"]
    log = Path(status["log"])
    assert log.is_file() and "Traceback" in log.read_text()
    assert _cli(["status", "--all"]) == 0
    listing = capsys.readouterr().out
    assert f"slurm-{good_id}" in listing and f"slurm-{bad_id}" in listing


def test_worker_jobs_that_die_are_reported_with_their_logs(slurm, tmp_path):
    cfg = load_cluster_config(_slurm_config(tmp_path, python="/nonexistent/python",
                                            log_directory=str(tmp_path / "logs")))
    with pytest.raises(ClusterError) as caught:
        connect(cfg.replace(timeout=60))
    message = str(caught.value)
    assert "every worker job ended before its worker connected" in message
    assert "FAILED" in message and str(tmp_path / "logs") in message
    assert "/nonexistent/python" in message  # the tail of the job's own log
