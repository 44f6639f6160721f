"""Batched, dynamic dispatch on a real LocalCluster: exact, bit-identical, straggler-proof.

Batches are subtrees of one reduction tree fixed by chunk index, so results
must be bit-identical whatever the batch size; a killed worker's batch is
re-run by Dask and its chunks counted once; a straggling batch gets a copy on
another worker and the first result is the only one counted; chunks sized
"auto" give the same results as any fixed size.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.engine.graph import Node, build_graph, plan_batches, root_level

pytestmark = [pytest.mark.cluster]

#: Scheduling settings that force batches of several chunks on a 2-worker cluster.
BATCHED = {"hepflow.scheduling.task-seconds": 10.0, "hepflow.scheduling.chunks-per-worker": 0.5}


def _book(df: hepflow.RDataFrame) -> dict[str, Any]:
    d = df.Filter("nJet >= 2", "two jets").Define("ht", "Sum(Jet_pt) * 1.000001")
    return {"hist": d.Histo1D(("ht", "ht", 40, 0.0, 800.0), "ht", "genWeight"),
            "sum": d.Sum("ht"), "mean": d.Mean("ht"), "count": d.Count(),
            "take": d.Take("event")}


def _values(booked: dict[str, Any]) -> dict[str, Any]:
    return {"hist": booked["hist"].GetValue().values(flow=True).tobytes(),
            "var": booked["hist"].GetValue().variances(flow=True).tobytes(),
            "sum": booked["sum"].GetValue(), "mean": booked["mean"].GetValue(),
            "count": booked["count"].GetValue(),
            "take": np.asarray(booked["take"].GetValue()).tobytes()}


def test_batches_cover_the_chunks_once_aligned_to_the_tree():
    for n in (1, 7, 8, 9, 63, 64, 65, 200, 513):
        for level in (0, 1, 2, 3):
            batches = plan_batches(n, 8, level, tail_chunks=20)
            covered = []
            for b in batches:
                first = b.first(8)
                covered.extend(range(first, min(n, first + b.span(8))))
                assert b.level <= min(level, root_level(n, 8))
            assert covered == list(range(n)), (n, level)


def test_static_graph_levels_give_bit_identical_results(sample_files):
    from dask.local import get_sync

    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=4_000)
    _book(df)
    runner = df._runner
    kernel, job = runner.plan([b.action for b in df._graph.pending])
    results = []
    for level in (0, 1, 2):
        dsk, key = build_graph(kernel, job.chunks, job.offsets, job.split_every, job.token,
                               level)
        merged = get_sync(dsk, key)
        results.append(pickle.dumps(merged.partials))
        assert merged.chunks == len(job.chunks)
    assert results[0] == results[1] == results[2]
    assert Node(2, 1).children(8, 70) == [Node(1, 8)]


def test_batched_runs_are_bit_identical_to_one_task_per_chunk(client, sample_files):
    one = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=4_000)
    per_chunk = _book(one)
    expected = _values(per_chunk)
    assert per_chunk["count"].run_info().scheduling["batch_chunks"] == 1
    with dask.config.set(BATCHED):
        df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=4_000)
        batched = _book(df)
        got = _values(batched)
    info = batched["count"].run_info()
    assert info.scheduling["batch_chunks"] == 8
    assert info.scheduling["dispatch"]["batches"] < info.chunks
    assert "batches of 8 chunks" in str(info)
    assert got == expected


def test_auto_chunking_gives_the_results_of_fixed_chunking(client, sample_files, eager):
    results = {}
    infos = {}
    for size in ("auto", 4_000, 12_000):
        df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=size)
        booked = _book(df)
        results[size] = {k: booked[k].GetValue() for k in ("count", "sum")}
        results[size]["hist"] = booked["hist"].GetValue().values(flow=True)
        results[size]["take"] = list(booked["take"].GetValue())
        infos[size] = booked["count"].run_info()
    mask = np.asarray(eager["nJet"]) >= 2
    for size, got in results.items():
        assert got["count"] == int(mask.sum()), size
        assert got["take"] == np.asarray(eager["event"])[mask].tolist(), size
        assert got["sum"] == pytest.approx(results[4_000]["sum"], rel=1e-12)
        np.testing.assert_allclose(got["hist"], results[4_000]["hist"], rtol=1e-12)
    auto = infos["auto"].scheduling
    assert auto["workers"] == 2 and "chunks of ~" in auto["why"]
    assert infos["auto"].entries_processed == len(mask)
    # the second auto run sizes from the cost the first one measured
    again = _book(hepflow.RDataFrame("Events", sample_files, client=client))
    assert again["count"].GetValue() == int(mask.sum())
    assert again["count"].run_info().scheduling["measured"] is True


def test_a_preprocessed_dataset_keeps_its_chunks_unless_auto_is_asked(client, sample_files):
    """Chunks the user cut with `preprocess` are theirs: the default "auto" leaves them,
    and only "auto" asked for by the dataframe itself re-cuts them."""
    prepared = hepflow.preprocess(hepflow.Dataset.from_files(sample_files, "Events"),
                                  chunk_entries=3_000)
    kept = hepflow.RDataFrame(prepared, client=client).Count()
    assert kept.GetValue() == prepared.entries
    assert kept.run_info().chunks == len(prepared.chunks)
    assert "as the dataset was preprocessed" in kept.run_info().scheduling["why"]
    recut = hepflow.RDataFrame(prepared, client=client, chunk_entries="auto").Count()
    assert recut.GetValue() == prepared.entries
    assert recut.run_info().chunks != len(prepared.chunks)


def test_progress_counts_the_chunks(client, sample_files, capsys):
    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=4_000,
                            options=hepflow.Options(progress=True))
    count = df.Count()
    assert count.GetValue() > 0
    err = capsys.readouterr().err
    chunks = count.run_info().chunks
    assert "hepflow" in err and f"{chunks}/{chunks}" in err


def _reference(files: list[str]) -> tuple[ak.Array, np.ndarray]:
    parts = []
    for path in files:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays(["nJet", "Jet_pt", "event"]))
    ev = ak.concatenate(parts)
    return ev, np.asarray(ev.nJet) >= 2


@pytest.fixture(scope="module")
def own_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from hepflow.samples import make_sample

    out = tmp_path_factory.mktemp("dispatch")
    return [str(p) for p in make_sample(out, events=24_000, files=2, seed=11,
                                        basket_entries=1_000)]


@pytest.mark.slow
@pytest.mark.parametrize("slow_start", [False, True])
def test_a_straggler_is_copied_elsewhere_and_counted_once(own_files, tmp_path, slow_start):
    """With `slow_start`, each worker's second chunk also takes 2.5 s (as a chunk that
    compiles kernels does): both are copied as stragglers, and both workers must still
    take the copy of the batch that hangs later."""
    import distributed

    from hepflow.observe import install, plugin

    marker = str(tmp_path / "straggled")
    def sometimes_slow(event: ak.Array) -> ak.Array:
        # the first run of the chunk holding event 20,500 hangs; its copy does not
        calls = len(list(tmp_path.glob(f"call-{os.getpid()}-*")))
        (tmp_path / f"call-{os.getpid()}-{calls}").write_text("")
        if slow_start and calls == 1:
            time.sleep(2.5)
        values = np.asarray(event)
        if values.size and values[0] <= 20_500 < values[0] + values.size \
                and not os.path.exists(marker):
            Path(marker).write_text("")
            time.sleep(25)
        return ak.Array(values * 1.0)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        install(c)
        mark = plugin.mark(c)
        df = hepflow.RDataFrame("Events", own_files, client=c, chunk_entries=1_000)
        d = df.Define("e", sometimes_slow, ["event"]).Filter("nJet >= 2", "two jets")
        count, total = d.Count(), d.Sum("e")
        start = time.monotonic()
        n = count.GetValue()
        took = time.monotonic() - start
        info = count.run_info()
        merged = plugin.wait_for_chunks(c, mark, info.chunks)
    ev, mask = _reference(own_files)
    assert os.path.exists(marker)
    # the hang did not hold the end
    assert took < 20, (took, count.run_info().scheduling["dispatch"])
    assert n == int(mask.sum())
    assert total.GetValue() == float(np.sum(np.asarray(ev.event)[mask], dtype=np.float64))
    dispatch = info.scheduling["dispatch"]
    assert dispatch["copies"] >= 1 and dispatch["copies_won"] >= 1
    assert info.entries_processed == 24_000
    assert merged["chunks"] == info.chunks and merged["entries"] == 24_000


@pytest.mark.slow
def test_a_killed_workers_batches_are_redone_once(own_files):
    import distributed

    from hepflow.observe import install, plugin

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c, dask.config.set(BATCHED):
        install(c)
        mark = plugin.mark(c)
        df = hepflow.RDataFrame("Events", own_files, client=c, chunk_entries=1_000)

        def slow_sum(pt: ak.Array) -> ak.Array:
            time.sleep(0.1)
            return ak.sum(pt, axis=1)

        d = df.Define("slow", slow_sum, ["Jet_pt"]).Filter("nJet >= 2", "two jets")
        count, total, events = d.Count(), d.Sum("slow"), d.Take("event")
        errors: list[BaseException] = []

        def run() -> None:
            try:
                count.GetValue()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.time() + 30
        while time.time() < deadline and not any("hepflow-batch" in str(k)
                                                 for k in c.processing().get(
                                                     sorted(c.nthreads())[0], [])):
            time.sleep(0.05)
        time.sleep(0.5)  # some of its chunks done, inside the batch
        pids = c.run(os.getpid)
        os.kill(pids[sorted(pids)[0]], signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        assert not errors, errors
        info = count.run_info()
        merged = plugin.wait_for_chunks(c, mark, info.chunks)
    ev, mask = _reference(own_files)
    assert info.scheduling["batch_chunks"] > 1
    assert count.GetValue() == int(mask.sum())
    assert events.GetValue().tolist() == np.asarray(ev.event)[mask].tolist()
    expected = float(np.sum(np.asarray(ak.sum(ev.Jet_pt, axis=1))[mask], dtype=np.float64))
    assert total.GetValue() == pytest.approx(expected, rel=1e-9)
    assert info.entries_processed == 24_000
    # the dashboard counts every chunk once: the lost batch's records never left its worker
    assert merged["chunks"] == info.chunks and merged["entries"] == 24_000


def test_bench_simulate_measures_the_scheduler_and_calibrates_the_model(tmp_path, capsys):
    from hepflow.bench.cli import main

    out = tmp_path / "sim"
    assert main(["bench", "simulate", "--workers", "50", "--processes", "2",
                 "--chunk-seconds", "0.1", "--baseline-chunks-per-worker", "4",
                 "--min-seconds", "1",
                 "--out", str(out), "--targets", "10,1000"]) == 0
    text = capsys.readouterr().out
    assert "per-chunk" in text and "batched" in text and "calibrated model" in text
    import json

    result = json.loads((out / "simulate.json").read_text())
    per_chunk, batched = result["points"]
    assert per_chunk["batch_chunks"] == 1 and batched["batch_chunks"] == 8
    # batches: a scheduler task per 8 chunks instead of per chunk (+ the merges)
    assert batched["tasks"] / batched["chunks"] < 0.3 < per_chunk["tasks"] / per_chunk["chunks"]
    for point in result["points"]:
        assert 0 < point["efficiency"] <= 1.05 and point["scheduler_cpu_s"] > 0
    assert result["calibration"]["task_overhead_s"] > 0
    assert [row["workers"] for row in result["model"]["predictions"]] == [10, 1000]
    calibrated = json.loads((out / "calibrated-scaling.json").read_text())
    assert calibrated["task_overhead_s"] == result["calibration"]["task_overhead_s"]


def test_sizing_balances_workers_and_the_schedulers_capacity():
    from hepflow.engine.sizing import Scheduling, auto_chunk_entries, batch_level

    conf = Scheduling(task_seconds=1.67e-3, load_fraction=0.5, chunks_per_worker=4)
    # ttbar's 76 ms chunks on 500 slots: tasks of >= 22 chunks -> batches of 64 chunks
    level, tail, why = batch_level(128_000, 500, 0.076, 8, conf)
    assert (level, tail) == (2, 500 * 8 * 2) and "scheduler under 50%" in why
    # too few chunks for that: load balance wins (4 tasks per slot)
    assert batch_level(4_000, 500, 0.076, 8, conf)[0] == 0
    assert batch_level(20, 2, 0.076, 8, conf)[0] == 0
    # chunks: several per worker, at least min-chunk-seconds long, capped
    entries, why = auto_chunk_entries(10**9, 100, 0.6e-6, conf)
    assert entries == conf.max_chunk_entries and "capped" in why
    entries, _ = auto_chunk_entries(4_000_000, 10, 0.6e-6, conf)
    assert entries == 100_000
    entries, why = auto_chunk_entries(40_000, 2, 1e-6, conf)
    assert entries == 50_000 and "at least 50 ms" in why
    # a dataset small for the cluster: 10^9 ttbar events on 1000 slots are 0.6 s per slot,
    # and 4 tasks per slot would keep the scheduler busy 7 s: one chunk per slot instead
    entries, why = auto_chunk_entries(10**9, 1000, 0.608e-6, conf)
    assert entries == 1_000_000 and "would be over 50%" in why
    # 3 per slot where the scheduler affords 3 but not 4
    fast = Scheduling(task_seconds=0.1e-3, load_fraction=0.5, chunks_per_worker=4)
    assert auto_chunk_entries(10**9, 1000, 0.608e-6, fast)[0] == 333_334
