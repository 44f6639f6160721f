"""Every code block of the READMEs runs as written: the READMEs are executable specifications.

A small extractor finds the fenced blocks of README.md, benchmarks/README.md and
deployments/README.md. Blocks a user would paste run in order in one working
folder, as one terminal session would: shell blocks in bash (exported variables
and background jobs carry on to the next block), Python blocks in one namespace
(the shared test cluster is the session's default client), YAML blocks written
where the marker says. A block is steered by an HTML comment on the line above it:

    <!-- example: skip (why it cannot run in CI) -->
    <!-- example: site (what stands in) -->   run with local stand-ins for a site
    <!-- example: script train.py -->        saved as train.py, run as
                                             `python train.py` (no main guard) and
                                             as `hepflow run train.py`
    <!-- example: continues train.py (why) --> Python that goes on where train.py ends:
                                             appended to train.py for its `python train.py`
                                             run, as a user adds it to the script
    <!-- example: file PATH -->              a YAML block is that file
    <!-- example: dask-config -->            a YAML block is Dask config
    <!-- example: needs NAME (why) -->       Python needing a value of the session
    <!-- example: ci (why) -->               set-up commands CI itself runs: the test
                                             checks that .ci/run and the Makefile run them
    <!-- example: parse (why) -->            long commands (benchmarks, other backends):
                                             each is parsed by its own argument parser,
                                             nothing runs; every --cluster config is loaded
    <!-- example: slurm (why) -->            shell run as written on a real single-node
                                             Slurm; skipped, as tests/test_submit_slurm.py
                                             is, only where Slurm is not installed
    <!-- example: smoke (why) -->            benchmark commands run as written with
                                             HEPFLOW_BENCH_SMOKE=1 (smoke-size defaults),
                                             in a fresh folder, by
                                             test_benchmark_blocks_run_at_smoke_size

Site stand-ins are the ones the other tests use: XRootD servers on 127.0.0.1
(`hepflow.testing.Sites`) for remote hosts, `hepflow.serve.testing.LocalIssuer`
for an OIDC issuer, a correctionlib file written here for a CMS one. Port 8000
becomes a free port (other servers may hold 8000 on a shared CI machine).
"""

from __future__ import annotations

import copy
import json
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.config
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "deployments/README.md", "benchmarks/README.md")
CODE = ("python", "sh", "yaml")
KINDS = ("skip", "site", "script", "file", "dask-config", "needs", "continues", "ci", "parse",
         "slurm", "smoke")
