"""NanoAOD-like sample generator: vectorised toy physics written to ROOT through uproot.

Why this exists: hepflow's tests and benchmarks need ROOT files with the CMS
NanoAOD layout (``nMuon`` counters with ``Muon_pt[nMuon]``-style arrays, a few
hundred mostly unused branches, ROOT clusters of a known size) whose physics is
simple enough to check by hand -- the Drell-Yan dimuon mass peaks at the Z mass,
ttbar events have b-tagged jets and MET, QCD events have soft non-isolated
muons -- and that can be made in any size, deterministically, without ROOT or
a network. Everything is columnar numpy: there is never a Python loop over
events, so a million events take seconds.

Determinism: file ``i`` of a sample draws from ``numpy.random.default_rng((seed, i))``
and its chunks are drawn in order, so the same arguments give identical arrays
(the ROOT files themselves embed UUIDs and timestamps, so their bytes differ).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np
import uproot

from hepflow.samples.physics import (
    _B1,
    _ELECTRON_FIELDS,
    _F4,
    _I4,
    _JET_FIELDS,
    _MUON_FIELDS,
    _charge,
    _drell_yan,
    _eta,
    _Objects,
    _phi,
    _qcd,
    _ttbar,
)

__all__ = [
    "COMPRESSION_DEFAULT_LEVELS",
    "CORE_BRANCHES",
    "PROCESS_FRACTIONS",
    "PROCESS_LABELS",
    "PROCESSES",
    "Collection",
    "SampleLayout",
    "compression_from_name",
    "generate_chunk",
    "make_sample",
    "sample_layout",
    "split_events",
]


#: Truth label stored in the ``process`` branch.
PROCESS_LABELS: dict[int, str] = {0: "DY Z->mumu", 1: "ttbar", 2: "QCD"}
#: Mixture fractions of the three processes (DY, ttbar, QCD).
PROCESS_FRACTIONS: tuple[float, float, float] = (0.3, 0.2, 0.5)
#: What ``make_sample(process=...)`` (``hepflow make-sample --process``) writes: one
#: process per sample (a signal and its backgrounds as separate samples, as a
#: dataset of real samples has them) or the mixture.
PROCESSES: dict[str, tuple[float, float, float]] = {
    "dy": (1.0, 0.0, 0.0),
    "ttbar": (0.0, 1.0, 0.0),
    "qcd": (0.0, 0.0, 1.0),
    "mix": PROCESS_FRACTIONS,
}
#: Fraction of events with a negative generator weight, per process (NLO-like);
#: the mixture gives about 8 % overall.
_NEGATIVE_WEIGHT_FRACTION = np.array([0.10, 0.12, 0.05])

#: Levels used when ``compression_level`` is None. ZSTD 5 is ROOT's general
#: purpose default (505), LZ4 4 its "analysis" setting (404), ZLIB 1 the old
#: ROOT default (101).
COMPRESSION_DEFAULT_LEVELS: dict[str, int] = {"ZSTD": 5, "LZ4": 4, "ZLIB": 1}
_COMPRESSION_CLASSES: dict[str, Callable[[int], uproot.compression.Compression]] = {
    "ZSTD": uproot.ZSTD,
    "LZ4": uproot.LZ4,
    "ZLIB": uproot.ZLIB,
}


#: Generator-level muon pT resolution: sigma(pT)/pT = 1 % + 0.01 % * pT (pT in GeV), the
#: growth with pT a muon system's sagitta measurement has (see ``_gen_muon_pt``).
MUON_RESOLUTION = (0.01, 1e-4)

#: The physics branches every sample has, in tree order (34 branches).
CORE_BRANCHES: tuple[str, ...] = (
    "run",
    "luminosityBlock",
    "event",
    "nMuon",
    *(f"Muon_{name}" for name, _ in _MUON_FIELDS),
    "nElectron",
    *(f"Electron_{name}" for name, _ in _ELECTRON_FIELDS),
    "nJet",
    *(f"Jet_{name}" for name, _ in _JET_FIELDS),
    "MET_pt",
    "MET_phi",
    "genWeight",
    "PV_npvs",
    "HLT_IsoMu24",
    "process",
    "nGenMuon",
    "GenMuon_pt",
)

# Realistic NanoAOD names for the unused padding branches; once exhausted,
# numbered ``Aux_*`` names follow. None of them collides with a core branch or
# with the padding collections below.
_FLOAT_NAMES: tuple[str, ...] = (
    "fixedGridRhoFastjetAll",
    "fixedGridRhoFastjetCentral",
    "fixedGridRhoFastjetCentralCalo",
    "fixedGridRhoFastjetCentralChargedPileUp",
    "fixedGridRhoFastjetCentralNeutral",
    "PV_ndof",
    "PV_x",
    "PV_y",
    "PV_z",
    "PV_chi2",
    "PV_score",
    "MET_sumEt",
    "MET_significance",
    "MET_covXX",
    "MET_covXY",
    "MET_covYY",
    "MET_MetUnclustEnUpDeltaX",
    "MET_MetUnclustEnUpDeltaY",
    "PuppiMET_pt",
    "PuppiMET_phi",
    "PuppiMET_sumEt",
    "RawMET_pt",
    "RawMET_phi",
    "RawMET_sumEt",
    "RawPuppiMET_pt",
    "RawPuppiMET_phi",
    "RawPuppiMET_sumEt",
    "CaloMET_pt",
    "CaloMET_phi",
    "CaloMET_sumEt",
    "ChsMET_pt",
    "ChsMET_phi",
    "ChsMET_sumEt",
    "TkMET_pt",
    "TkMET_phi",
    "TkMET_sumEt",
    "DeepMETResolutionTune_pt",
    "DeepMETResolutionTune_phi",
    "DeepMETResponseTune_pt",
    "DeepMETResponseTune_phi",
    "GenMET_pt",
    "GenMET_phi",
    "Pileup_nTrueInt",
    "Pileup_pudensity",
    "Pileup_gpudensity",
    "LHEWeight_originalXWGTUP",
    "LHE_HT",
    "LHE_HTIncoming",
    "LHE_Vpt",
    "LHE_AlphaS",
    "Generator_weight",
    "Generator_x1",
    "Generator_x2",
    "Generator_xpdf1",
    "Generator_xpdf2",
    "Generator_scalePDF",
    "Generator_binvar",
    "GenVtx_x",
    "GenVtx_y",
    "GenVtx_z",
    "GenVtx_t0",
    "btagWeight_CSVV2",
    "btagWeight_DeepCSVB",
    "L1PreFiringWeight_Nom",
    "L1PreFiringWeight_Up",
    "L1PreFiringWeight_Dn",
    "L1PreFiringWeight_ECAL_Nom",
    "L1PreFiringWeight_Muon_Nom",
    "BeamSpot_z",
    "BeamSpot_sigmaZ",
)
_INT_NAMES: tuple[str, ...] = (
    "PV_npvsGood",
    "Pileup_nPU",
    "Pileup_sumEOOT",
    "Pileup_sumLOOT",
    "LHE_Njets",
    "LHE_Nb",
    "LHE_Nc",
    "LHE_Nuds",
    "LHE_Nglu",
    "Generator_id1",
    "Generator_id2",
    "genTtbarId",
    "bunchCrossing",
)
_BOOL_NAMES: tuple[str, ...] = (
    "Flag_goodVertices",
    "Flag_globalSuperTightHalo2016Filter",
    "Flag_HBHENoiseFilter",
    "Flag_HBHENoiseIsoFilter",
    "Flag_EcalDeadCellTriggerPrimitiveFilter",
    "Flag_BadPFMuonFilter",
    "Flag_BadPFMuonDzFilter",
    "Flag_eeBadScFilter",
    "Flag_ecalBadCalibFilter",
    "Flag_hfNoisyHitsFilter",
    "HLT_IsoMu27",
    "HLT_Mu50",
    "HLT_Mu17_TrkIsoVVL_Mu8_TrkIsoVVL_DZ_Mass3p8",
    "HLT_Ele32_WPTight_Gsf",
    "HLT_Ele35_WPTight_Gsf",
    "HLT_PFMET120_PFMHT120_IDTight",
    "HLT_PFHT1050",
    "HLT_PFJet500",
    "HLT_AK8PFJet400_TrimMass30",
    "L1_SingleMu22",
    "L1_SingleEG36er2p5",
    "L1_DoubleMu_15_7",
)


@dataclass(frozen=True)
class Collection:
    """A jagged padding collection: counter ``n<name>`` plus ``<name>_<field>`` arrays.

    Field kinds pick the toy distribution: ``pt``, ``eta``, ``phi``, ``mass``,
    ``charge``, ``float``, ``int`` and ``bool``.
    """

    name: str
    fields: tuple[tuple[str, str], ...]
    mean_count: float

    @property
    def n_branches(self) -> int:
        """Branches this collection adds to the tree: its fields plus the counter."""
        return len(self.fields) + 1

    @property
    def branch_names(self) -> list[str]:
        """Counter first, then the fields, as uproot writes them."""
        return [f"n{self.name}", *(f"{self.name}_{f}" for f, _ in self.fields)]


_PADDING_COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "Tau",
        (
            ("pt", "pt"),
            ("eta", "eta"),
            ("phi", "phi"),
            ("mass", "mass"),
            ("charge", "charge"),
            ("decayMode", "int"),
            ("idDeepTau2017v2p1VSjet", "int"),
        ),
        0.8,
    ),
    Collection(
        "Photon",
        (
            ("pt", "pt"),
            ("eta", "eta"),
            ("phi", "phi"),
            ("mass", "mass"),
            ("cutBased", "int"),
            ("pfRelIso03_all", "float"),
            ("electronVeto", "bool"),
        ),
        1.2,
    ),
    Collection(
        "FatJet",
        (
            ("pt", "pt"),
            ("eta", "eta"),
            ("phi", "phi"),
            ("mass", "mass"),
            ("msoftdrop", "mass"),
            ("btagDDBvLV2", "float"),
            ("jetId", "int"),
        ),
        0.6,
    ),
    Collection(
        "SV",
        (
            ("pt", "pt"),
            ("eta", "eta"),
            ("phi", "phi"),
            ("mass", "mass"),
            ("chi2", "float"),
            ("ndof", "float"),
            ("dlen", "float"),
            ("dlenSig", "float"),
        ),
        1.5,
    ),
)
_KIND_DTYPES: dict[str, np.dtype] = {
    "pt": _F4,
    "eta": _F4,
    "phi": _F4,
    "mass": _F4,
    "float": _F4,
    "charge": _I4,
    "int": _I4,
    "bool": _B1,
}


@dataclass(frozen=True)
class SampleLayout:
    """Which branches a sample has beyond the physics core.

    Kept separate from the generation so tests, benchmarks and the CLI can say
    how many branches a file will have without writing one.
    """

    extra_float: tuple[str, ...] = ()
    extra_int: tuple[str, ...] = ()
    extra_bool: tuple[str, ...] = ()
    collections: tuple[Collection, ...] = field(default_factory=tuple)

    @property
    def branch_names(self) -> list[str]:
        """Every TBranch name, core first."""
        names = list(CORE_BRANCHES)
        names += self.extra_float + self.extra_int + self.extra_bool
        for coll in self.collections:
            names += coll.branch_names
        return names

    @property
    def n_branches(self) -> int:
        """Total TBranch count of a file with this layout."""
        return (
            len(CORE_BRANCHES)
            + len(self.extra_float)
            + len(self.extra_int)
            + len(self.extra_bool)
            + sum(c.n_branches for c in self.collections)
        )


def _names(pool: Sequence[str], fallback: str, count: int) -> tuple[str, ...]:
    """``count`` names: the realistic pool first, then ``fallback.format(i)``."""
    out = list(pool[:count])
    out += [fallback.format(i) for i in range(count - len(out))]
    return tuple(out)


def sample_layout(extra_branches: int = 100, branches: int | None = None) -> SampleLayout:
    """Plan the padding branches.

    Without ``branches``: ``extra_branches`` flat float32 branches (the classic
    "many unused branches" that column pruning must skip). With ``branches``
    (a total target): that many branches exactly, padded with a mix of float32,
    int32 and bool flat branches plus, for large enough targets, extra jagged
    collections with their own counters, so readers also meet unused jagged data.
    """
    if branches is None:
        if extra_branches < 0:
            raise ValueError(f"extra_branches must be >= 0, got {extra_branches}")
        return SampleLayout(extra_float=_names(_FLOAT_NAMES, "Aux_var{:03d}", extra_branches))
    n_core = len(CORE_BRANCHES)
    if branches < n_core:
        raise ValueError(
            f"branches={branches} is below the {n_core} physics branches every sample has"
        )
    extra = branches - n_core
    collections: list[Collection] = []
    budget = extra // 4
    for coll in _PADDING_COLLECTIONS:
        if coll.n_branches <= budget:
            collections.append(coll)
            budget -= coll.n_branches
    rest = extra - sum(c.n_branches for c in collections)
    n_int = rest // 8
    n_bool = rest // 8
    n_float = rest - n_int - n_bool
    return SampleLayout(
        extra_float=_names(_FLOAT_NAMES, "Aux_var{:03d}", n_float),
        extra_int=_names(_INT_NAMES, "Aux_int{:03d}", n_int),
        extra_bool=_names(_BOOL_NAMES, "Aux_flag{:03d}", n_bool),
        collections=tuple(collections),
    )


def split_events(events: int, files: int) -> list[int]:
    """Events per file: an even split, the remainder going to the first files."""
    if files < 1:
        raise ValueError(f"files must be >= 1, got {files}")
    if events < 0:
        raise ValueError(f"events must be >= 0, got {events}")
    base, rem = divmod(events, files)
    return [base + (1 if i < rem else 0) for i in range(files)]


def compression_from_name(name: str, level: int | None = None) -> uproot.compression.Compression:
    """Map "ZSTD"/"LZ4"/"ZLIB" (any case) to an uproot compression object."""
    key = name.upper()
    if key not in _COMPRESSION_CLASSES:
        choices = ", ".join(sorted(_COMPRESSION_CLASSES))
        raise ValueError(f"unknown compression {name!r}; choose one of {choices}")
    lvl = COMPRESSION_DEFAULT_LEVELS[key] if level is None else level
    return _COMPRESSION_CLASSES[key](lvl)


# --------------------------------------------------------------------------- physics


def _truncate_mantissa(a: np.ndarray, bits: int = 10) -> None:
    """Keep ``bits`` mantissa bits of float32 in place, as NanoAOD does for most floats.

    This makes the padding compress like real NanoAOD (and quickly) rather than
    like incompressible noise.
    """
    view = a.view(np.uint32)
    view &= np.uint32((0xFFFFFFFF << (23 - bits)) & 0xFFFFFFFF)


def _padding_collection(rng: np.random.Generator, coll: Collection, n: int) -> ak.Array:
    counts = rng.poisson(coll.mean_count, n)
    total = int(counts.sum())
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    pt = (10.0 + rng.exponential(20.0, total)).astype(np.float32)
    columns: list[ak.contents.Content] = []
    for _, kind in coll.fields:
        if kind == "pt":
            values: np.ndarray = pt
        elif kind == "eta":
            values = _eta(rng, total, 1.5, 2.5)
        elif kind == "phi":
            values = _phi(rng, total)
        elif kind == "mass":
            values = pt * rng.uniform(0.0, 0.3, total)
        elif kind == "charge":
            values = _charge(rng, total)
        elif kind == "int":
            values = rng.integers(0, 16, total, dtype=np.int32)
        elif kind == "bool":
            values = rng.random(total) < 0.7
        else:
            values = rng.exponential(1.0, total)
        columns.append(ak.contents.NumpyArray(values.astype(_KIND_DTYPES[kind], copy=False)))
    content = ak.contents.RecordArray(columns, [f for f, _ in coll.fields], length=total)
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))


def generate_chunk(
    rng: np.random.Generator,
    n: int,
    first_event: int,
    layout: SampleLayout,
    fractions: tuple[float, float, float] = PROCESS_FRACTIONS,
    truth_rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray | ak.Array]:
    """Generate ``n`` events as the dict that uproot's ``WritableTree.extend`` takes.

    ``first_event`` is the 0-based index of the first event within the whole
    sample, so ``event`` numbers are unique across the files of a sample.
    Jagged collections are awkward record arrays under the collection name
    (``"Muon"``), which uproot writes as ``nMuon`` + ``Muon_<field>[nMuon]``.
    ``fractions`` are the shares of DY, ttbar and QCD (see ``PROCESSES``).
    ``truth_rng`` draws the generator-level truth (``GenMuon_pt``); by default a
    child of ``rng``, which leaves ``rng``'s own draws untouched.
    """
    process = rng.choice(3, n, p=fractions).astype(np.int32)
    muons = _Objects(_MUON_FIELDS)
    electrons = _Objects(_ELECTRON_FIELDS)
    jets = _Objects(_JET_FIELDS)
    met = np.zeros(n)
    for label, fill in enumerate((_drell_yan, _ttbar, _qcd)):
        fill(rng, np.flatnonzero(process == label), muons, electrons, jets, met)

    muon = muons.build(n)
    # Single-muon trigger: an isolated central muon above 24 GeV, 93 % efficient.
    flat = muon.layout.content
    owner = np.repeat(np.arange(n), np.diff(np.asarray(muon.layout.offsets)))
    good = (
        (np.asarray(flat.content("pt").data) > 24.0)
        & (np.abs(np.asarray(flat.content("eta").data)) < 2.4)
        & (np.asarray(flat.content("pfRelIso04_all").data) < 0.15)
    )
    hlt = (np.bincount(owner[good], minlength=n) > 0) & (rng.random(n) < 0.93)

    sign = np.where(rng.random(n) < _NEGATIVE_WEIGHT_FRACTION[process], -1.0, 1.0)
    event = np.arange(first_event + 1, first_event + n + 1, dtype=np.uint64)
    data: dict[str, np.ndarray | ak.Array] = {
        "run": np.ones(n, np.uint32),
        "luminosityBlock": ((event - np.uint64(1)) // np.uint64(1000) + np.uint64(1)).astype(
            np.uint32
        ),
        "event": event,
        "Muon": muon,
        "Electron": electrons.build(n),
        "Jet": jets.build(n),
        "MET_pt": np.abs(met * (1.0 + 0.1 * rng.standard_normal(n))).astype(np.float32),
        "MET_phi": _phi(rng, n).astype(np.float32),
        "genWeight": (sign * rng.lognormal(0.0, 0.1, n)).astype(np.float32),
        "PV_npvs": (1 + rng.poisson(30.0, n)).astype(np.int32),
        "HLT_IsoMu24": hlt,
        "process": process,
        "GenMuon": _gen_muon(rng.spawn(1)[0] if truth_rng is None else truth_rng, muon),
    }

    # Padding. One draw per dtype, rows contiguous so each branch is a plain view.
    k = len(layout.extra_float)
    if k:
        block = rng.standard_normal((k, n), dtype=np.float32)
        i = np.arange(k, dtype=np.float32)[:, None]
        block *= 1.0 + (i % 7)
        block += 10.0 * (i % 5)
        _truncate_mantissa(block)
        data.update(zip(layout.extra_float, block, strict=True))
    k = len(layout.extra_int)
    if k:
        ints = rng.integers(0, 64, (k, n), dtype=np.int32)
        data.update(zip(layout.extra_int, ints, strict=True))
    k = len(layout.extra_bool)
    if k:
        bools = rng.random((k, n), dtype=np.float32) < 0.9
        data.update(zip(layout.extra_bool, bools, strict=True))
    for coll in layout.collections:
        data[coll.name] = _padding_collection(rng, coll, n)
    return data


def _gen_muon_pt(rng: np.random.Generator, reco_pt: np.ndarray) -> np.ndarray:
    """The generator-level pT behind each reconstructed muon pT.

    The detector model is ``Muon_pt = GenMuon_pt * (1 + sigma * g)`` with ``g`` a
    standard Gaussian (cut at 3 sigma, so no muon flips its sign of curvature) and
    ``sigma = MUON_RESOLUTION[0] + MUON_RESOLUTION[1] * pT`` evaluated at the
    reconstructed pT. The reconstructed pT already exist (their values must not
    change for a seed), so the truth is drawn behind them: ``gen = reco / (1 + sigma g)``.
    """
    reco = reco_pt.astype(np.float64)
    sigma = np.minimum(MUON_RESOLUTION[0] + MUON_RESOLUTION[1] * reco, 0.25)
    g = np.clip(rng.standard_normal(reco.size), -3.0, 3.0)
    return (reco / (1.0 + sigma * g)).astype(np.float32)


def _gen_muon(rng: np.random.Generator, muon: ak.Array) -> ak.Array:
    """``GenMuon`` records (``pt``) matched one to one to the reconstructed muons."""
    offsets = muon.layout.offsets
    reco = np.asarray(muon.layout.content.content("pt").data)
    content = ak.contents.RecordArray(
        [ak.contents.NumpyArray(_gen_muon_pt(rng, reco))], ["pt"], length=reco.size
    )
    return ak.Array(ak.contents.ListOffsetArray(offsets, content))


def _branch_types(layout: SampleLayout) -> dict[str, object]:
    """uproot ``mktree`` type specification, taken from a zero-event chunk.

    Deriving it from the generator itself keeps types and data from drifting apart.
    """
    empty = generate_chunk(np.random.default_rng(0), 0, 0, layout)
    return {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in empty.items()}


def _write_file(
    path: pathlib.Path,
    *,
    n_events: int,
    first_event: int,
    rng: np.random.Generator,
    layout: SampleLayout,
    compression: uproot.compression.Compression,
    basket_entries: int,
    fractions: tuple[float, float, float],
) -> None:
    """Write one file to a temporary name in the same directory, then rename it.

    A reader (or a crashed run) never sees a half-written file under the final
    name, and the rename is atomic because it stays on one filesystem.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # the truth has its own stream, a child of the file's generator: adding it left
    # every other branch of a seed exactly as it was
    truth_rng = rng.spawn(1)[0]
    n_chunks = -(-n_events // basket_entries)
    try:
        with uproot.recreate(tmp, compression=compression) as f:
            tree = f.mktree(
                "Events",
                _branch_types(layout),
                title="Events",
                initial_basket_capacity=n_chunks + 2,
            )
            for start in range(0, n_events, basket_entries):
                stop = min(start + basket_entries, n_events)
                tree.extend(
                    generate_chunk(rng, stop - start, first_event + start, layout, fractions,
                                   truth_rng)
                )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_sample(
    outdir: str | os.PathLike[str],
    *,
    events: int = 100_000,
    files: int = 1,
    seed: int = 1,
    compression: str = "ZSTD",
    compression_level: int | None = None,
    basket_entries: int = 25_000,
    extra_branches: int = 100,
    branches: int | None = None,
    name: str = "sample",
    process: str = "mix",
) -> list[pathlib.Path]:
    """Write a NanoAOD-like sample as ``{name}_{i:03d}.root`` files in ``outdir``.

    Events are split evenly over ``files`` (remainder to the first files); each
    file has one TTree ``Events`` whose baskets -- and hence ROOT clusters --
    hold ``basket_entries`` events. ``branches`` (a total) overrides
    ``extra_branches``; see :func:`sample_layout`. ``process`` is one of
    ``PROCESSES``: ``"dy"``, ``"ttbar"`` or ``"qcd"`` alone, or their ``"mix"``.
    Returns the file paths in order.
    """
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {', '.join(PROCESSES)}, got {process!r}")
    if basket_entries < 1:
        raise ValueError(f"basket_entries must be >= 1, got {basket_entries}")
    comp = compression_from_name(compression, compression_level)
    layout = sample_layout(extra_branches, branches)
    counts = split_events(events, files)
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[pathlib.Path] = []
    first = 0
    for i, n in enumerate(counts):
        path = out / f"{name}_{i:03d}.root"
        _write_file(
            path,
            n_events=n,
            first_event=first,
            rng=np.random.default_rng((seed, i)),
            layout=layout,
            compression=comp,
            basket_entries=basket_entries,
            fractions=PROCESSES[process],
        )
        paths.append(path)
        first += n
    return paths
