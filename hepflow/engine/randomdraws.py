"""Draws of `thread_local` engines and distributions, as libstdc++ computes them.

ROOT's cling instantiates `<random>` from libstdc++, so a ROOT user's
`std::normal_distribution<float>{1.f, 0.05f}` driven by `std::mt19937{42}` gives
one fixed sequence. These are those algorithms: the 32-bit Mersenne Twister,
`std::generate_canonical` (one engine call for a float, two for a double),
Marsaglia's polar method with its second value kept for the next draw, and
`a + (b - a) * u` for a uniform draw, each operation rounded to the
distribution's type as C++ rounds it; `tests/test_std_random.py` checks them
against ROOT's own draws.

State lives per thread, as a `thread_local` does in ROOT: each engine and normal
distribution is found by its declaration (`random_objects.Engine`,
`random_objects.Distribution`) in a thread-local table, made on the thread's
first draw and seeded with the declared seed or from `std::random_device`'s
equivalent, the operating system's entropy. The numbers are the same functions
whether the vectorised evaluator draws a whole column or a compiled body draws
one at a time.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from hepflow.plan.expr.random_objects import Distribution, Draw, Engine

_N: Final = 624  # the Mersenne Twister's words of state; state[_N] is the position
_LOCAL = threading.local()
_FUNCTIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def seeded(seed: int) -> np.ndarray:
    """`std::mt19937(seed)`'s state (`seed(value)`: Knuth's multiplier 1812433253)."""
    state = np.empty(_N + 1, np.uint64)
    x = seed & 0xFFFFFFFF
    state[0] = x
    for i in range(1, _N):
        x = (1812433253 * (x ^ (x >> 30)) + i) & 0xFFFFFFFF
        state[i] = x
    state[_N] = _N
    return state


def engine_state(engine: Engine) -> np.ndarray:
    """This thread's state of `engine`, seeded on its first use."""
    table: dict[Engine, np.ndarray] = _LOCAL.__dict__.setdefault("engines", {})
    state = table.get(engine)
    if state is None:
        seed = engine.seed if engine.seed is not None else \
            int.from_bytes(os.urandom(4), "little")  # what std::random_device gives
        state = table[engine] = seeded(seed)
    return state


def distribution_state(distribution: Distribution) -> np.ndarray:
    """This thread's state of a distribution: [kept value, 1.0 if one is kept] (only the
    normal distribution keeps one; every distribution has the place, so that all draw
    alike)."""
    table: dict[Distribution, np.ndarray] = _LOCAL.__dict__.setdefault("distributions", {})
    state = table.get(distribution)
    if state is None:
        state = table[distribution] = np.zeros(2, np.float64)
    return state


def functions() -> dict[str, Any]:
    """The compiled draws, by the name a kernel calls them: `_rnd_next(engine)`,
    `_rnd_normal_float32(engine, kept, mean, stddev)`, `_rnd_uniform_real_float64(engine,
    kept, a, b)`, ... Built once per process."""
    if not _FUNCTIONS:
        with _LOCK:
            if not _FUNCTIONS:
                _FUNCTIONS.update(_build())
    return _FUNCTIONS


