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
    <!-- example: file PATH -->              a YAML block is that file
    <!-- example: dask-config -->            a YAML block is Dask config
    <!-- example: needs NAME (why) -->       Python needing a value of the session

Site stand-ins are the ones the other tests use: XRootD servers on 127.0.0.1
(`hepflow.testing.Sites`) for remote hosts, `hepflow.serve.testing.LocalIssuer`
for an OIDC issuer, a correctionlib file written here for a CMS one. Port 8000
becomes a free port (other servers may hold 8000 on a shared CI machine).
"""

from __future__ import annotations

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

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "deployments/README.md", "benchmarks/README.md")
CODE = ("python", "sh", "yaml")
KINDS = ("skip", "site", "script", "file", "dask-config", "needs")
#: Blocks not run in CI, each with its reason in the README; kept few on purpose.
MAX_SKIPPED = 17
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
            if block.kind in ("skip", "site", "needs"):
                assert block.why, f"{block}: a {block.kind} marker says why, in parentheses"
            if block.kind == "skip":
                skipped.append(block)
    assert 0 < len(skipped) <= MAX_SKIPPED, [str(b) for b in skipped]


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

    @property
    def env_file(self) -> Path:
        return self.cwd / ".session-env"

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          env.get("PYTHONPATH")]))
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
                self.namespace.update(runpy.run_path(str(script), init_globals=self.namespace))
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
        try:
            yield state
        finally:
            state.stop()


def _train_script(session: Session, block: Block) -> None:
    """The training example as a user runs it: `python train.py`, then `hepflow run`."""
    name = block.words[1]
    (session.cwd / name).write_text(block.text)
    for argv in ([sys.executable, name], ["hepflow", "run", name]):
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
    ran = 0
    for doc in DOCS:
        for block in blocks(doc):
            if block.lang not in CODE or block.kind == "skip":
                continue
            text = session.text(block)
            if block.kind == "script":
                _train_script(session, block)
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
    assert ran >= 15
    outputs = "\n".join(session.outputs.values())
    assert '"predictions"' in outputs and '"error"' not in outputs, outputs
    scores = session.namespace["scores"]
    assert len(scores) == 2 and ((scores >= 0) & (scores <= 1)).all()
    assert session.namespace["m"].columns  # asked from the server with $HEPFLOW_SERVE_TOKEN


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