#: Markers that must say why, in parentheses.
EXPLAINED = ("skip", "site", "needs", "continues", "ci", "parse", "slurm", "smoke")
#: Seconds one `smoke` block may take (each benchmark command at its smoke size).
SMOKE_TIMEOUT = 600  # one block; the wide benchmark's three commands take about 5 minutes
#: Blocks not run in CI, each with its reason in the README: benchmarks/README.md's
#: SLURMCluster at a site (its partition, account, node constraint, network interface,
#: venv and root:// dataset are the site's; 100 workers).
MAX_SKIPPED = 1
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*example:\s*(?P<words>[^()]*?)\s*(?:\((?P<why>[^)]*)\))?\s*-->$")

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1500)]


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, text and marker words."""

    doc: str
    line: int
    lang: str
    text: str
    words: tuple[str, ...] = ()
    why: str = ""

    @property
    def kind(self) -> str:
        return self.words[0] if self.words else ""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line} ({self.lang or 'output'})"


def blocks(doc: str) -> list[Block]:
    """The fenced blocks of `doc`, each with the marker on the line before its fence."""
    lines = (ROOT / doc).read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.match(before)
        words = tuple(marker["words"].split()) if marker else ()
        why = (marker["why"] or "").strip() if marker else ""
        found.append(Block(doc, i + 1, opened[1], "\n".join(lines[i + 1:end]) + "\n",
                           words, why))
        i = end + 1
    return found


def test_every_block_is_run_or_marked() -> None:
    """Code blocks are python/sh/yaml; markers are known; skips give a reason and stay few."""
    skipped = []
    for doc in DOCS:
        for block in blocks(doc):
            assert block.lang in (*CODE, ""), f"{block}: use ```python, ```sh or ```yaml"
            assert block.kind in ("", *KINDS), f"{block}: unknown marker {block.words}"
            if block.lang == "yaml":
                assert block.kind in ("file", "dask-config") or "file" in block.words, \
                    f"{block}: say what the YAML is (file PATH or dask-config)"
            if set(block.words) & set(EXPLAINED):
                assert block.why, f"{block}: a {block.kind} marker says why, in parentheses"
            if "continues" in block.words:
                assert block.lang == "python", f"{block}: only Python continues a script"
                script = block.words[block.words.index("continues") + 1:][:1]
                assert script and any(b.words == ("script", script[0]) for b in blocks(doc)), \
                    f"{block}: continues which script?"
            if block.kind == "skip":
                skipped.append(block)
    assert len(skipped) <= MAX_SKIPPED, [str(b) for b in skipped]


def test_a_marker_without_its_reason_fails(tmp_path: Path) -> None:
    """A skip (or any marker that must explain itself) without a reason is refused."""
    global ROOT, DOCS
    saved = ROOT, DOCS
    for marker in ("skip", "parse", "continues train.py", "slurm", "smoke"):
        (tmp_path / "doc.md").write_text(f"<!-- example: {marker} -->\n```sh\ntrue\n```\n")
        ROOT, DOCS = tmp_path, ("doc.md",)
        try:
            with pytest.raises(AssertionError, match="says why"):
                test_every_block_is_run_or_marked()
        finally:
            ROOT, DOCS = saved


def test_extractor_reads_markers(tmp_path: Path) -> None:
    """The extractor itself: fences, languages, markers and reasons."""
    doc = tmp_path / "doc.md"
    doc.write_text("text\n<!-- example: skip (too long) -->\n```sh\nsleep 1000\n```\n\n"
                   "```python\nx = 1\n```\n```\noutput\n```\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = blocks("doc.md")
    finally:
        ROOT = saved
    assert [(b.lang, b.kind, b.why, b.text) for b in found] == [
        ("sh", "skip", "too long", "sleep 1000\n"), ("python", "", "", "x = 1\n"),
        ("", "", "", "output\n")]


def test_parse_marker_checks_the_options() -> None:
    """A `parse` block is refused when a command has an option its program does not know."""
    good = Block("doc.md", 1, "sh", "python -m benchmarks.dimuon --events 2000 --repeat 1  # ok\n"
                 "hepflow bench scaling ttbar --workers 1,2 --mode weak\n"
                 "hepflow submit examples/dimuon.py --cluster deployments/slurm/single-node.yaml "
                 "--dataset d.yaml\n", ("parse",), "test")
    _parse(good)
    for line in ("python -m benchmarks.dimuon --evnts 2000", "hepflow bench scaling ttbar --mode x",
                 "hepflow make-sample out --process top"):
        with pytest.raises(AssertionError, match="does not parse"):
            _parse(Block("doc.md", 1, "sh", line + "\n", ("parse",), "test"))
    with pytest.raises(Exception, match="nonexistent"):
        _parse(Block("doc.md", 1, "sh", "hepflow submit a.py --cluster nonexistent.yaml\n",
                     ("parse",), "test"))


# -- the session: one working folder, one shell environment, one Python namespace ---------

@dataclass
class Session:
    """What a user's terminal and Python prompt hold while following the READMEs."""

    cwd: Path
    client: Any
    sites: dict[str, str]
    port: int
    namespace: dict[str, Any] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    cleanups: list[list[str]] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.cwd / ".session-env"

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          env.get("PYTHONPATH")]))
        env["HEPFLOW_JOBS_DIR"] = str(self.cwd / ".hepflow-jobs")  # not the user's records
        if self.env_file.exists():
            for line in self.env_file.read_text().splitlines():
                name, _, value = line.partition("=")
                if name.startswith("HEPFLOW_README_"):
                    env[name.removeprefix("HEPFLOW_README_")] = value
        return env

    def text(self, block: Block) -> str:
        """The block as written; for a site, with its stand-ins; port 8000 a free one."""
        text = block.text
        if block.kind == "site":
            for old, new in self.sites.items():
                text = text.replace(old, new)
        return text.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}").replace(
            "--port 8000", f"--port {self.port}")

    def sh(self, block: Block, text: str, timeout: float = 600) -> str:
        """Run a shell block; exported variables are kept for the next blocks."""
        script = self.cwd / ".block.sh"
        names = sorted(set(re.findall(r"export\s+([A-Za-z_][A-Za-z0-9_]*)=", text)))
        keep = "".join(f'printf "HEPFLOW_README_{n}=%s\\n" "${{{n}}}" >> {self.env_file}\n'
                       for n in names)
        script.write_text("set -euo pipefail\n" + text + keep)
        # Files, not pipes: a background job (a server) keeps its output open after bash ends.
        logs = self.cwd / f".block_{block.line}.out", self.cwd / f".block_{block.line}.err"
        with logs[0].open("w") as stdout, logs[1].open("w") as stderr:
            proc = subprocess.Popen(["bash", str(script)], cwd=self.cwd, env=self.environ(),
                                    stdout=stdout, stderr=stderr, start_new_session=True)
        self.groups.append(proc.pid)  # its background jobs (a server) are stopped at the end
        proc.wait(timeout=timeout)
        out, err = logs[0].read_text(), logs[1].read_text()
        assert proc.returncode == 0, \
            f"{block} failed:\n{text}\n--- stdout\n{out}\n--- stderr\n{err}"
        self.outputs[str(block)] = out
        return out

    def python(self, block: Block, text: str) -> None:
        """Run a Python block in the session's namespace, on the shared cluster."""
        script = self.cwd / f".block_{block.line}.py"
        script.write_text(text)
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in self.environ().items() if k not in ("PATH",)})
        cwd = Path.cwd()
        os.chdir(self.cwd)
        try:
            with self.client.as_current():
                # as `__main__`, as a user's session is: functions defined here reach the
                # workers by value (cloudpickle), not by a module name they cannot import
                self.namespace.update(runpy.run_path(str(script), init_globals=self.namespace,
                                                     run_name="__main__"))
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    def run(self, argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=self.cwd, env=self.environ(), capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}\n{done.stderr}"
        return done

    def stop(self) -> None:
        for argv in self.cleanups:
            subprocess.run(argv, cwd=self.cwd, env=self.environ(), capture_output=True,
                           timeout=120, check=False)
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                continue


