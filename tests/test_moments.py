"""The one `Moments`: scalar and per-feature, merged with Chan's update, checked against numpy."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepflow.results.moments import Moments

FLOATS = st.floats(-1e6, 1e6, allow_nan=False, width=64)
INTS = st.integers(-10**6, 10**6)


def _merge_all(parts: list[Moments]) -> Moments:
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part)
    return out


def _assert_close(a: Moments, b: Moments) -> None:
    assert np.array_equal(a.n, b.n)
    scale = max(1.0, float(np.max(np.abs(a.mean), initial=0.0)))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(a.m2, b.m2, rtol=1e-7, atol=1e-6 * scale * scale)
    np.testing.assert_allclose(a.total, b.total, rtol=1e-9, atol=1e-6 * scale)
    assert np.array_equal(a.lo, b.lo) and np.array_equal(a.hi, b.hi)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(FLOATS, max_size=20), min_size=3, max_size=3))
def test_scalar_merge_is_associative(chunks: list[list[float]]) -> None:
    a, b, c = (Moments.of(np.asarray(x, np.float64)) for x in chunks)
    _assert_close(a.merge(b).merge(c), a.merge(b.merge(c)))
    _assert_close(a.merge(b), b.merge(a))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(FLOATS, max_size=30), min_size=1, max_size=6))
def test_scalar_merge_equals_numpy(chunks: list[list[float]]) -> None:
    merged = _merge_all([Moments.of(np.asarray(x, np.float64)) for x in chunks])
    every = np.asarray([v for x in chunks for v in x], np.float64)
    assert int(merged.n) == every.size
    if every.size == 0:
        assert merged.value("Mean") == 0.0 and merged.value("Min") == math.inf
        return
    scale = max(1.0, float(np.abs(every).max()))
    assert merged.value("Mean") == pytest.approx(every.mean(), rel=1e-9, abs=1e-9 * scale)
    assert merged.value("Sum") == pytest.approx(every.sum(), rel=1e-9, abs=1e-6 * scale)
    expected_sd = every.std(ddof=1) if every.size > 1 else 0.0
    assert merged.value("StdDev") == pytest.approx(expected_sd, rel=1e-6, abs=1e-6 * scale)
    assert merged.value("Min") == every.min() and merged.value("Max") == every.max()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(INTS, max_size=20), min_size=1, max_size=5))
def test_integer_sums_and_extremes_stay_integers(chunks: list[list[int]]) -> None:
    merged = _merge_all([Moments(), *(Moments.of(np.asarray(x, np.int64)) for x in chunks)])
    every = [v for x in chunks for v in x]
    total = merged.value("Sum")
    assert isinstance(total, int) and total == sum(every)
    if every:
        low, high = merged.value("Min"), merged.value("Max")
        assert isinstance(low, int) and low == min(every)
        assert isinstance(high, int) and high == max(every)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 40), st.just(3)), elements=FLOATS),
       st.data())
def test_per_feature_merge_is_associative_and_equals_numpy(values: np.ndarray,
                                                          data: st.DataObject) -> None:
    valid = data.draw(hnp.arrays(np.bool_, values.shape))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), min_size=2, max_size=2)))
    pieces = [Moments.of(values[i:j], valid[i:j])
              for i, j in zip([0, *cuts], [*cuts, len(values)], strict=True)]
    a, b, c = pieces
    _assert_close(a.merge(b).merge(c), a.merge(b.merge(c)))
    merged = a.merge(b).merge(c)
    for k in range(3):
        real = values[valid[:, k], k]
        assert merged.n[k] == real.size
        if real.size:
            scale = max(1.0, float(np.abs(real).max()))
            assert merged.mean[k] == pytest.approx(real.mean(), rel=1e-9, abs=1e-9 * scale)
            assert merged.std[k] == pytest.approx(real.std(), rel=1e-6, abs=1e-6 * scale)
            assert merged.lo[k] == real.min() and merged.hi[k] == real.max()
        else:
            assert merged.std[k] == 0.0 and merged.lo[k] == np.inf


WEIGHTS = st.floats(0.01, 10.0, allow_nan=False)
Weighted = list[list[tuple[float, float]]]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.tuples(FLOATS, WEIGHTS), max_size=20), min_size=3, max_size=3))
def test_weighted_merge_is_associative_and_equals_numpy(chunks: Weighted) -> None:
    parts = [Moments.of(np.asarray([v for v, _ in c], np.float64),
                        weights=np.asarray([w for _, w in c], np.float64)) for c in chunks]
    a, b, c = parts
    _assert_close(a.merge(b).merge(c), a.merge(b.merge(c)))
    merged = a.merge(b).merge(c)
    x = np.asarray([v for chunk in chunks for v, _ in chunk], np.float64)
    w = np.asarray([wt for chunk in chunks for _, wt in chunk], np.float64)
    assert int(merged.n) == x.size
    if not x.size:
        return
    scale = max(1.0, float(np.abs(x).max()))
    mean = np.average(x, weights=w)
    assert float(merged.weight) == pytest.approx(w.sum(), rel=1e-12)
    assert float(merged.mean) == pytest.approx(mean, rel=1e-9, abs=1e-9 * scale)
    assert float(merged.total) == pytest.approx((w * x).sum(), rel=1e-9, abs=1e-6 * scale)
    variance = np.average((x - mean) ** 2, weights=w)
    assert float(merged.variance(0)) == pytest.approx(variance, rel=1e-6,
                                                      abs=1e-6 * scale * scale)


def test_weights_match_repeated_entries_and_scale_out() -> None:
    """Weight 3 counts as three entries; scaling all weights leaves the sample variance."""
    values = np.array([1.0, 2.0, 4.0, 8.0])
    weights = np.array([3.0, 1.0, 2.0, 1.0])
    weighted = Moments.of(values, weights=weights)
    repeated = Moments.of(np.repeat(values, weights.astype(int)))
    assert float(weighted.mean) == pytest.approx(float(repeated.mean), rel=1e-15)
    assert float(weighted.variance(0)) == pytest.approx(float(repeated.variance(0)))
    scaled = Moments.of(values, weights=10 * weights)
    assert float(scaled.variance(1)) == pytest.approx(float(weighted.variance(1)), rel=1e-12)
    assert float(scaled.mean) == pytest.approx(float(weighted.mean), rel=1e-15)
    per_row = Moments.of(values[:, None], np.ones((4, 1), bool), weights=weights)
    assert float(per_row.mean[0]) == pytest.approx(float(weighted.mean), rel=1e-15)
    signed = Moments.of(values, weights=np.array([2.0, -1.0, 1.0, 1.0]))  # NLO-style weights
    assert float(signed.mean) == pytest.approx((2 - 2 + 4 + 8) / 3.0, rel=1e-15)
    with pytest.raises(ValueError, match="one weight per value"):
        Moments.of(values, weights=weights[:3])
    with pytest.raises(ValueError, match="one weight per row"):
        Moments.of(values[:, None], np.ones((4, 1), bool), weights=weights[:2])


def test_stable_where_the_naive_sum_of_squares_is_not() -> None:
    """A large offset and a small spread: sum(x^2) - n mean^2 loses every digit, Chan does not."""
    rng = np.random.default_rng(3)
    values = 1e9 + rng.normal(0.0, 1e-3, 100_000)
    merged = _merge_all([Moments.of(chunk) for chunk in np.array_split(values, 37)])
    assert merged.value("StdDev") == pytest.approx(values.std(ddof=1), rel=1e-6)
    naive = math.sqrt(max(0.0, (np.sum(values ** 2) - values.size * values.mean() ** 2)
                          / (values.size - 1)))
    assert abs(naive - values.std(ddof=1)) > 1e-2 * values.std(ddof=1)


def test_booleans_float32_and_errors() -> None:
    flags = Moments.of(np.array([True, False, True]))
    assert flags.value("Sum") == 2 and isinstance(flags.value("Sum"), int)
    single = Moments.of(np.array([1.5], np.float32))
    assert single.mean.dtype == np.float64 and single.value("StdDev") == 0.0
    with pytest.raises(ValueError, match="shape"):
        Moments.empty(3).merge(Moments())
    with pytest.raises(ValueError, match="per-feature"):
        Moments.empty(2).value("Mean")
    with pytest.raises(ValueError, match="mask of the same shape"):
        Moments.of(np.zeros((4, 2)), np.ones((4, 3), bool))
    with pytest.raises(ValueError, match="unknown statistic"):
        Moments().value("Median")


def test_pickles_for_dask() -> None:
    moments = Moments.of(np.arange(10.0))
    back = pickle.loads(pickle.dumps(moments))
    _assert_close(back, moments)
