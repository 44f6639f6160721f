"""Cluster configs, the client factory, generated batch scripts and the submit commands.

Everything here runs without a batch system: configs are parsed and
validated, job scripts and HTCondor submit descriptions are checked as text
(and the driver script is executed with a stand-in interpreter to prove the
quoting), HTCondor submission goes through stand-in ``condor_*`` commands,
and the factory is exercised against real local Dask clusters.  Real Slurm
is in test_submit_slurm.py.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hepflow.cluster import (
    ClusterConfig,
    ClusterConfigError,
    ClusterError,
    HTCondorOptions,
    SlurmOptions,
    SubmitError,
    connect,
    load_cluster_config,
    submit,
    write_cluster_config,
)
from hepflow.cluster.batch import (
    condor_driver_files,
    driver_command,
    parse_condor_submit,
    parse_sbatch,
    slurm_driver_script,
)
from hepflow.cluster.cli import add_parser
from hepflow.cluster.config import walltime_seconds

REPO = Path(__file__).resolve().parents[1]
DIMUON = REPO / "examples" / "dimuon.py"


def _cli(argv: list[str]) -> int:
    """The three subcommands, wired exactly as hepflow/cli.py wires them."""
    parser = argparse.ArgumentParser(prog="hepflow")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


# --------------------------------------------------------------------------
# parsing and validation


SLURM_SECTION = {
    "backend": "slurm", "workers": 3, "wait_for": 2, "timeout": 90,
    "adapt": {"minimum": 2, "maximum": 10},
    "slurm": {"cores": 4, "memory": "8GiB", "walltime": "1-02:00:00", "partition": "short",
              "account": "cms", "job_extra_directives": ["--qos=normal"],
              "setup": ["source /cvmfs/x/setup.sh", "export A='b c'"],
              "driver": {"memory": "3GiB"}},
}


def test_slurm_section_parses_to_typed_frozen_config():
    cfg = load_cluster_config({"cluster": SLURM_SECTION})
    assert cfg.backend == "slurm" and cfg.is_batch
    assert isinstance(cfg.options, SlurmOptions)
    assert cfg.options.cores == 4 and cfg.options.worker_processes == 4  # one thread each
    assert cfg.options.setup == ("source /cvmfs/x/setup.sh", "export A='b c'")
    assert cfg.options.driver.memory == "3GiB" and cfg.timeout == 90.0
    assert cfg.adapt is not None and (cfg.adapt.minimum, cfg.adapt.maximum) == (2, 10)
    with pytest.raises(AttributeError):
        cfg.workers = 5  # type: ignore[misc]
    assert cfg.replace(workers=5).workers == 5
    with pytest.raises(TypeError):
        cfg.replace(wrokers=5)


def test_round_trip_through_yaml_file(tmp_path):
    cfg = load_cluster_config(SLURM_SECTION)
    path = write_cluster_config(cfg, tmp_path / "c.yaml")
    assert load_cluster_config(path) == cfg
    assert ClusterConfig.from_mapping(cfg.to_mapping()) == cfg


def test_named_configs_toml_and_shortcuts(tmp_path):
    many = tmp_path / "site.yaml"
    many.write_text(yaml.safe_dump({"clusters": {
        "laptop": {"backend": "local", "workers": 2},
        "farm": {"backend": "htcondor", "htcondor": {"disk": "4GiB",
                                                     "job_extra_directives": {
                                                         "+JobFlavour": '"longlunch"'}}}}}))
    assert load_cluster_config(f"{many}#laptop").workers == 2
    farm = load_cluster_config(f"{many}#farm")
    assert isinstance(farm.options, HTCondorOptions)
    assert dict(farm.options.job_extra_directives) == {"+JobFlavour": '"longlunch"'}
    with pytest.raises(ClusterConfigError, match="choose one"):
        load_cluster_config(many)
    with pytest.raises(ClusterConfigError, match="did you mean 'farm'"):
        load_cluster_config(f"{many}#frm")
    toml = tmp_path / "c.toml"
    toml.write_text('[cluster]\nbackend = "slurm"\n[cluster.slurm]\ncores = 2\n'
                    'partition = "debug"\n')
    assert load_cluster_config(toml).options.cores == 2
    assert load_cluster_config("local").backend == "local"
    assert load_cluster_config("slurm").options == SlurmOptions()
    scheduler = load_cluster_config("tcp://10.0.0.1:8786")
    assert scheduler.backend == "scheduler" and scheduler.options.address == "tcp://10.0.0.1:8786"


@pytest.mark.parametrize(("section", "message"), [
    ({"backend": "slurn"}, "did you mean 'slurm'"),
    ({"backend": "slurm", "slurm": {"memroy": "1GiB"}},
     "unknown key `memroy`; did you mean `memory`"),
    ({"backend": "slurm", "slurm": {"cores": "four"}}, "slurm.cores: expected an integer"),
    ({"backend": "local", "slurm": {}}, "a `slurm` section in a config for backend 'local'"),
    ({"backend": "slurm", "slurm": {"walltime": "2h"}}, "walltime '2h' is not"),
    ({"backend": "slurm", "slurm": {"memory": "lots"}}, "is not a size"),
    ({"backend": "slurm", "slurm": {"setup": ["a\nrm -rf /"]}}, "single line"),
    ({"backend": "slurm", "slurm": {"job_extra_directives": ["qos=x"]}}, "not an sbatch option"),
    ({"backend": "slurm", "slurm": {"cores": 2, "processes": 4}}, "exceeds"),
    ({"backend": "slurm", "adapt": {"minimum": 3, "maximum": 2}}, "adapt.maximum"),
    ({"backend": "scheduler"}, "needs `address`"),
    ({"backend": "scheduler", "scheduler": {"address": "tls://h:1"}}, "TLS address"),
    ({"backend": "scheduler", "workers": 2, "scheduler": {"address": "tcp://h:1"}},
     "cannot be scaled"),
    ({"backend": "kubernetes"}, "needs `image`"),
    ({"backend": "gateway", "gateway": {"auth": {"type": "oauth"}}}, "not one of"),
    ({"backend": "htcondor", "htcondor": {"job_extra_directives": {"bad key": "1"}}},
     "not a submit command"),
    ({"backend": "local", "timeout": 0}, "timeout must be > 0"),
    ({"backend": "local", "wrokers": 2}, "did you mean 'workers'"),
])
def test_bad_configs_fail_early_with_a_pointed_message(section, message):
    with pytest.raises(ClusterConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_cluster_config(section)


def test_unknown_cluster_argument_says_what_is_accepted(tmp_path):
    with pytest.raises(ClusterConfigError, match="neither a config file nor a backend"):
        load_cluster_config(str(tmp_path / "nope.yaml"))


def test_walltime_formats():
    assert walltime_seconds("01:00:00") == 3600
    assert walltime_seconds("1-00:30") == 86400 + 1800
    assert walltime_seconds("90") == 5400


# --------------------------------------------------------------------------
# optional backends: a clear error when their package is missing


@pytest.mark.parametrize(("backend", "module", "package"), [
    ("kubernetes", "dask_kubernetes.operator", "hepflow[kubernetes]"),
    ("gateway", "dask_gateway", "hepflow[gateway]"),
    ("slurm", "dask_jobqueue", "hepflow[cluster]"),
    ("htcondor", "dask_jobqueue", "hepflow[cluster]"),
])
def test_missing_backend_package_is_named(monkeypatch, backend, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    section = {"backend": backend}
    if backend == "kubernetes":
        section["kubernetes"] = {"image": "example/hepflow:1"}
    with pytest.raises(ClusterError, match=r"pip install '" + package.replace("[", r"\[")):
        connect(section)


def test_gateway_secrets_come_from_named_environment_variables(monkeypatch):
    pytest.importorskip("dask_gateway")
    from hepflow.cluster.connect import gateway_auth

    cfg = load_cluster_config({"backend": "gateway", "gateway": {
        "address": "http://127.0.0.1:1", "auth": {"type": "basic", "username": "alice",
                                                  "password_env": "HF_TEST_PW"}}})
    monkeypatch.delenv("HF_TEST_PW", raising=False)
    with pytest.raises(ClusterError, match="HF_TEST_PW"):
        gateway_auth(cfg.options)
    monkeypatch.setenv("HF_TEST_PW", "s3cret")
    auth = gateway_auth(cfg.options)
    assert auth.username == "alice" and auth.password == "s3cret"


# --------------------------------------------------------------------------
# dask-jobqueue job scripts, as text


def test_slurm_worker_job_script_carries_every_setting():
    pytest.importorskip("dask_jobqueue")
    from hepflow.cluster.connect import make_cluster

    cfg = load_cluster_config({"backend": "slurm", "slurm": {
        "cores": 2, "memory": "3GiB", "walltime": "00:20:00", "partition": "short",
        "account": "cms", "job_extra_directives": ["--qos=normal"],
        "setup": ["source /opt/env.sh"], "scheduler_host": "127.0.0.1"}})
    cluster = make_cluster(cfg)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for expected in ("#SBATCH -p short", "#SBATCH -A cms", "#SBATCH -t 00:20:00",
                     "#SBATCH --qos=normal", "#SBATCH --cpus-per-task=2",
                     "source /opt/env.sh", "--nworkers 2", "--nthreads 1",
                     "#SBATCH -J hepflow-worker"):
        assert expected in script, expected


def test_htcondor_worker_job_script():
    pytest.importorskip("dask_jobqueue")
    from hepflow.cluster.connect import make_cluster

    cfg = load_cluster_config({"backend": "htcondor", "htcondor": {
        "cores": 1, "memory": "2GiB", "disk": "5GiB", "walltime": "02:00:00",
        "accounting_group": "group_cms", "scheduler_host": "127.0.0.1",
        "job_extra_directives": {"+JobFlavour": '"longlunch"'}}})
    cluster = make_cluster(cfg)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for expected in ("+MaxRuntime = 7200", "accounting_group = group_cms",
                     '+JobFlavour = "longlunch"', "MY.DaskWorkerDisk = 5368709120"):
        assert expected in script, expected


# --------------------------------------------------------------------------
# the detached driver's scripts: quoting is tested by running them

NASTY = "it's $(touch PWNED) `touch PWNED2` \"x\" ; rm -rf nothing.py"


def _echo_args(tmp_path: Path) -> str:
    """A stand-in interpreter that prints each argument it got on its own line."""
    path = tmp_path / "echo-args"
    path.write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    path.chmod(0o755)
    return str(path)


def _run_driver_script(script: str, tmp_path: Path) -> str:
    path = tmp_path / "driver.sh"
    path.write_text(script)
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    return done.stdout


def test_slurm_driver_script_quotes_every_user_value(tmp_path):
    options = SlurmOptions(partition="short", account="cms", walltime="00:30:00",
                           job_extra_directives=("--qos=normal",), setup=("export X=1",))
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    command = driver_command(_echo_args(tmp_path), ["--dataset", NASTY, str(tmp_path / NASTY)])
    script = slurm_driver_script(options, job_name="hepflow-x", command=command,
                                 workdir=workdir, environ={"HEPFLOW_CACHE_DIR": NASTY})
    assert "#SBATCH --partition=short" in script and "#SBATCH --account=cms" in script
    assert "#SBATCH --time=00:30:00" in script and "#SBATCH --qos=normal" in script
    assert "#SBATCH --mem=2048M" in script  # the driver's own 2GiB default
    out = _run_driver_script(script, tmp_path).splitlines()
    # the stand-in prints its words back: every one arrived intact, nothing ran
    assert out[-5:] == ["-m", "hepflow.cluster.driver", "--dataset", NASTY,
                        str(tmp_path / NASTY)]
    with pytest.raises(SubmitError, match="#SBATCH"):
        slurm_driver_script(SlurmOptions(partition="a b"), job_name="j", command="true",
                            workdir=tmp_path)


def test_htcondor_driver_files(tmp_path):
    options = HTCondorOptions(disk="2GiB", walltime="01:00:00", accounting_group="group_cms",
                              job_extra_directives=(("+JobFlavour", '"workday"'),))
    command = driver_command(_echo_args(tmp_path), [NASTY])
    script, description = condor_driver_files(options, job_name="hepflow-x", command=command,
                                              workdir=tmp_path, jobdir=tmp_path)
    entries = dict(line.split(" = ", 1) for line in description.splitlines()
                   if " = " in line and not line.startswith("#"))
    assert entries["executable"] == str(tmp_path / "driver.sh")
    assert entries["request_memory"] == "2048" and entries["+MaxRuntime"] == "3600"
    assert entries["accounting_group"] == "group_cms" and entries["+JobFlavour"] == '"workday"'
    assert description.rstrip().endswith("queue 1")
    assert _run_driver_script(script, tmp_path).splitlines()[-1] == NASTY


def test_job_id_parsers():
    assert parse_sbatch("1234\n") == "1234"
    assert parse_sbatch("1234;farm\n") == "1234"
    assert parse_condor_submit("4321.0 - 4321.0\n") == "4321"
    with pytest.raises(SubmitError):
        parse_sbatch("sbatch: error: Batch job submission failed: Invalid partition name")


def _fake_tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_htcondor_detached_submission_with_stand_in_commands(tmp_path, monkeypatch):
    """condor_submit/condor_q stand-ins record what hepflow runs; status merges both views."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    _fake_tool(bin_dir, "condor_submit", f'printf "%s\\n" "$@" >> {calls}\necho "77.0 - 77.0"\n')
    _fake_tool(bin_dir, "condor_q", 'echo "77 2 undefined undefined"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HEPFLOW_JOBS_DIR", str(tmp_path / "jobs"))
    config = tmp_path / "condor.yaml"
    config.write_text(yaml.safe_dump({"cluster": {"backend": "htcondor", "htcondor": {
        "schedd": "schedd.example.org"}}}))
    analysis = tmp_path / "my analysis.py"
    analysis.write_text(DIMUON.read_text())
    assert _cli(["submit", str(analysis), "--cluster", str(config), "--detach",
                 "--outdir", str(tmp_path / "out")]) == 0
    argv = calls.read_text().splitlines()
    assert argv[:3] == ["-terse", "-name", "schedd.example.org"] and argv[3].endswith(".sub")
    jobdir = Path(argv[3]).parent
    assert (jobdir / "driver.sh").is_file() and (jobdir / "cluster.yaml").is_file()
    assert str(analysis) in (jobdir / "driver.sh").read_text().replace("'", "")
    record = json.loads((tmp_path / "jobs" / "htcondor-77.json").read_text())
    assert record["job_id"] == "77" and record["log"].endswith("driver.77.log")
    from hepflow.cluster.submit import find_job, job_status

    status = job_status(find_job("77"))
    assert status["status"] == "RUNNING" or status["batch_state"] == "RUNNING"


def test_detach_needs_a_batch_backend_and_existing_files(tmp_path, capsys):
    assert _cli(["submit", str(DIMUON), "--cluster", "local", "--detach"]) == 2
    err = capsys.readouterr().err
    assert "needs a slurm or htcondor cluster config" in err and "hint:" in err
    assert len(err.strip().splitlines()) == 2  # one line plus a hint, no traceback
    assert _cli(["submit", str(tmp_path / "nope.py"), "--cluster", "slurm", "--detach"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_status_without_jobs_says_how_to_submit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEPFLOW_JOBS_DIR", str(tmp_path / "none"))
    assert _cli(["status"]) == 2
    assert "hepflow submit" in capsys.readouterr().err


# --------------------------------------------------------------------------
# the factory against real local clusters


@pytest.mark.cluster
def test_connect_local_waits_for_workers_and_closes_its_cluster():
    client = connect(ClusterConfig.local(1))
    try:
        assert len(client.nthreads()) == 1
        cluster = client.cluster
        assert client.submit(sum, [1, 2]).result() == 3
    finally:
        client.close()
    assert cluster.status.name == "closed"


@pytest.mark.cluster
def test_connect_to_existing_scheduler_and_explain_missing_workers():
    import distributed

    with distributed.LocalCluster(n_workers=0, processes=False,
                                  dashboard_address=":0") as empty:
        with pytest.raises(ClusterError, match=r"(?s)no workers joined within 1 s.*dask worker"):
            connect({"backend": "scheduler", "timeout": 1,
                     "scheduler": {"address": empty.scheduler_address}})
        empty.scale(1)
        client = connect({"backend": "scheduler", "timeout": 30,
                          "scheduler": {"address": empty.scheduler_address}},
                         set_as_default=False)
        with client:
            assert len(client.nthreads()) == 1
        assert empty.status.name == "running"  # not ours to close


@pytest.mark.cluster
def test_unreachable_scheduler_is_named():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at .*:{port}"):
        connect({"backend": "scheduler", "timeout": 2,
                 "scheduler": {"address": f"tcp://127.0.0.1:{port}"}})


@pytest.mark.cluster
def test_submit_same_analysis_with_cluster_local(sample_files, tmp_path, capsys):
    spec = tmp_path / "dataset.yaml"
    spec.write_text(yaml.safe_dump({"samples": {"dy": {"files": sample_files}}}))
    report = tmp_path / "run.json"
    assert _cli(["submit", str(DIMUON), "--cluster", "local", "--dataset", str(spec),
                 "--outdir", str(tmp_path / "out"), "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["cluster"]["backend"] == "local" and data["cluster"]["workers"] >= 1
    assert data["results"]["cutflow"]["cuts"][0]["all"] == 40_000
    assert (tmp_path / "out" / "histograms.root").is_file()
    assert "Dask dashboard" in capsys.readouterr().out
    # the library call gives the same answer
    again = submit(DIMUON, ClusterConfig.local(1), dataset=spec, outdir=tmp_path / "again")
    assert again["results"] == data["results"]