def _wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready after {seconds} s"
        time.sleep(0.5)


def _correction_file(path: Path) -> None:
    """A correctionlib file of the shape the README's correction block reads."""
    import correctionlib.schemav2 as cs

    def by_pt(value: float) -> Any:
        return cs.Binning(nodetype="binning", input="pt", edges=[0.0, 50.0, 1e6],
                          content=[value, value + 0.01], flow="clamp")

    systematic = cs.Category(nodetype="category", input="scale_factors", content=[
        cs.CategoryItem(key=k, value=by_pt(v))
        for k, v in (("nominal", 0.97), ("systdown", 0.95), ("systup", 0.99))])
    correction = cs.Correction(
        name="NUM_TightID_DEN_TrackerMuons", version=1,
        inputs=[cs.Variable(name="abseta", type="real"), cs.Variable(name="pt", type="real"),
                cs.Variable(name="scale_factors", type="string")],
        output=cs.Variable(name="weight", type="real"),
        data=cs.Binning(nodetype="binning", input="abseta", edges=[0.0, 1.2, 2.4],
                        content=[systematic, systematic], flow="clamp"))
    import gzip

    cset = cs.CorrectionSet(schema_version=2, corrections=[correction])
    with gzip.open(path, "wt") as out:
        out.write(cset.model_dump_json(exclude_unset=True))


