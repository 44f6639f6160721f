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

__all__ = [
    "COMPRESSION_DEFAULT_LEVELS",
    "CORE_BRANCHES",
    "ELECTRON_MASS",
    "MUON_MASS",
    "PROCESS_FRACTIONS",
    "PROCESS_LABELS",
    "Z_MASS",
    "Z_WIDTH",
    "Collection",
    "SampleLayout",
    "compression_from_name",
    "generate_chunk",
    "make_sample",
    "sample_layout",
    "split_events",
]

MUON_MASS = 0.1056583745
ELECTRON_MASS = 0.000510998950
Z_MASS = 91.1876
Z_WIDTH = 2.4952

#: Truth label stored in the ``process`` branch.
PROCESS_LABELS: dict[int, str] = {0: "DY Z->mumu", 1: "ttbar", 2: "QCD"}
#: Mixture fractions of the three processes (DY, ttbar, QCD).
PROCESS_FRACTIONS: tuple[float, float, float] = (0.3, 0.2, 0.5)
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

_F4 = np.dtype(np.float32)
_I4 = np.dtype(np.int32)
_B1 = np.dtype(np.bool_)

_MUON_FIELDS: tuple[tuple[str, np.dtype], ...] = (
    ("pt", _F4),
    ("eta", _F4),
    ("phi", _F4),
    ("mass", _F4),
    ("charge", _I4),
    ("pfRelIso04_all", _F4),
    ("tightId", _B1),
)
_ELECTRON_FIELDS: tuple[tuple[str, np.dtype], ...] = (
    ("pt", _F4),
    ("eta", _F4),
    ("phi", _F4),
    ("mass", _F4),
    ("charge", _I4),
    ("pfRelIso03_all", _F4),
    ("cutBased", _I4),
)
_JET_FIELDS: tuple[tuple[str, np.dtype], ...] = (
    ("pt", _F4),
    ("eta", _F4),
    ("phi", _F4),
    ("mass", _F4),
    ("btagDeepFlavB", _F4),
    ("jetId", _I4),
)

#: The physics branches every sample has, in tree order (32 branches).
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


class _Objects:
    """Particles of one collection gathered from several sources, then merged per event.

    Each source appends flat arrays plus the event index of every particle; the
    merge is one lexsort by (event, -pt), so particles end up grouped by event
    and pt-ordered as in NanoAOD, without any per-event loop.
    """

    def __init__(self, fields: tuple[tuple[str, np.dtype], ...]) -> None:
        self._fields = fields
        self._parts: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []

    def add(self, event_index: np.ndarray, **values: np.ndarray) -> None:
        self._parts.append((event_index, values))

    def build(self, n_events: int) -> ak.Array:
        if self._parts:
            idx = np.concatenate([p[0] for p in self._parts])
            cols = {
                name: np.concatenate([p[1][name] for p in self._parts]).astype(dtype, copy=False)
                for name, dtype in self._fields
            }
        else:
            idx = np.zeros(0, np.int64)
            cols = {name: np.zeros(0, dtype) for name, dtype in self._fields}
        order = np.lexsort((-cols["pt"], idx))
        counts = np.bincount(idx, minlength=n_events)
        offsets = np.zeros(n_events + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        content = ak.contents.RecordArray(
            [ak.contents.NumpyArray(np.ascontiguousarray(cols[n][order])) for n, _ in self._fields],
            [n for n, _ in self._fields],
            length=int(offsets[-1]),
        )
        return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))


