"""`hepflow.ml.DataLoader` on the real 2-worker cluster: exactly once, splits, seeds, memory."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml.batching import BatchOptions, batches

pytestmark = pytest.mark.cluster

# `event` as a feature: every row of a batch says which event it is (exact in float32).
FEATURES = ml.Features(["event_f", "MET_pt"], [ml.Jagged("Jet_pt", 3)], label="is_ttbar",
                       weight="genWeight")


def _frame(files: list[str], client: Any, chunk_entries: int | None = None) -> Any:
    df = hepflow.RDataFrame("Events", files, client=client, chunk_entries=chunk_entries)
    return (df.Filter("nJet >= 1", "a jet").Define("is_ttbar", "process == 1")
            .Define("event_f", "float(event)"))


def _events(loader: Any) -> np.ndarray:
    return np.concatenate([x[:, 0] for x, _, _ in loader.as_numpy()]).astype(np.int64)


def test_each_event_once_per_epoch(sample_files: list[str], client: Any) -> None:
    df = _frame(sample_files, client, chunk_entries=4000)
    expected = np.sort(df.AsNumpy(["event"])["event"].astype(np.int64))
    everything = ml.DataLoader(df, FEATURES, 1000, split=None, batches_in_memory=10,
                               set_seed=3, epochs=2)
    seen = _events(everything)
    assert len(seen) == 2 * len(expected)
    first, second = seen[:len(expected)], seen[len(expected):]
    np.testing.assert_array_equal(np.sort(first), expected)
    np.testing.assert_array_equal(np.sort(second), expected)
    assert not np.array_equal(first, second)  # a new order each epoch
    # shuffling mixes chunks: the first batch spans more than one chunk's entry range
    assert np.ptp(first[:1000]) > max(c.num_entries for c in df._runner.chunks)
    parts = [_events(ml.DataLoader(df, FEATURES, 777, split=s, set_seed=3))
             for s in ("train", "validation", "test")]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), expected)
    fractions = np.array([len(p) for p in parts]) / len(expected)
    np.testing.assert_allclose(fractions, [0.6, 0.2, 0.2], atol=0.02)
    loader = ml.DataLoader(df, FEATURES, 777, split="validation")
    assert loader.rows == len(parts[1])
    assert loader.num_batches == -(-len(parts[1]) // 777)
    assert loader.last_batch_no_of_rows == len(parts[1]) % 777
    sizes = [len(y) for _, y, _ in loader.as_numpy()]
    assert sizes[:-1] == [777] * (len(sizes) - 1) and sizes[-1] == len(parts[1]) % 777
    dropped = ml.DataLoader(df, FEATURES, 777, split="validation", drop_remainder=True)
    assert [len(y) for _, y, _ in dropped.as_numpy()] == [777] * (len(parts[1]) // 777)


def test_split_does_not_depend_on_chunking(sample_files: list[str], client: Any) -> None:
    coarse = _frame(sample_files, client)
    fine = _frame(sample_files, client, chunk_entries=1500)
    assert len(fine._runner.chunks) > 2 * len(coarse._runner.chunks)
    for split in ("train", "test"):
        a = np.sort(_events(ml.DataLoader(coarse, FEATURES, 4096, split=split)))
        b = np.sort(_events(ml.DataLoader(fine, FEATURES, 4096, split=split)))
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_batches(sample_files: list[str], client: Any) -> None:
    df = _frame(sample_files, client)

    def run(seed: int) -> list[tuple[np.ndarray, ...]]:
        loader = ml.DataLoader(df, FEATURES, 500, set_seed=seed, batches_in_memory=3)
        return [tuple(a.copy() for a in b) for b in loader.as_numpy()]

    one, two, other = run(11), run(11), run(12)
    assert len(one) == len(two)
    for a, b in zip(one, two, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(one[0][0], other[0][0])
    unshuffled = [x[:, 0] for x, _, _ in
                  ml.DataLoader(df, FEATURES, 500, shuffle=False).as_numpy()]
    assert all(np.all(np.diff(u) > 0) for u in unshuffled[:3])  # entry order within a file


def test_client_memory_bounded_while_streaming(sample_files: list[str], client: Any) -> None:
    df = _frame(sample_files, client, chunk_entries=2000)
    wide = ml.Features(["event_f", "MET_pt"], [ml.Jagged(["Jet_pt", "Jet_eta"], 64)],
                       label="is_ttbar")  # 194 inputs: a table of ~26 MB
    loader = ml.DataLoader(df, wide, 256, batches_in_memory=4, chunks_in_flight=2,
                           split=None)
    table = loader.rows * wide.n_inputs * 4
    tracemalloc.start()
    try:
        rows = 0
        for x, _, _ in loader.as_numpy():
            rows += len(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == loader.rows > 30_000
    # a window of 2 chunks of <= 2000 events and 4 batches, never the whole table
    chunk = max(c.num_entries for c in df._runner.chunks) * wide.n_inputs * 4
    # bounded by the window: the chunks in flight, the one being cut into batches and
    # the shuffle buffer (under a chunk), never the whole table
    window = (loader.chunks_in_flight + 2) * chunk
    assert table > 8 * chunk and peak < window < table / 2, (peak, chunk, table)


def test_prepared_blocks_normalised_and_torch(sample_files: list[str], client: Any) -> None:
    torch = pytest.importorskip("torch")
    df = _frame(sample_files, client)
    prepared = ml.prepare(df, FEATURES)
    try:
        loader = ml.DataLoader(prepared, batch_size=2048, split="train", set_seed=1)
        xs = [x for x, _, _ in loader.as_torch()]
        assert all(isinstance(x, torch.Tensor) and x.dtype == torch.float32 for x in xs)
        x = torch.cat(xs).numpy()
        assert len(x) == sum(prepared.counts(0)) == loader.rows
        # standardised on the training split: the flat features have mean 0, std 1
        np.testing.assert_allclose(x[:, 1].mean(), 0.0, atol=1e-3)
        np.testing.assert_allclose(x[:, 1].std(), 1.0, atol=1e-3)
        # the masks come last, after the padded values
        assert set(np.unique(x[:, -3:])) <= {0.0, 1.0}
    finally:
        prepared.release()


def test_batches_views_and_bad_options() -> None:
    chunks = [(np.arange(n, dtype=np.float32)[:, None] + 100 * i, np.zeros(n, np.float32),
               np.ones(n, np.float32)) for i, n in enumerate((5, 0, 17, 3))]
    options = BatchOptions(4, 2, True, False, 5)
    out = list(batches(iter(chunks), options, options.rng(0)))
    rows = np.sort(np.concatenate([b[0][:, 0] for b in out]))
    np.testing.assert_array_equal(rows, np.sort(np.concatenate([c[0][:, 0] for c in chunks])))
    assert [len(b[1]) for b in out][:-1] == [4] * (len(out) - 1)
    with pytest.raises(PlanError, match="batch_size"):
        BatchOptions(0)
    with pytest.raises(PlanError, match="shuffle"):
        BatchOptions(4, shuffle="yes")  # type: ignore[arg-type]


def test_bad_loader_arguments(sample_files: list[str], client: Any) -> None:
    df = _frame(sample_files, client)
    with pytest.raises(PlanError, match="split must be one of"):
        ml.DataLoader(df, FEATURES, 10, split="training")
    with pytest.raises(PlanError, match=r"expected hepflow\.ml\.Features"):
        ml.DataLoader(df, ["MET_pt"], 10)
    with pytest.raises(PlanError, match="no column `Jet_ptt`"):
        ml.DataLoader(df, ml.Features(["MET_pt"], {"Jet_ptt": 2}, label="is_ttbar"), 10)
    with pytest.raises(PlanError, match="epochs"):
        ml.DataLoader(df, FEATURES, 10, epochs=0)


def test_as_tensorflow_gives_the_same_batches(sample_files: list[str], client: Any) -> None:
    pytest.importorskip("tensorflow")
    df = _frame(sample_files, client)
    numpy = [tuple(a.copy() for a in b) for b in
             ml.DataLoader(df, FEATURES, 4096, split="test", set_seed=2).as_numpy()]
    dataset = ml.DataLoader(df, FEATURES, 4096, split="test", set_seed=2).as_tensorflow()
    tensors = [tuple(t.numpy() for t in b) for b in dataset]
    assert len(tensors) == len(numpy) > 1
    for a, b in zip(numpy, tensors, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)


def _labelled(loader: Any) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(x[:, 0].astype(np.int64), y) for x, y, _ in loader.as_numpy()]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def test_undersampling_and_oversampling_as_root(sample_files: list[str], client: Any) -> None:
    df = _frame(sample_files, client, chunk_entries=4000)
    events, labels = _labelled(ml.DataLoader(df, FEATURES, 1000, split=None, shuffle=False))
    n = [int(np.sum(labels == k)) for k in (0, 1)]
    minor = int(np.argmin(n))
    major = 1 - minor
    by_class = [np.sort(events[labels == k]) for k in (0, 1)]

    def sampled(seed: int, **sampling: Any) -> tuple[np.ndarray, np.ndarray]:
        return _labelled(ml.DataLoader(df, FEATURES, 999, split=None, set_seed=seed,
                                       **sampling))

    # undersampling: every minority event once, int(n_minor / ratio) distinct majority ones
    ev, lab = sampled(4, sampling_type="undersampling", sampling_ratio=0.8)
    np.testing.assert_array_equal(np.sort(ev[lab == minor]), by_class[minor])
    picked = ev[lab == major]
    assert len(picked) == int(n[minor] / 0.8) == len(np.unique(picked))
    assert abs(n[minor] / len(picked) - 0.8) < 1e-3
    assert np.isin(picked, by_class[major]).all()
    again, _ = sampled(4, sampling_type="undersampling", sampling_ratio=0.8)
    np.testing.assert_array_equal(ev, again)  # reproducible from the seed
    other, lab_other = sampled(5, sampling_type="undersampling", sampling_ratio=0.8)
    assert not np.array_equal(np.sort(other[lab_other == major]), np.sort(picked))
    # with replacement the draw may repeat, and may exceed the majority class
    ev, lab = sampled(4, sampling_type="undersampling", sampling_ratio=0.1, replacement=True)
    picked = ev[lab == major]
    assert len(picked) == int(n[minor] / 0.1) > n[major] > len(np.unique(picked))
    np.testing.assert_array_equal(np.sort(ev[lab == minor]), by_class[minor])
    with pytest.raises(PlanError, match=r"sampling_ratio 0\.1 is too low"):
        ml.DataLoader(df, FEATURES, 999, split=None, sampling_type="undersampling",
                      sampling_ratio=0.1)
    # oversampling: every majority event once, int(ratio * n_major) minority draws
    loader = ml.DataLoader(df, FEATURES, 999, split=None, set_seed=4,
                           sampling_type="oversampling", sampling_ratio=0.9)
    ev, lab = _labelled(loader)
    np.testing.assert_array_equal(np.sort(ev[lab == major]), by_class[major])
    drawn = ev[lab == minor]
    assert len(drawn) == int(0.9 * n[major]) == loader.rows - n[major]
    assert len(np.unique(drawn)) < len(drawn) and np.isin(drawn, by_class[minor]).all()
    assert abs(len(drawn) / np.sum(lab == major) - 0.9) < 1e-3
    for bad, match in (({"sampling_type": "smote"}, "sampling_type must be"),
                       ({"sampling_type": "oversampling", "sampling_ratio": 0},
                        "sampling_ratio must be"),
                       ({"sampling_type": "oversampling", "replacement": 1}, "replacement")):
        with pytest.raises(PlanError, match=match):
            ml.DataLoader(df, FEATURES, 10, **bad)
