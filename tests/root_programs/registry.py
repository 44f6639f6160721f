"""The programs of the differential suite against ROOT, and what each one is given.

A program is a plain function `program(R, data) -> dict`: `R` is a module-like
adaptor (`adaptor_root.RootAdaptor` over PyROOT, `adaptor_hepflow.HepflowAdaptor`
over hepflow) and `data` the paths of the ROOT-written inputs. The program text
uses RDataFrame's own names (`Define`, `Filter`, `Histo1D`, `GetValue`, ...) on
whatever `R.RDataFrame` returns, and hands back plain Python values (numbers,
lists, strings), so ROOT's answer can be stored as JSON and compared with
hepflow's. This module imports neither ROOT nor hepflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
REALDATA = HERE.parents[2] / "shared" / "realdata"
REFERENCES = HERE / "references.json"


@dataclass(frozen=True)
class Inputs:
    """Paths of the suite's input files, and a folder for what programs write."""

    data: Path
    realdata: Path
    out: Path

    @property
    def nano(self) -> list[str]:
        """Three NanoAOD-like TTree files `Events` (1,000 entries each, ROOT-written)."""
        return [str(self.data / f"nano_{i}.root") for i in (1, 2, 3)]

    @property
    def nano_rntuple(self) -> str:
        """The first NanoAOD-like file, as an RNTuple `Events` written by ROOT."""
        return str(self.data / "nano_1_rntuple.root")

    @property
    def dimuon(self) -> str:
        """1,000 CMS Open Data dimuon events (RNTuple `Events`, ROOT-written, in realdata)."""
        return str(self.realdata / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root")

    @property
    def dimuon_ttree(self) -> str:
        """The same 1,000 dimuon events as a TTree `Events` (df102's layout)."""
        return str(self.data / "dimuon_ttree.root")

    @property
    def missing(self) -> list[str]:
        """df036's three files: tree `events` with (x, y), (y) and (x), 5 entries each."""
        return [str(self.data / f"missing_{i}.root") for i in (1, 2, 3)]

    @property
    def friend(self) -> str:
        """A friend tree `Friends` of the first nano file: entry-aligned extra branches."""
        return str(self.data / "nano_1_friend.root")

    @property
    def atlas(self) -> dict[str, str]:
        """ATLAS-Open-Data-like TTree `mini` files (std::vector branches), by sample."""
        names = {"data": "data_A.4lep.root", "higgs": "mc_345060.ggH125_ZZ4lep.4lep.root",
                 "zz": "mc_363490.llll.4lep.root"}
        return {k: str(self.data / v) for k, v in names.items()}

    def output(self, name: str) -> str:
        """Where a program writes its file `name` (Snapshot, spec JSON)."""
        self.out.mkdir(parents=True, exist_ok=True)
        return str(self.out / name)


@dataclass(frozen=True)
class Program:
    """One program: its name, the ROOT tutorial or roottest check it ports, its body."""

    name: str
    ports: str
    run: Callable[[Any, Inputs], dict[str, Any]]


PROGRAMS: dict[str, Program] = {}


def program(ports: str) -> Callable[[Callable[[Any, Inputs], dict[str, Any]]],
                                    Callable[[Any, Inputs], dict[str, Any]]]:
    """Register a program under its function name; `ports` names what it ports."""
    def register(func: Callable[[Any, Inputs], dict[str, Any]]
                 ) -> Callable[[Any, Inputs], dict[str, Any]]:
        if func.__name__ in PROGRAMS:
            raise ValueError(f"two programs named {func.__name__}")
        PROGRAMS[func.__name__] = Program(func.__name__, ports, func)
        return func
    return register


def all_programs() -> dict[str, Program]:
    """Every program, its modules imported."""
    from tests.root_programs import (  # noqa: F401 - importing registers them
        programs_agc,
        programs_basics,
        programs_distrdf,
        programs_hep,
    )
    return PROGRAMS


def nonzero(hist: dict[str, Any]) -> dict[str, Any]:
    """A fine histogram kept short for the references: its non-empty bins by index."""
    return {key: {str(i): v for i, v in enumerate(values) if v}
            for key, values in hist.items()}