def _build() -> dict[str, Any]:
    import numba  # imported here: only analyses that draw need it

    jit = numba.njit(error_model="numpy")
    upper, lower, matrix = np.uint64(0x80000000), np.uint64(0x7FFFFFFF), np.uint64(0x9908B0DF)
    one, mask = np.uint64(1), np.uint64(0xFFFFFFFF)
    s7, s11, s15, s18 = np.uint64(7), np.uint64(11), np.uint64(15), np.uint64(18)
    b, c = np.uint64(0x9D2C5680), np.uint64(0xEFC60000)

    @jit
    def twist(state: Any) -> None:
        for k in range(_N):
            y = (state[k] & upper) | (state[(k + 1) % _N] & lower)
            v = state[(k + 397) % _N] ^ (y >> one)
            if y & one:
                v ^= matrix
            state[k] = v

    @jit
    def next_(state: Any) -> Any:
        i = np.int64(state[_N])
        if i >= _N:
            twist(state)
            i = np.int64(0)
        y = state[i]
        state[_N] = np.uint64(i + 1)
        y ^= y >> s11
        y ^= (y << s7) & b
        y ^= (y << s15) & c
        y ^= y >> s18
        return y & mask

    below_one_f32 = np.float32(1.0 - 2.0**-24)  # std::nextafter(1.f, 0.f)

    @jit
    def canonical_float32(state: Any) -> Any:
        r = np.float32(np.float32(next_(state)) / np.float32(4294967296.0))
        return below_one_f32 if r >= np.float32(1.0) else r

    @jit
    def canonical_float64(state: Any) -> Any:
        low = np.float64(next_(state))
        r = (low + np.float64(next_(state)) * 4294967296.0) / 18446744073709551616.0
        return 1.0 - 2.0**-53 if r >= 1.0 else r

    def normal(canonical: Callable[[Any], Any], real: Any) -> Callable[..., Any]:
        two, minus_two = real(2.0), real(-2.0)

        def draw(state: Any, kept: Any, mean: Any, stddev: Any) -> Any:
            if kept[1] != 0.0:
                kept[1] = 0.0
                value = real(kept[0])
            else:
                while True:  # x, y uniform in [-1, 1): keep the pair inside the unit circle
                    x = real(np.float64(two * canonical(state)) - 1.0)
                    y = real(np.float64(two * canonical(state)) - 1.0)
                    r2 = real(real(x * x) + real(y * y))
                    if not (r2 > 1.0 or r2 == 0.0):
                        break
                mult = real(math.sqrt(real(real(minus_two * real(math.log(r2))) / r2)))
                kept[0] = real(x * mult)
                kept[1] = 1.0
                value = real(y * mult)
            return real(real(value * stddev) + mean)

        return jit(draw)

    def uniform(canonical: Callable[[Any], Any], real: Any) -> Callable[..., Any]:
        def draw(state: Any, kept: Any, a: Any, b: Any) -> Any:  # keeps nothing
            return real(real(canonical(state) * real(b - a)) + a)

        return jit(draw)

    out: dict[str, Any] = {"_rnd_next": next_}
    for name, canonical, real in (("float32", canonical_float32, np.float32),
                                  ("float64", canonical_float64, np.float64)):
        out[f"_rnd_normal_{name}"] = normal(canonical, real)
        out[f"_rnd_uniform_real_{name}"] = uniform(canonical, real)
    return out


def _fill_function(kind: str) -> Callable[..., None]:
    import numba

    one = functions()[f"_rnd_{kind}"]
    jit = numba.njit(error_model="numpy")
    if kind == "next":
        def fill_next(state: Any, out: Any) -> None:
            for i in range(len(out)):
                out[i] = one(state)
        return jit(fill_next)

    def fill(state: Any, kept: Any, a: Any, b: Any, out: Any) -> None:
        for i in range(len(out)):
            out[i] = one(state, kept, a, b)
    return jit(fill)


def draw_column(draw: Draw, n: int) -> np.ndarray:
    """`n` draws of `draw` in order, one per event: what the evaluator computes for it."""
    dist = draw.distribution
    kind = "next" if dist is None else f"{dist.kind}_{dist.dtype}"
    fill = _FUNCTIONS.get(f"_fill_{kind}")
    if fill is None:
        fill = _FUNCTIONS[f"_fill_{kind}"] = _fill_function(kind)
    state = engine_state(draw.engine)
    out = np.empty(n, np.dtype(draw.dtype))
    if dist is None:
        fill(state, out)
        return out
    real = np.dtype(dist.dtype).type
    fill(state, distribution_state(dist), real(dist.a), real(dist.b), out)
    return out


__all__ = ["distribution_state", "draw_column", "engine_state", "functions", "seeded"]