def _multiplicity(event_index: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand per-event counts: (event index per object, position within its event)."""
    counts = counts.astype(np.int64, copy=False)
    owner = np.repeat(event_index, counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(owner.size) - np.repeat(starts, counts)
    return owner, position


def _phi(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-np.pi, np.pi, n)


def _eta(rng: np.random.Generator, n: int, width: float, limit: float) -> np.ndarray:
    return np.clip(rng.normal(0.0, width, n), -limit, limit)


def _charge(rng: np.random.Generator, n: int) -> np.ndarray:
    return (2 * rng.integers(0, 2, n) - 1).astype(np.int32)


def _breit_wigner_mass(
    rng: np.random.Generator, n: int, lo: float = 60.0, hi: float = 120.0
) -> np.ndarray:
    """Relativistic Breit-Wigner masses in [lo, hi], by inverting its CDF in s = m^2.

    In s the relativistic BW is a Cauchy distribution, so s = M^2 + M Gamma tan(u)
    with u uniform between the angles of the window edges.
    """
    mg = Z_MASS * Z_WIDTH
    a = np.arctan((lo * lo - Z_MASS**2) / mg)
    b = np.arctan((hi * hi - Z_MASS**2) / mg)
    s = Z_MASS**2 + mg * np.tan(rng.uniform(a, b, n))
    return np.sqrt(s)


def _two_body_decay(
    rng: np.random.Generator,
    mass: np.ndarray,
    pt: np.ndarray,
    rapidity: np.ndarray,
    phi: np.ndarray,
    daughter_mass: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Decay parents isotropically in their rest frame and boost to the lab.

    Returns two (3, n) lab momenta (px, py, pz). The boost uses
    (gamma - 1) / beta^2 = gamma^2 / (gamma + 1), which has no 0/0 at rest.
    """
    n = mass.size
    mt = np.sqrt(mass * mass + pt * pt)
    energy = mt * np.cosh(rapidity)
    p = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rapidity)])
    beta = p / energy
    gamma = energy / mass

    e_star = 0.5 * mass
    p_star = np.sqrt(np.maximum(e_star * e_star - daughter_mass**2, 0.0))
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    phi_star = _phi(rng, n)
    d = p_star * np.stack([sin_t * np.cos(phi_star), sin_t * np.sin(phi_star), cos_t])

    bd = np.einsum("ij,ij->j", beta, d)
    g2 = gamma * gamma / (gamma + 1.0)
    p1 = d + (g2 * bd + gamma * e_star) * beta
    p2 = -d + (-g2 * bd + gamma * e_star) * beta
    return p1, p2


def _pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(p[0], p[1])
    return pt, np.arcsinh(p[2] / pt), np.arctan2(p[1], p[0])


def _add_jets(
    rng: np.random.Generator,
    jets: _Objects,
    owner: np.ndarray,
    pt: np.ndarray,
    btag: np.ndarray,
    eta_width: float = 1.8,
) -> None:
    n = owner.size
    jets.add(
        owner,
        pt=pt,
        eta=_eta(rng, n, eta_width, 4.7),
        phi=_phi(rng, n),
        mass=pt * rng.uniform(0.05, 0.2, n),
        btagDeepFlavB=btag,
        jetId=rng.choice(np.array([0, 2, 6], np.int32), n, p=[0.02, 0.08, 0.90]),
    )


