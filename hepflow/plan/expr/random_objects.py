"""`<random>`'s engines and distributions as ROOT users declare them in C++ helpers.

root-project's AGC port smears jets with

    float random_gaus() {
       thread_local std::random_device rd{};
       thread_local std::mt19937 gen{rd()};
       thread_local std::normal_distribution<float> d{1.f, 0.05f};
       return d(gen);
    }

and ROOT's tutorial on random numbers under `EnableImplicitMT` writes the same
form. Such objects are declared `thread_local` with constant arguments, so the
parser resolves them where they are declared: `d(gen)` becomes one `Draw`,
which names its engine by the place of its declaration. The engine's state then
lives per worker thread (`hepflow.engine.randomdraws`), as a `thread_local` does
per ROOT thread, and draws follow libstdc++'s algorithms bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hepflow.core.types import DType

#: the engines implemented (libstdc++'s `std::mt19937`, 32-bit Mersenne Twister)
ENGINES = frozenset({"std::mt19937"})
#: distribution class -> kind, and the parameters a default-constructed one has
DISTRIBUTIONS: dict[str, tuple[Literal["normal", "uniform_real"], tuple[float, float]]] = {
    "std::normal_distribution": ("normal", (0.0, 1.0)),
    "std::uniform_real_distribution": ("uniform_real", (0.0, 1.0)),
}
DEVICE = "std::random_device"
#: std::mt19937's seed when none is given (`std::mt19937::default_seed`)
DEFAULT_SEED = 5489


@dataclass(frozen=True, slots=True)
class Engine:
    """One `thread_local std::mt19937`: where it is declared (`source`, a digest of the
    declaring text, and `at`, the declaration's offset in it), which makes it one
    engine per worker thread however many calls share it, and its seed (None: drawn
    from `std::random_device`, that is the operating system's entropy)."""

    source: str
    at: int
    name: str
    seed: int | None


@dataclass(frozen=True, slots=True)
class Distribution:
    """One `thread_local` distribution: kind, result type and its two parameters (mean
    and standard deviation, or the interval [a, b)), already of the result type. A
    normal distribution keeps the second value of each pair it computes, so it has a
    place (`at`) of its own like an engine."""

    kind: Literal["normal", "uniform_real"]
    dtype: DType
    a: float
    b: float
    source: str
    at: int
    name: str


@dataclass(frozen=True, slots=True)
class Draw:
    """The value of `d(gen)` (a distribution's draw) or `gen()` (the engine's next
    32-bit number, as `std::mt19937::result_type`, an unsigned long)."""

    engine: Engine
    distribution: Distribution | None

    @property
    def dtype(self) -> DType:
        return "uint64" if self.distribution is None else self.distribution.dtype

    @property
    def name(self) -> str:
        if self.distribution is None:
            return f"{self.engine.name}()"
        return f"{self.distribution.name}({self.engine.name})"


@dataclass(frozen=True, slots=True)
class Device:
    """A `thread_local std::random_device`: only its call `rd()` as an engine's seed."""

    name: str


RandomObject = Engine | Distribution | Device

__all__ = ["DEFAULT_SEED", "DEVICE", "DISTRIBUTIONS", "ENGINES", "Device", "Distribution",
           "Draw", "Engine", "RandomObject"]