@pytest.fixture
def session(tmp_path: Path, client: Any, issuer: Any) -> Iterator[Session]:
    """A fresh folder with the repository's examples and deployments, and the site stand-ins."""
    from hepflow.samples import make_sample
    from hepflow.testing import Sites, xrootd_available
    from hepflow.util.net import free_port

    if not xrootd_available():
        pytest.skip("Debian's xrootd-server is not installed (the README's sites)")
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("examples", "deployments", "benchmarks"):
        (work / name).symlink_to(ROOT / name)
    # The README's first example reads data/*.root, which its later sections make.
    make_sample(work / "data", events=20_000, files=2, seed=1)
    store = tmp_path / "site" / "store"
    make_sample(store, events=10_000, files=2, seed=5, name="dy")
    for i in (1, 2):
        (store / f"dy_00{i - 1}.root").rename(store / f"dy_{i}.root")
    _correction_file(work / "muon_sf.json.gz")
    with Sites.replicas(tmp_path / "site", 2) as sites:
        a, b = (s.address for s in sites)
        stand_ins = {"eos.site-a.example": a, "xrootd.site-a.example": a,
                     "xrootd.site-b.example": b, "https://iam.example.org/": issuer.url,
                     "--port 8000": f"--port {free_port()}"}
        state = Session(work, client, stand_ins, free_port())
        saved = copy.deepcopy(dask.config.config)  # the README's dask-config blocks apply
        try:                                       # to this session only
            yield state
        finally:
            state.stop()
            dask.config.config.clear()
            dask.config.config.update(saved)


def _train_script(session: Session, block: Block, continued: list[Block]) -> None:
    """The training example as a user runs it: `hepflow run train.py` as written, then
    `python train.py` with the blocks that continue it appended (PyTorch, Triton export)."""
    name = block.words[1]
    runs = ((block.text, ["hepflow", "run", name]),
            (block.text + "".join(f"\n{b.text}" for b in continued), [sys.executable, name]))
    for text, argv in runs:
        (session.cwd / name).write_text(text)
        done = session.run(argv)
        out = done.stdout
        for model in ("BDT", "NN"):
            auc = float(re.search(rf"{model} test AUC ([0-9.]+)", out)[1])  # type: ignore[index]
            assert 0.8 < auc < 0.95, (model, auc, out)
        assert "dashboard" in out and "xgboost round" in out and "keras epoch 3/3" in out
        best = re.search(r"best round (\w+)", out)
        assert best and best[1] != "None", out
        assert "lose already computed" not in done.stderr, done.stderr
        assert "bootstrapping phase" not in done.stderr, done.stderr
    assert (session.cwd / "hepflow-output" / "results.json").is_file()
    assert (session.cwd / "plots" / "ttbar-nn" / "roc.png").is_file()


