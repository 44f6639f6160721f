"""Every file in deployments/ parses and says what its README promises; the gateway runs.

Manifests and configs are checked structurally (what would make `kubectl
apply`, `sbatch`, `condor_submit` or hepflow reject them, or silently not
connect: selectors that match no pod, ports that name nothing).  The Dask
Gateway config is run for real with dask-gateway-server when it is installed.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hepflow.cluster import ClusterConfig, ClusterError, connect, load_cluster_config

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deployments"


def test_every_folder_has_a_readme():
    for folder in ("slurm", "htcondor", "kubernetes", "gateway", "xrootd"):
        text = (DEPLOY / folder / "README.md").read_text()
        assert "## " in text and len(text) > 500, folder
    index = (DEPLOY / "README.md").read_text()
    for folder in ("slurm", "htcondor", "kubernetes", "gateway", "xrootd"):
        assert f"{folder}/README.md" in index


@pytest.mark.parametrize("spec", [
    "slurm/cluster.yaml", "slurm/single-node.yaml", "htcondor/cluster.yaml",
    "kubernetes/cluster.yaml#operator", "kubernetes/cluster.yaml#manifest",
    "kubernetes/cluster.yaml#plain", "gateway/cluster.yaml",
])
def test_shipped_cluster_configs_load(spec):
    cfg = load_cluster_config(str(DEPLOY / spec))
    assert isinstance(cfg, ClusterConfig)
    assert ClusterConfig.from_mapping(cfg.to_mapping()) == cfg
    if cfg.backend == "kubernetes" and cfg.options.manifest:
        assert (REPO / cfg.options.manifest).is_file()


def test_slurm_single_node_config_matches_the_harness():
    from hepflow.testing.slurm import SingleNodeSlurm

    cfg = load_cluster_config(str(DEPLOY / "slurm" / "single-node.yaml"))
    assert cfg.options.partition == SingleNodeSlurm().partition
    assert cfg.options.scheduler_host == "127.0.0.1"


def test_debian_package_list():
    names = [line.strip() for line in (DEPLOY / "slurm" / "debian-packages.txt").read_text()
             .splitlines() if line.strip() and not line.startswith("#")]
    assert set(names) == {"slurmctld", "slurmd", "slurm-client", "munge"}
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", n) for n in names)


@pytest.mark.parametrize("script", ["slurm/single-node.sh", "slurm/hepflow-driver.sbatch",
                                    "htcondor/hepflow-driver.sh"])
def test_shell_scripts_parse(script):
    path = DEPLOY / script
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert path.read_text().startswith("#!")


def test_single_node_script_runs_the_harness(tmp_path):
    env = {**os.environ, "HEPFLOW_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(DEPLOY / "slurm" / "single-node.sh"), "status", "--dir",
                           str(tmp_path / "none")], capture_output=True, text=True,
                          env=env, check=False)
    assert done.returncode == 1 and "stopped" in done.stdout


def test_sbatch_template_directives_come_first():
    lines = (DEPLOY / "slurm" / "hepflow-driver.sbatch").read_text().splitlines()
    first_command = next(i for i, line in enumerate(lines)
                         if line.strip() and not line.startswith("#"))
    directives = [line for line in lines if line.startswith("#SBATCH")]
    assert directives and all(lines.index(d) < first_command for d in directives)
    assert any("--time=" in d for d in directives)


def test_htcondor_driver_template():
    entries = {}
    lines = [line for line in (DEPLOY / "htcondor" / "hepflow-driver.sub").read_text()
             .splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1].startswith("queue")
    for line in lines[:-1]:
        key, _, value = line.partition("=")
        entries[key.strip()] = value.strip()
    assert (DEPLOY / "htcondor" / entries["executable"]).is_file()
    for key in ("request_cpus", "request_memory", "output", "error", "log"):
        assert key in entries


# --------------------------------------------------------------------------
# Kubernetes


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d]


def _check_pod_spec(spec: dict, where: str) -> list[dict]:
    containers = spec["containers"]
    assert containers, where
    for container in containers:
        assert container["name"] and container["image"], where
        assert container["args"][:1] == ["dask"], f"{where}: use `dask scheduler/worker`"
        for port in container.get("ports", []):
            assert 0 < port["containerPort"] < 65536
        resources = container["resources"]
        assert resources["requests"] and resources["limits"]
    return containers


def test_daskcluster_manifest():
    (doc,) = _documents("daskcluster.yaml")
    assert doc["apiVersion"] == "kubernetes.dask.org/v1" and doc["kind"] == "DaskCluster"
    name = doc["metadata"]["name"]
    worker = doc["spec"]["worker"]
    assert isinstance(worker["replicas"], int)
    (wc,) = _check_pod_spec(worker["spec"], "worker")
    assert "--nthreads" in wc["args"] and wc["args"][wc["args"].index("--nthreads") + 1] == "1"
    scheduler = doc["spec"]["scheduler"]
    (sc,) = _check_pod_spec(scheduler["spec"], "scheduler")
    port_names = {p["name"] for p in sc["ports"]}
    service = scheduler["service"]
    assert service["selector"]["dask.org/cluster-name"] == name
    for port in service["ports"]:
        assert port["targetPort"] in port_names
    assert sc["readinessProbe"]["httpGet"]["port"] in port_names


def test_plain_manifests_selectors_and_service_match():
    docs = _documents("dask-plain.yaml")
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert kinds == [("Deployment", "hepflow-scheduler"), ("Service", "hepflow-scheduler"),
                     ("Deployment", "hepflow-worker")]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name, dep in deployments.items():
        assert dep["apiVersion"] == "apps/v1"
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        _check_pod_spec(dep["spec"]["template"]["spec"], name)
    service = docs[1]
    scheduler = deployments["hepflow-scheduler"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= scheduler["metadata"]["labels"].items()
    port_names = {p["name"] for p in scheduler["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    worker_args = deployments["hepflow-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "tcp://hepflow-scheduler:8786" in worker_args["args"]  # the Service's DNS name


def test_dockerfile_copies_what_exists_and_pins():
    text = (DEPLOY / "kubernetes" / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in text.splitlines()
                    if line.strip() and not line.startswith("#") and not line.startswith(" ")]
    assert instructions[0] == "FROM"
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
    assert "-c constraints.txt" in text and '"dask", "worker"' in text


# --------------------------------------------------------------------------
# Dask Gateway: the config, and a real server run from it


def test_gateway_config_uses_the_dask_subcommands():
    source = (DEPLOY / "gateway" / "gateway_config.py").read_text()
    tree = ast.parse(source)
    assigned = {ast.unparse(node.targets[0]): ast.unparse(node.value)
                for node in ast.walk(tree) if isinstance(node, ast.Assign)}
    assert "'scheduler'" in assigned["c.ClusterConfig.scheduler_cmd"]
    assert "'worker'" in assigned["c.ClusterConfig.worker_cmd"]
    assert assigned["c.ClusterConfig.worker_threads"] == "1"
    assert "dask-scheduler" not in source.replace("`dask-scheduler`", "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gateway_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    pytest.importorskip("dask_gateway")
    pytest.importorskip("dask_gateway_server")
    pytest.importorskip("sqlalchemy")  # the local backend's database
    binary = shutil.which("dask-gateway-server", path=os.path.dirname(sys.executable))
    if binary is None:
        pytest.skip("dask-gateway-server is not installed next to this Python")
    http, tcp, api = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "HEPFLOW_GATEWAY_ADDRESS": f"127.0.0.1:{http}",
           "HEPFLOW_GATEWAY_TCP": f"127.0.0.1:{tcp}", "HEPFLOW_GATEWAY_API": f"127.0.0.1:{api}",
           "HEPFLOW_GATEWAY_DIR": str(tmp_path / "clusters"),
           "HEPFLOW_GATEWAY_PASSWORD": "hepflow-test"}
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen([binary, "-f", str(DEPLOY / "gateway" / "gateway_config.py")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/health",
                                            timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("dask-gateway-server did not start:\n"
                            + (tmp_path / "gateway.log").read_text()[-3000:])
            time.sleep(0.2)
        yield {"address": f"http://127.0.0.1:{http}", "proxy_address": f"gateway://127.0.0.1:{tcp}"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_real_gateway_through_hepflow_config(gateway_server, monkeypatch):
    shipped = yaml.safe_load((DEPLOY / "gateway" / "cluster.yaml").read_text())["cluster"]
    shipped["gateway"].update(gateway_server)
    shipped["workers"] = 1
    shipped["timeout"] = 60
    monkeypatch.setenv("DASK_GATEWAY_PASSWORD", "hepflow-test")
    with connect(shipped, set_as_default=False) as client:
        assert len(client.nthreads()) == 1
        assert client.submit(sum, [20, 22]).result() == 42
    monkeypatch.setenv("DASK_GATEWAY_PASSWORD", "wrong")
    with pytest.raises(ClusterError, match="401"):
        connect(shipped, set_as_default=False)
