"""The `hepflow` command and `hepflow.analysis`: bad inputs give one line, never a traceback.

Each command is run in this process through `hepflow.cli.main` with a mistake
a user makes (a missing or broken file, an unwritable output folder, an
analysis file that raises, a scheduler that is not there, a damaged job
record), and must exit non-zero with ``hepflow COMMAND: error: ...`` plus a
one-line hint on stderr. The checks that need no cluster run before one starts.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

import hepflow.analysis as analysis
from hepflow.cli import main
from hepflow.errorreport import INTERNAL_ERROR, USER_ERROR
from hepflow.errors import AnalysisError, OutputError, PlanError

BOOKS_NOTHING = "import hepflow\n"


def _analysis(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_error(capsys: pytest.CaptureFixture[str], command: str, words: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines[0].startswith(f"hepflow {command}: error: "), err
    assert words in lines[0], err
    assert len(lines) == 2 and lines[1].startswith("hint: "), err
    return err


@pytest.mark.parametrize(("argv", "words"), [
    (["run", "{tmp}/missing.py"], "analysis file {tmp}/missing.py does not exist"),
    (["run", "{ok}", "--dataset", "{tmp}/missing.yaml"], "dataset file"),
    (["run", "{ok}", "--outdir", "/proc/hepflow-out"], "output folder /proc/hepflow-out "
                                                       "cannot be written"),
    (["run", "{ok}", "--report", "{tmp}"], "is an existing folder"),
    (["run", "{ok}", "--report", "{tmp}/no/such/run.json"], "of the run report does not "
                                                            "exist"),
    (["run", "{ok}", "--scheduler", "tcp://127.0.0.1:{port}", "--timeout", "1"],
     "cannot reach the Dask scheduler tcp://127.0.0.1:{port}"),
    (["submit", "{ok}", "--cluster", "{deep}"], "nests lists or mappings too deeply"),
    (["submit", "{ok}", "--cluster", "{tmp}/nope.yaml"], "neither a config file nor a backend"),
    (["serve", "--models", "{tmp}/nope", "--config", "{deep}"],
     "nests lists or mappings too deeply"),
    (["serve", "--models", "{tmp}", "--config", "{tmp}/c.txt"], "not valid YAML"),
    (["status", "12"], "is not valid JSON"),
    (["logs", "99"], "no detached job '99'"),
    (["make-sample", "/proc/hepflow-sample", "--events", "10", "--files", "1"], "/proc"),
])
def test_every_command_reports_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                        words: str) -> None:
    monkeypatch.setenv("HEPFLOW_JOBS_DIR", str(tmp_path / "jobs"))
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "slurm-12.json").write_text("{damaged")
    (tmp_path / "c.txt").write_text("a: [unclosed\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("cluster: " + "[" * 50_000)
    ok = _analysis(tmp_path, "ok.py", BOOKS_NOTHING)
    port = _closed_port()
    values = {"tmp": str(tmp_path), "ok": str(ok), "deep": str(deep), "port": str(port)}
    argv = [a.format(**values) for a in argv]
    assert main(argv) == USER_ERROR
    _one_error(capsys, argv[0], words.format(**values))


@pytest.fixture(scope="module")
def scheduler(client: Any) -> str:
    return str(client.scheduler.address)


@pytest.mark.parametrize(("text", "words"), [
    ("import hepflow\nx = dict()\nx['missing']\n", "{file}:3: the analysis file raised KeyError"),
    ("import hepflow\ndef f(:\n", "{file}:2: syntax error"),
    ("import hepflow\nhepflow.RDataFrame('Events', '{file}.root')\n", "{file}.root"),
    (BOOKS_NOTHING, "books no results"),
])
def test_failing_analysis_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                scheduler: str, text: str, words: str) -> None:
    file = tmp_path / "analysis.py"
    file.write_text(text.format(file=file))
    assert main(["run", str(file), "--scheduler", scheduler, "--outdir",
                 str(tmp_path / "out")]) == USER_ERROR
    _one_error(capsys, "run", words.format(file=file))


def test_a_bug_is_named_as_such_and_debug_shows_the_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        scheduler: str) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("unsupported operand")

    monkeypatch.setattr(analysis, "run", broken)
    ok = _analysis(tmp_path, "ok.py", BOOKS_NOTHING)
    argv = ["run", str(ok), "--scheduler", scheduler, "--outdir", str(tmp_path / "out")]
    assert main(argv) == INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "hepflow run: internal error: TypeError: unsupported operand" in err
    assert "Traceback" not in err and "--debug" in err
    with pytest.raises(TypeError):
        main(["--debug", *argv])


# -- hepflow.analysis directly ------------------------------------------------------------


def test_output_folder_is_checked_before_the_analysis_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    file = _analysis(tmp_path, "a.py", f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(OutputError, match="/proc/hepflow-out cannot be written") as info:
        analysis.run(file, outdir="/proc/hepflow-out")
    assert isinstance(info.value, OSError) and info.value.__cause__ is not None
    with pytest.raises(OutputError, match="is an existing folder"):
        analysis.run(file, outdir=tmp_path / "out", report=tmp_path)
    assert not marker.exists()


def test_analysis_errors_keep_the_cause_and_pass_hepflow_errors_through(
        tmp_path: Path) -> None:
    raising = _analysis(tmp_path, "r.py", "import hepflow\n\n1 / 0\n")
    with pytest.raises(AnalysisError, match=r"r\.py:3: the analysis file raised "
                                            "ZeroDivisionError") as info:
        analysis.load(raising)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    own = _analysis(tmp_path, "p.py", "from hepflow.errors import PlanError\n"
                                      "raise PlanError('no such column `Muon_ptt`')\n")
    with pytest.raises(PlanError, match="no such column `Muon_ptt`") as plan:
        analysis.load(own)
    assert not isinstance(plan.value, AnalysisError)
    with pytest.raises(PlanError, match="an analysis file is a path, not int"):
        analysis.load(5)  # type: ignore[arg-type]
    with pytest.raises(PlanError, match=r"cannot read the dataset file .*missing\.yaml"):
        analysis.load(own, dataset=str(tmp_path / "missing.yaml"))
    uses = _analysis(tmp_path, "d.py", "from hepflow.analysis import dataset\n"
                                       f"dataset(default={str(tmp_path / 'gone.yaml')!r})\n")
    with pytest.raises(PlanError, match=r"cannot read the dataset file .*gone\.yaml"):
        analysis.load(uses)
