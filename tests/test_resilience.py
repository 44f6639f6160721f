"""A worker killed mid-run must not change the result: nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import signal
import threading
import time

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_killing_a_worker_mid_run_keeps_results_exact(tmp_path):
    import distributed

    from hepflow.samples import make_sample

    files = [str(p) for p in make_sample(tmp_path, events=24_000, files=2, seed=11,
                                         basket_entries=1_000)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        df = hepflow.RDataFrame("Events", files, client=client, chunk_entries=1_000)

        def slow_sum(pt: ak.Array) -> ak.Array:
            time.sleep(0.15)
            return ak.sum(pt, axis=1)

        d = df.Define("slow", slow_sum, ["Jet_pt"]).Filter("nJet >= 2", "two jets")
        count = d.Count()
        total = d.Sum("slow")
        events = d.Take("event")
        report = df.Report()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                count.GetValue()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            done = sum(1 for key in client.who_has() if "hepflow-chunk" in str(key))
            if done >= 3:
                break
            time.sleep(0.05)
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        assert not errors, errors

    parts = []
    for path in files:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays(["nJet", "Jet_pt", "event"]))
    ev = ak.concatenate(parts)
    mask = np.asarray(ev.nJet) >= 2
    assert count.GetValue() == int(mask.sum())
    assert events.GetValue().tolist() == np.asarray(ev.event)[mask].tolist()
    expected = float(np.sum(np.asarray(ak.sum(ev.Jet_pt, axis=1))[mask], dtype=np.float64))
    assert total.GetValue() == pytest.approx(expected, rel=1e-9)
    cut = report.GetValue()["two jets"]
    assert (cut.GetAll(), cut.GetPass()) == (len(mask), int(mask.sum()))
    assert count.run_info().entries_processed == 24_000