def _site_server(session: Session, block: Block, issuer: Any) -> None:
    """The site's server block, foreground as written: started, asked, stopped."""
    text = session.text(block)
    port = re.search(r"--port (\d+)", text)[1]  # type: ignore[index]
    script = session.cwd / ".site.sh"
    script.write_text("set -euo pipefail\n" + text)
    proc = subprocess.Popen(["bash", str(script)], cwd=session.cwd, env=session.environ(),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    session.groups.append(proc.pid)
    _wait_ready(f"http://127.0.0.1:{port}/readyz")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models", headers={
        "Authorization": f"Bearer {issuer.token()}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert "ttbar-nn" in answer.read().decode()
    os.killpg(proc.pid, signal.SIGTERM)


def test_readmes_run_as_written(session: Session, issuer: Any) -> None:
    """README.md, deployments/README.md and benchmarks/README.md, top to bottom."""
    ran, expected = 0, 0
    for doc in DOCS:
        found = blocks(doc)
        expected += sum(b.lang in CODE and b.kind not in ("skip", "smoke") for b in found)
        for block in found:
            if block.lang not in CODE or block.kind in ("skip", "continues", "smoke"):
                continue  # a continuation runs with its script; smoke blocks in their test
            text = session.text(block)
            if block.kind == "script":
                continued = [b for b in found
                             if b.kind == "continues" and b.words[1:] == block.words[1:]]
                _train_script(session, block, continued)
                ran += len(continued)
            elif block.kind == "ci":
                _ci(block)
            elif block.kind == "parse":
                _parse(block)
            elif block.kind == "slurm":
                if not _slurm(session, block, text):
                    continue
            elif block.kind == "site" and "triton.example.org" in block.text:
                _triton_stand_in(session, block, text)
            elif block.lang == "yaml":
                _yaml(session, block, text)
            elif block.lang == "sh" and block.kind == "site" and "hepflow serve" in text:
                _site_server(session, block, issuer)
            elif block.lang == "sh":
                session.sh(block, text)
            elif block.kind == "needs":
                _needs(session, block)
                session.python(block, text)
            else:
                session.python(block, text)
            ran += 1
    # smoke blocks run in test_benchmark_blocks_run_at_smoke_size; together at least 30
    assert ran == expected and ran + len(smoke_blocks()) >= 30, (ran, expected)
    outputs = "\n".join(session.outputs.values())
    assert '"predictions"' in outputs and '"error"' not in outputs, outputs
    scores = session.namespace["scores"]
    assert len(scores) == 2 and ((scores >= 0) & (scores <= 1)).all()
    assert session.namespace["m"].columns  # asked from the server with $HEPFLOW_SERVE_TOKEN
    # the PyTorch continuation and the Triton export wrote what they say
    for bundle in ("ttbar-pt", "ttbar-onnx"):
        assert (session.cwd / "models" / bundle / "bundle.json").is_file(), bundle
    assert (session.cwd / "model_repository" / "bdt" / "config.pbtxt").is_file()
    assert (session.cwd / "model_repository" / "bdt" / "1" / "model.onnx").is_file()


def _ci(block: Block) -> None:
    """The set-up commands are the ones CI runs: .ci/run runs `make test`, and both
    targets create .venv (the install) before their work; `make -n` shows the plan."""
    ci = (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = []
    for line in block.text.splitlines():
        argv = _argv(line)
        if not argv:
            continue
        assert argv[0] == "make" and len(argv) == 2, f"{block}: {line!r} is not `make TARGET`"
        rule = re.search(rf"^{argv[1]}:(.*)$", makefile, re.M)
        assert rule and "$(STAMP)" in rule[1], f"`make {argv[1]}` does not install first"
        targets.append(argv[1])
    assert targets == ["demo", "test"], targets
    assert re.search(r"^make test$", ci, re.M), ".ci/run does not run the README's `make test`"
    assert re.search(r"^\$\(STAMP\):.*\n(\t.*\n)*\t\$\(PYTHON\) -m venv \$\(VENV\)$", makefile,
                     re.M), "the install rule does not create .venv"
    plan = subprocess.run(["make", "-n", "-B", *targets], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    for step in ("-m venv .venv", "pip install", "hepflow demo", "install-system-deps.sh",
                 "-m pytest"):
        assert step in plan, (step, plan)


def _argv(line: str) -> list[str]:
    """A shell line's words, up to a comment (a `#` inside a word, `FILE#NAME`, is none)."""
    words = shlex.split(line)
    return list(next((words[:i] for i, w in enumerate(words) if w.startswith("#")), words))


class _Parsed(Exception):
    """Raised instead of running a command, once its arguments parsed."""


def _parse(block: Block) -> None:
    """Each command of the block is parsed by its own parser (and runs no further);
    `--help` lines print their help; each `--cluster` config is loaded and checked."""
    import argparse
    import contextlib
    import importlib
    import io

    from hepflow.cli import main as hepflow_main
    from hepflow.cluster import load_cluster_config

    original = argparse.ArgumentParser.parse_args

    def parse_only(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
                   ) -> Any:
        raise _Parsed(original(self, args, namespace))

    parsed = 0
    for line in block.text.replace("\\\n", " ").splitlines():
        argv = _argv(line)
        if not argv:
            continue
        if argv[:2] == ["python", "-m"]:
            main, args = importlib.import_module(argv[2]).main, argv[3:]
        else:
            assert argv[0] == "hepflow", f"{block}: {line!r} is neither hepflow nor python -m"
            main, args = hepflow_main, argv[1:]
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
            patch.setattr(argparse.ArgumentParser, "parse_args", parse_only)
            try:
                main(args)
            except _Parsed:
                pass
            except SystemExit as exit:
                assert exit.code == 0 and "--help" in args, f"{block}: {line!r} does not parse"
            else:
                pytest.fail(f"{block}: {line!r} ran without parsing its arguments")
        if "--cluster" in args:
            where = args[args.index("--cluster") + 1]
            path = ROOT / where.partition("#")[0]
            load_cluster_config(str(ROOT / where) if path.is_file() else where)
        parsed += 1
    assert parsed, f"{block}: no command"


def smoke_blocks() -> list[Block]:
    """The `smoke` blocks of the READMEs: benchmark commands that run at smoke size."""
    return [b for doc in DOCS for b in blocks(doc) if b.kind == "smoke"]


@pytest.mark.coffea  # the baselines: uproot.dask + dask-awkward + hist.dask, coffea's Runner
@pytest.mark.timeout(2400)  # seven benchmark sections, about 15 minutes on 2 cores
def test_benchmark_blocks_run_at_smoke_size(tmp_path: Path) -> None:
    """Each `smoke` block runs as written, in one fresh folder, with HEPFLOW_BENCH_SMOKE=1:
    the benchmarks' defaults shrink to a smoke size, the options written still apply."""
    from hepflow.bench.smoke import SMOKE_ENV
    from hepflow.testing import xrootd_available

    if not xrootd_available():
        pytest.skip("Debian's xrootd-server is not installed (benchmarks.remote's server)")
    found = smoke_blocks()
    assert found, "no smoke blocks"
    env = {**os.environ, SMOKE_ENV: "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    _users_own_files(tmp_path)
    for block in found:
        assert block.lang == "sh", f"{block}: a smoke block is shell"
        script = tmp_path / f".block_{block.line}.sh"
        script.write_text("set -euo pipefail\n" + block.text)
        start = time.monotonic()
        done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=SMOKE_TIMEOUT, check=False)
        took = time.monotonic() - start
        assert done.returncode == 0, \
            f"{block} failed:\n{block.text}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        print(f"{block}: {took:.0f} s")


def _users_own_files(folder: Path) -> None:
    """The scaling block's `my_analysis.py --dataset data.yaml`, the user's own: stood in
    by the repository's dimuon analysis on a generated two-file sample."""
    from hepflow.samples import make_sample

    shutil.copy(ROOT / "examples" / "dimuon.py", folder / "my_analysis.py")
    files = make_sample(folder / "my-data", events=20_000, files=2, seed=3)
    listed = ", ".join(str(Path(f).relative_to(folder)) for f in files)
    (folder / "data.yaml").write_text(f"samples:\n  dy:\n    files: [{listed}]\n")


def _slurm(session: Session, block: Block, text: str) -> bool:
    """Run as written on the machine's Slurm; without Slurm, skipped as
    tests/test_submit_slurm.py is (and a failure where CI requires Slurm)."""
    import warnings

    from hepflow.testing.slurm import slurm_unavailable_reason

    reason = slurm_unavailable_reason()
    if reason is not None:
        if os.environ.get("HEPFLOW_REQUIRE_SLURM") == "1":
            pytest.fail(f"HEPFLOW_REQUIRE_SLURM=1 but {reason}")
        warnings.warn(f"{block} not run: {reason}", pytest.PytestWarning, stacklevel=1)
        return False
    session.cleanups.append(["bash", "deployments/slurm/single-node.sh", "stop"])
    session.sh(block, text)
    for outdir in ("out-slurm", "out-detached"):
        assert (session.cwd / outdir / "results.json").is_file(), outdir
    return True


def _triton_stand_in(session: Session, block: Block, text: str) -> None:
    """Triton is a second `hepflow serve` with gRPC, on the README's models and token;
    the workers get $HEPFLOW_SERVE_TOKEN as those of a cluster started in that shell."""
    from hepflow.util.net import free_port

    http, grpc = free_port(), free_port()
    text = text.replace("triton.example.org:8000", f"127.0.0.1:{http}").replace(
        "triton.example.org:8001", f"127.0.0.1:{grpc}")
    assert "example.org" not in text, text
    env = session.environ()
    server = subprocess.Popen(["hepflow", "serve", "--models", "models", "--config", "serve.yaml",
                               "--port", str(http), "--grpc-port", str(grpc)],
                              cwd=session.cwd, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session.groups.append(server.pid)
    token = env["HEPFLOW_SERVE_TOKEN"]
    try:
        _wait_ready(f"http://127.0.0.1:{http}/readyz")
        session.client.run(lambda: os.environ.__setitem__("HEPFLOW_SERVE_TOKEN", token))
        session.python(block, text)
    finally:
        session.client.run(lambda: os.environ.pop("HEPFLOW_SERVE_TOKEN", None) and None)
        os.killpg(server.pid, signal.SIGTERM)
    means = [session.namespace[name].GetValue() for name in ("mean_http", "mean_grpc")]
    assert 0 < means[0] < 1 and means[1] == pytest.approx(means[0], rel=1e-6), means


def _yaml(session: Session, block: Block, text: str) -> None:
    """A YAML block is a file (loaded as what it is) or Dask config (applied)."""
    import dask.config
    import yaml

    data = yaml.safe_load(text)
    if block.kind == "dask-config":
        dask.config.update(dask.config.config, data)
        return
    path = session.cwd / block.words[block.words.index("file") + 1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    import hepflow

    assert hepflow.Dataset.load(path).samples


def _needs(session: Session, block: Block) -> None:
    """A fragment that continues a user's session: give it what it names."""
    import hepflow

    if "h" in block.words[1:] and "h" not in session.namespace:
        df = hepflow.RDataFrame("Events", str(session.cwd / "data" / "*.root"),
                                client=session.client)
        session.namespace["h"] = df.Histo1D(("met", "MET", 50, 0, 200), "MET_pt")


_UNGUARDED = """\
import hepflow

def double(x):
    return x * 2

class Scale:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x * self.k

df = hepflow.RDataFrame("Events", "data/*.root")
total = df.Define("y", double, ["MET_pt"]).Define("z", Scale(3), ["y"]).Sum("z")
print("total", total.GetValue())
"""


def test_unguarded_script_and_hepflow_run(tmp_path: Path) -> None:
    """No main guard, functions and classes of the script on the workers, a quiet exit.

    `python script.py` re-ran the script in every spawned worker (which then
    started clusters of their own); `hepflow run` sent the file's functions by
    reference to a module the workers cannot import, and they died.
    """
    from hepflow.samples import make_sample

    make_sample(tmp_path / "data", events=2_000, files=2, extra_branches=0)
    (tmp_path / "script.py").write_text(_UNGUARDED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    totals, printed = [], []
    for argv in ([sys.executable, "script.py"], ["hepflow", "run", "script.py", "--workers", "2"]):
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=240, check=False)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        found = re.search(r"total:? .*?([0-9.e+]+)", done.stdout)
        assert found, done.stdout
        totals.append(float(found[1]))
        printed.append(done.stdout)
        for noise in ("bootstrapping phase", "lose already computed", "still alive after",
                      "Traceback"):
            assert noise not in done.stderr, (argv, done.stderr)
    assert "started a local Dask cluster" in printed[0] and "dashboard: http" in printed[0]
    assert totals[0] == pytest.approx(totals[1])


def test_models_path_is_one() -> None:
    """Training saves where serving reads, and the predict example sends every input."""
    text = (ROOT / "README.md").read_text()
    saved = set(re.findall(r'\.save\("models/([\w-]+)"\)', text))
    served = set(re.findall(r"/v1/models/([\w-]+)", text))
    assert "ttbar-nn" in saved and "ttbar-nn" in served
    curl = next(b for b in blocks("README.md") if ":predict" in b.text)
    body = json.loads(re.search(r"-d '(.*?)'", curl.text, re.S)[1])  # type: ignore[index]
    sent = set(body["instances"][0])
    assert sent == {"MET_pt", "HT", "nJet", "Jet_pt", "Jet_eta", "Jet_btagDeepFlavB",
                    "Muon_pt", "Muon_eta"}
    assert "Content-Type: application/gzip" in curl.text
    assert shutil.which("curl"), "the README's serving examples need curl"
