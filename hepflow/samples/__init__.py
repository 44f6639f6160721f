"""NanoAOD-like ROOT samples for hepflow's tests, examples and benchmarks.

Why a generator of our own: tests and scaling benchmarks need files with the
real CMS NanoAOD layout (counters + counter-sized arrays, many unused branches,
known cluster sizes) and physics that can be checked by hand, in any size,
deterministically, with no ROOT installation and no network.
"""

from hepflow.samples.generator import (
    COMPRESSION_DEFAULT_LEVELS,
    CORE_BRANCHES,
    PROCESS_FRACTIONS,
    PROCESS_LABELS,
    PROCESSES,
    Collection,
    SampleLayout,
    compression_from_name,
    generate_chunk,
    make_sample,
    sample_layout,
    split_events,
)
from hepflow.samples.physics import ELECTRON_MASS, MUON_MASS, Z_MASS, Z_WIDTH

__all__ = [
    "COMPRESSION_DEFAULT_LEVELS",
    "CORE_BRANCHES",
    "ELECTRON_MASS",
    "MUON_MASS",
    "PROCESS_FRACTIONS",
    "PROCESS_LABELS",
    "PROCESSES",
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
