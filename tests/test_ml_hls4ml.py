"""A Keras dense regression exported with hls4ml and checked in its C simulation (g++).

The model regresses the leading muon's pT correction GenMuon_pt / Muon_pt (about 1,
so it fits a 16-bit fixed-point output). hls4ml writes the project and compiles
the C simulation with g++; no vendor tool is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hepflow
import hepflow.ml as ml
from hepflow.errors import PlanError
from hepflow.ml.hls_export import AccuracyWarning, fractional_bits

pytest.importorskip("hls4ml")  # the `fpga` extra; CI installs it with the test extra

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FEATURES = ml.Features(["mu_pt", "mu_eta", "mu_iso"], label="correction", task="regression")


def model_fn(input_shape: tuple[int, ...]) -> Any:
    import keras

    model = keras.Sequential([keras.Input(input_shape),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


@pytest.fixture(scope="module")
def hls_client() -> Iterator[Any]:
    """Workers of this module's own: the Keras scoring loads TensorFlow into them."""
    import distributed

    from hepflow.cluster import local_cluster

    with local_cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def trained(sample_files: list[str], hls_client: Any) -> ml.TrainResult:
    df = hepflow.RDataFrame("Events", sample_files[:1], client=hls_client).Filter("nMuon >= 1")
    df = (df.Define("mu_pt", "Muon_pt[0]").Define("mu_eta", "Muon_eta[0]")
          .Define("mu_iso", "Muon_pfRelIso04_all[0]")
          .Define("correction", "GenMuon_pt[0] / Muon_pt[0]"))
    return ml.train_keras(df, FEATURES, model_fn, epochs=4, batch_size=256, strategy="local",
                          patience=None, progress=False, seed=3)


def test_c_simulation_agrees_with_the_float_model(trained: ml.TrainResult,
                                                  tmp_path: Path) -> None:
    report = ml.export_hls4ml(trained, tmp_path / "prj", precision="ap_fixed<16,6>",
                              max_events=400)
    # ap_fixed<16,6> has 10 fractional bits: one step is 2**-10 ~ 0.001; the tolerance
    # is 32 steps (0.031), against outputs of about 1: rounding in two layers stays well
    # inside it
    assert fractional_bits("ap_fixed<16,6>") == 10
    assert report.tolerance == pytest.approx(32 * 2.0 ** -10)
    assert report.events == 400
    assert report.max_deviation <= report.tolerance
    assert 0 < report.mean_deviation <= report.max_deviation
    assert not report.lossy and report.reasons == []
    assert report.metric == "width68"
    assert report.fixed_metric == pytest.approx(report.float_metric, rel=0.05)
    assert report.estimates["multiplications"] == 3 * 8 + 8 * 1
    project = tmp_path / "prj"
    assert (project / "hls4ml_config.yml").is_file()
    assert json.loads((project / "normalisation.json").read_text())["inputs"] == \
        ["mu_pt", "mu_eta", "mu_iso"]
    assert json.loads((project / "hepflow_report.json").read_text())["lossy"] is False


def test_too_narrow_precision_is_reported(trained: ml.TrainResult, tmp_path: Path) -> None:
    with pytest.warns(AccuracyWarning, match="loses accuracy"):
        report = ml.export_hls4ml(trained, tmp_path / "narrow", precision="ap_fixed<6,2>",
                                  max_events=400)
    assert report.lossy and report.reasons
    assert "LOSES ACCURACY" in str(report)


def test_suggested_precision_and_bad_arguments(trained: ml.TrainResult,
                                               tmp_path: Path) -> None:
    from hepflow.ml.prepare import gather_split
    from hepflow.ml.split import TEST

    x, _, _ = gather_split(trained.prepared, TEST)  # type: ignore[arg-type]
    suggested = ml.suggest_precision(trained.bundle, x[:200])
    assert len(suggested) == 2
    assert all(p.startswith("ap_fixed<16,") for p in suggested.values())
    per_layer = ml.export_hls4ml(trained, tmp_path / "per-layer", layer_precision=suggested,
                                 max_events=200)
    assert per_layer.events == 200 and not per_layer.lossy
    config = (tmp_path / "per-layer" / "hls4ml_config.yml").read_text()
    for name, precision in suggested.items():
        assert name in config and precision in config
    with pytest.raises(PlanError, match="no layer"):
        ml.export_hls4ml(trained, tmp_path / "bad", layer_precision={"nope": "ap_fixed<8,3>"})
    for bad, match in [({"precision": "ap_fixed<16,6>; rm -rf /"}, "fixed-point type"),
                       ({"io_type": "io_serial"}, "io_type"),
                       ({"backend": "Quartus9"}, "backend"),
                       ({"reuse_factor": 0}, "reuse_factor"),
                       ({"part": "xcu250; exec rm"}, "FPGA part name")]:
        with pytest.raises(PlanError, match=match):
            ml.export_hls4ml(trained, tmp_path / "bad", **bad)
    with pytest.raises(PlanError, match="Keras bundles"):
        xgb_like = ml.Bundle("xgboost", b"x", trained.bundle.features,
                             trained.bundle.normalisation, {})
        ml.export_hls4ml(xgb_like, tmp_path / "bad")
