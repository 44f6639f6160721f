"""Feature preparation against an eager, event-by-event numpy reference.

Padding, clipping, masks, the split, the negative-weight policies, per-sample
labels and the normalisation statistics are all checked on the session's
generated sample, prepared on the real 2-worker cluster, against a plain
Python loop over events on arrays read with uproot.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml.features import pad_clip, raw_inputs
from hepflow.ml.metrics import roc_auc
from hepflow.ml.normalise import Moments
from hepflow.ml.prepare import Block, PreparedData
from hepflow.ml.split import Split, uniform

FEATURES = ml.Features(["MET_pt", "nJet"], [ml.Jagged(["Jet_pt", "Jet_eta"], 3),
                                             ml.Jagged("Muon_pt", 2, pad=-1.0)],
                       label="process", weight="genWeight", negative_weights="keep",
                       split=Split(0.5, 0.25, 0.25))


def _reference_pad(lists: list[list[float]], length: int) -> tuple[np.ndarray, np.ndarray]:
    """The obvious per-event loop: copy up to `length` entries, mark them real."""
    values = np.zeros((len(lists), length), np.float32)
    mask = np.zeros((len(lists), length), bool)
    for i, entries in enumerate(lists):
        for j, v in enumerate(entries[:length]):
            values[i, j] = v
            mask[i, j] = True
    return values, mask


def _blocks(prepared: PreparedData) -> list[Block]:
    return prepared.client.gather(prepared.blocks)


def _concat(blocks: list[Block], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in blocks])


def test_pad_clip_equals_event_loop() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 6, 500)
    jagged = ak.unflatten(rng.normal(size=counts.sum()).astype(np.float32), counts)
    lists = ak.to_list(jagged)
    for length in (1, 3, 8):
        values, mask, got_counts = pad_clip(jagged, length)
        ref_values, ref_mask = _reference_pad(lists, length)
        np.testing.assert_array_equal(values, ref_values)
        np.testing.assert_array_equal(mask, ref_mask)
        np.testing.assert_array_equal(got_counts, counts)
    # a sliced (non-contiguous) array, as after a Filter
    picked = jagged[::3]
    values, mask, _ = pad_clip(picked, 4)
    ref_values, ref_mask = _reference_pad(ak.to_list(picked), 4)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(mask, ref_mask)


def test_group_columns_must_share_counts() -> None:
    spec = ml.Features([], [ml.Jagged(["a", "b"], 2)], label="y")
    a = ak.Array([[1.0], [2.0, 3.0]])
    b = ak.Array([[1.0, 2.0], [3.0]])
    with pytest.raises(PlanError, match="different numbers of entries"):
        raw_inputs(spec, {"a": a, "b": b})


def test_split_is_deterministic_and_chunking_independent() -> None:
    ids = np.arange(1, 200_001, dtype=np.uint64)
    split = Split(0.7, 0.2, 0.1, seed=5)
    whole = split.assign(ids)
    pieces = np.concatenate([split.assign(p) for p in np.array_split(ids, 7)])
    np.testing.assert_array_equal(whole, pieces)
    fractions = np.bincount(whole, minlength=3) / ids.size
    np.testing.assert_allclose(fractions, [0.7, 0.2, 0.1], atol=0.005)
    assert not np.array_equal(whole, Split(0.7, 0.2, 0.1, seed=6).assign(ids))
    u = uniform(ids)
    assert 0.0 <= u.min() and u.max() < 1.0
    with pytest.raises(PlanError, match="add up to 1"):
        Split(0.5, 0.5, 0.5)


def test_moments_merge_equals_numpy_with_masks() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 2.0, (1000, 4))
    valid = rng.random((1000, 4)) < 0.6
    parts = [Moments.of(v, m) for v, m in zip(np.array_split(values, 5),
                                               np.array_split(valid, 5), strict=True)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    for k in range(4):
        real = values[valid[:, k], k]
        assert merged.n[k] == real.size
        assert merged.mean[k] == pytest.approx(real.mean(), rel=1e-12)
        assert merged.std[k] == pytest.approx(real.std(), rel=1e-12)
        assert merged.lo[k] == real.min() and merged.hi[k] == real.max()


def test_weighted_auc_equals_pairwise_definition() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    s = np.round(rng.normal(y, 1.0), 1)  # many ties
    w = rng.uniform(0.2, 2.0, 400)
    pos, neg = y == 1, y == 0
    greater = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
    pairwise = (w[pos][:, None] * w[neg][None, :] * greater).sum() / (w[pos].sum()
                                                                       * w[neg].sum())
    assert roc_auc(y, s, w) == pytest.approx(pairwise, rel=1e-12)


def test_bad_features_fail_before_any_work(sample_files: list[str]) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client="sync")
    with pytest.raises(PlanError, match="no column `Jet_Pt`; did you mean `Jet_pt`"):
        ml.Features([], [ml.Jagged("Jet_Pt", 4)], label="process").validate(df)
    with pytest.raises(PlanError, match="is a collection"):
        ml.Features(["Jet_pt"], label="process").validate(df)
    with pytest.raises(PlanError, match="list it in flat="):
        ml.Features([], [ml.Jagged("MET_pt", 2)], label="process").validate(df)
    with pytest.raises(PlanError, match="no column `wrong`"):
        ml.Features(["MET_pt"], label="wrong").validate(df)
    with pytest.raises(PlanError, match="negative_weights"):
        ml.Features(["MET_pt"], label="process", negative_weights="flip")  # type: ignore
    with pytest.raises(PlanError, match="more than once"):
        ml.Features(["MET_pt", "MET_pt"], label="process")


@pytest.mark.cluster
def test_prepared_blocks_equal_eager_reference(sample_files: list[str],
                                               eager: dict[str, ak.Array],
                                               client: Any) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client=client)
    sel = df.Filter("nJet >= 1", "one jet")
    prepared = ml.prepare(sel, FEATURES)
    assert len(prepared.blocks) > 2
    blocks = _blocks(prepared)
    keep = ak.to_numpy(eager["nJet"]) >= 1
    ev = {k: v[keep] for k, v in eager.items()}
    values = _concat(blocks, "values")
    mask = _concat(blocks, "mask")
    met = ak.to_numpy(ev["MET_pt"]).astype(np.float32)
    np.testing.assert_array_equal(values[:, 0], met)
    np.testing.assert_array_equal(values[:, 1], ak.to_numpy(ev["nJet"]).astype(np.float32))
    jet_pt, jet_mask = _reference_pad(ak.to_list(ev["Jet_pt"]), 3)
    jet_eta, _ = _reference_pad(ak.to_list(ev["Jet_eta"]), 3)
    mu_pt, mu_mask = _reference_pad(ak.to_list(ev["Muon_pt"]), 2)
    np.testing.assert_array_equal(values[:, 2:5], jet_pt)
    np.testing.assert_array_equal(values[:, 5:8], jet_eta)
    np.testing.assert_array_equal(values[:, 8:10], mu_pt)
    np.testing.assert_array_equal(mask, np.concatenate([jet_mask, mu_mask], axis=1))
    np.testing.assert_array_equal(_concat(blocks, "label"), ak.to_numpy(ev["process"]))
    weight = ak.to_numpy(ev["genWeight"])
    np.testing.assert_array_equal(_concat(blocks, "weight"), weight)
    split = _concat(blocks, "split")
    np.testing.assert_array_equal(split, FEATURES.split.assign(ak.to_numpy(ev["event"])))
    # normalisation: moments of the training split only, masked slots excluded
    train = split == 0
    norm = prepared.normalisation
    assert norm.shift[2] == pytest.approx(jet_pt[train][jet_mask[train][:, 0], 0].mean(),
                                          rel=1e-6)
    assert norm.scale[9] == pytest.approx(mu_pt[train][mu_mask[train][:, 1], 1].std(),
                                          rel=1e-5)
    assert prepared.summary.negative == int(np.count_nonzero(weight < 0)) > 0
    assert prepared.summary.split_events()["train"] == int(np.count_nonzero(train))
    # model inputs: normalised values, the pad value in masked slots, then the masks
    x, _, _ = prepared.client.gather(prepared.split_futures(0)[0][0])
    first = blocks[0]
    sel0 = first.split == 0
    assert x.shape == (int(sel0.sum()), FEATURES.n_inputs)
    muon_slot = x[:, 8:10]
    np.testing.assert_array_equal(muon_slot[~first.mask[sel0][:, 3:5]], -1.0)
    np.testing.assert_array_equal(x[:, 10:], first.mask[sel0].astype(np.float32))
    assert FEATURES.input_names[10:] == ("Jet_mask[0]", "Jet_mask[1]", "Jet_mask[2]",
                                         "Muon_mask[0]", "Muon_mask[1]")
    prepared.release()


@pytest.mark.cluster
@pytest.mark.parametrize("policy", ["drop", "abs"])
def test_negative_weight_policies(sample_files: list[str], eager: dict[str, ak.Array],
                                  client: Any, policy: str) -> None:
    df = hepflow.RDataFrame("Events", sample_files, client=client)
    spec = ml.Features(["MET_pt"], label="process", weight="genWeight",
                       negative_weights=policy)  # type: ignore[arg-type]
    prepared = ml.prepare(df, spec)
    weight = _concat(_blocks(prepared), "weight")
    ref = ak.to_numpy(eager["genWeight"])
    if policy == "drop":
        np.testing.assert_array_equal(weight, ref[ref >= 0])
        assert prepared.summary.dropped == int(np.count_nonzero(ref < 0))
    else:
        np.testing.assert_array_equal(weight, np.abs(ref))
    prepared.release()


@pytest.mark.cluster
def test_label_per_sample_and_single_class(sample_files: list[str], client: Any) -> None:
    dataset = hepflow.Dataset.from_dict({"tree": "Events", "samples": {
        "background": {"files": sample_files[:1]},
        "signal": {"files": sample_files[1:]}}})
    df = hepflow.RDataFrame(dataset, client=client)
    spec = ml.Features(["MET_pt"], label={"background": 0, "signal": 1})
    prepared = ml.prepare(df, spec)
    blocks = _blocks(prepared)
    labels = _concat(blocks, "label")
    entries = hepflow.RDataFrame("Events", sample_files[:1], client="sync").Count().GetValue()
    np.testing.assert_array_equal(labels, np.r_[np.zeros(entries), np.ones(labels.size
                                                                            - entries)])
    assert spec.class_names([0, 1]) == {0: "background", 1: "signal"}
    prepared.release()
    with pytest.raises(PlanError, match="no class for sample"):
        ml.prepare(df, ml.Features(["MET_pt"], label={"signal": 1}))
    one_class = hepflow.RDataFrame("Events", sample_files, client=client).Filter(
        "process == 1")
    with pytest.raises(PlanError, match="single class"):
        ml.prepare(one_class, ml.Features(["MET_pt"], label="process"))