def _light_btag(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.beta(0.5, 8.0, n)


def _add_soft_muons(
    rng: np.random.Generator, muons: _Objects, event_index: np.ndarray, counts: np.ndarray
) -> None:
    """Non-isolated muons from heavy-flavour decays in jets (random charges)."""
    owner, _ = _multiplicity(event_index, counts)
    n = owner.size
    muons.add(
        owner,
        pt=3.0 + rng.exponential(5.0, n),
        eta=_eta(rng, n, 1.3, 2.4),
        phi=_phi(rng, n),
        mass=np.full(n, MUON_MASS),
        charge=_charge(rng, n),
        pfRelIso04_all=0.15 + rng.exponential(0.6, n),
        tightId=rng.random(n) < 0.3,
    )


def _add_fake_electrons(
    rng: np.random.Generator, electrons: _Objects, event_index: np.ndarray, mean: float
) -> None:
    owner, _ = _multiplicity(event_index, rng.poisson(mean, event_index.size))
    n = owner.size
    electrons.add(
        owner,
        pt=5.0 + rng.exponential(8.0, n),
        eta=_eta(rng, n, 1.3, 2.5),
        phi=_phi(rng, n),
        mass=np.full(n, ELECTRON_MASS),
        charge=_charge(rng, n),
        pfRelIso03_all=0.1 + rng.exponential(0.5, n),
        cutBased=rng.integers(0, 3, n, dtype=np.int32),
    )


def _drell_yan(
    rng: np.random.Generator,
    ev: np.ndarray,
    muons: _Objects,
    electrons: _Objects,
    jets: _Objects,
    met: np.ndarray,
) -> None:
    """Z -> mumu: exactly two opposite-charge muons reconstructing a BW peak."""
    n = ev.size
    mass = _breit_wigner_mass(rng, n)
    zpt = rng.gamma(1.4, 7.0, n)
    y = rng.normal(0.0, 1.2, n)
    p1, p2 = _two_body_decay(rng, mass, zpt, y, _phi(rng, n), MUON_MASS)
    q = _charge(rng, n)
    for p, charge in ((p1, q), (p2, -q)):
        pt, eta, phi = _pt_eta_phi(p)
        muons.add(
            ev,
            pt=pt * (1.0 + 0.01 * rng.standard_normal(n)),
            eta=eta,
            phi=phi,
            mass=np.full(n, MUON_MASS),
            charge=charge,
            pfRelIso04_all=rng.exponential(0.03, n),
            tightId=rng.random(n) < 0.96,
        )
    owner, _ = _multiplicity(ev, rng.poisson(0.8, n))
    _add_jets(
        rng, jets, owner, 20.0 + rng.exponential(20.0, owner.size), _light_btag(rng, owner.size)
    )
    _add_fake_electrons(rng, electrons, ev, 0.03)
    met[ev] = rng.gamma(2.0, 6.0, n)


def _ttbar(
    rng: np.random.Generator,
    ev: np.ndarray,
    muons: _Objects,
    electrons: _Objects,
    jets: _Objects,
    met: np.ndarray,
) -> None:
    """Semileptonic ttbar: 4+ jets (two b-tagged), one isolated lepton, real MET."""
    n = ev.size
    owner, position = _multiplicity(ev, 4 + np.minimum(rng.poisson(1.2, n), 6))
    nj = owner.size
    is_b = position < 2
    btag = np.where(is_b, rng.beta(6.0, 1.2, nj), _light_btag(rng, nj))
    _add_jets(rng, jets, owner, 30.0 + rng.gamma(2.0, 30.0, nj), btag, eta_width=1.3)

    is_mu = rng.random(n) < 0.5
    lep_pt = 26.0 + rng.gamma(2.0, 20.0, n)
    lep_eta = _eta(rng, n, 1.0, 2.4)
    lep_phi = _phi(rng, n)
    lep_q = _charge(rng, n)
    lep_iso = rng.exponential(0.03, n)
    m = is_mu
    muons.add(
        ev[m],
        pt=lep_pt[m],
        eta=lep_eta[m],
        phi=lep_phi[m],
        mass=np.full(int(m.sum()), MUON_MASS),
        charge=lep_q[m],
        pfRelIso04_all=lep_iso[m],
        tightId=rng.random(int(m.sum())) < 0.97,
    )
    e = ~is_mu
    ne = int(e.sum())
    electrons.add(
        ev[e],
        pt=lep_pt[e],
        eta=lep_eta[e],
        phi=lep_phi[e],
        mass=np.full(ne, ELECTRON_MASS),
        charge=lep_q[e],
        pfRelIso03_all=lep_iso[e],
        cutBased=rng.choice(np.array([2, 3, 4], np.int32), ne, p=[0.1, 0.3, 0.6]),
    )
    _add_soft_muons(rng, muons, ev, (rng.random(n) < 0.15).astype(np.int64))
    met[ev] = 10.0 + rng.gamma(2.0, 25.0, n)


def _qcd(
    rng: np.random.Generator,
    ev: np.ndarray,
    muons: _Objects,
    electrons: _Objects,
    jets: _Objects,
    met: np.ndarray,
) -> None:
    """Multijet: power-law jet pt, rare b-like jets, 0-3 soft non-isolated muons."""
    n = ev.size
    owner, _ = _multiplicity(ev, 2 + rng.poisson(1.5, n))
    nj = owner.size
    pt = 20.0 * (1.0 + rng.pareto(3.0, nj))
    btag = np.where(rng.random(nj) < 0.04, rng.beta(3.0, 2.0, nj), _light_btag(rng, nj))
    _add_jets(rng, jets, owner, pt, btag)
    _add_soft_muons(rng, muons, ev, rng.choice(4, n, p=[0.55, 0.30, 0.10, 0.05]))
    _add_fake_electrons(rng, electrons, ev, 0.1)
    met[ev] = rng.gamma(2.0, 8.0, n)


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
    rng: np.random.Generator, n: int, first_event: int, layout: SampleLayout
) -> dict[str, np.ndarray | ak.Array]:
    """Generate ``n`` events as the dict that uproot's ``WritableTree.extend`` takes.

    ``first_event`` is the 0-based index of the first event within the whole
    sample, so ``event`` numbers are unique across the files of a sample.
    Jagged collections are awkward record arrays under the collection name
    (``"Muon"``), which uproot writes as ``nMuon`` + ``Muon_<field>[nMuon]``.
    """
    process = rng.choice(3, n, p=PROCESS_FRACTIONS).astype(np.int32)
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
) -> None:
    """Write one file to a temporary name in the same directory, then rename it.

    A reader (or a crashed run) never sees a half-written file under the final
    name, and the rename is atomic because it stays on one filesystem.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
                tree.extend(generate_chunk(rng, stop - start, first_event + start, layout))
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
) -> list[pathlib.Path]:
    """Write a NanoAOD-like sample as ``{name}_{i:03d}.root`` files in ``outdir``.

    Events are split evenly over ``files`` (remainder to the first files); each
    file has one TTree ``Events`` whose baskets -- and hence ROOT clusters --
    hold ``basket_entries`` events. ``branches`` (a total) overrides
    ``extra_branches``; see :func:`sample_layout`. Returns the file paths in order.
    """
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
        )
        paths.append(path)
        first += n
    return paths
