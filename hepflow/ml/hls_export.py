"""A Keras dense bundle as FPGA firmware with hls4ml, checked in C simulation.

`export_hls4ml` writes an hls4ml project (the HLS C++ a vendor tool turns
into firmware), compiles its C simulation with g++ (`hls_model.compile()`,
no vendor tool needed) and runs it on the test events: the fixed-point
predictions against the float model (largest and mean deviation) and what
that does to the physics (resolution and bias of a regression, AUC of a
classifier). A precision too narrow for the network is reported as losing
accuracy (`HLSReport.lossy`, with the reasons, and a warning).

The bundle's normalisation is not folded into the firmware: a folded first
layer would take raw values (a pT of 200 GeV), far outside the range of a
16-bit fixed-point input. The firmware takes the normalised inputs,
(x - shift) / scale per input (`normalisation.json` in the project, the
scaling the upstream trigger stage applies); the C simulation here is fed
exactly those.

Synthesis (latency, resources) needs the vendor's tools: see the README;
`HLSReport.estimates` holds only what follows from the layer sizes.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.ml import regression
from hepflow.ml.bundle import Bundle
from hepflow.ml.errors import PlanError
from hepflow.ml.metrics import roc_auc

_PRECISION = re.compile(r"ap_(u?fixed)<\s*(\d{1,3})\s*,\s*(-?\d{1,3})\s*"
                        r"(?:,\s*AP_[A-Z0-9_]+\s*){0,3}>")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
IO_TYPES = ("io_parallel", "io_stream")
BACKENDS = ("Vitis", "Vivado")
#: A deviation of up to this many steps of the output's last bit is rounding, not a loss.
TOLERANCE_LSB = 32
#: Relative worsening of the resolution (regression) that counts as a loss of accuracy.
RESOLUTION_LOSS = 0.05
#: Drop of the AUC (classification) that counts as a loss of accuracy.
AUC_LOSS = 0.005


class AccuracyWarning(UserWarning):
    """The fixed-point firmware predicts noticeably worse than the float model."""


def fractional_bits(precision: str) -> int:
    """The fractional bits (W - I) of an `ap_fixed<W,I,...>` type; bad text refused."""
    match = _PRECISION.fullmatch(precision.strip()) if isinstance(precision, str) else None
    if match is None:
        raise PlanError(f"precision must be an hls4ml fixed-point type such as "
                        f"'ap_fixed<16,6>', got {precision!r}")
    width, integer = int(match.group(2)), int(match.group(3))
    if not 1 <= width <= 128 or integer > width:
        raise PlanError(f"precision {precision!r}: width must be 1..128 and at least the "
                        "integer bits")
    return width - integer


@dataclass
class HLSReport:
    """What the C simulation of the fixed-point model showed against the float model."""

    outdir: str
    precision: str
    events: int
    max_deviation: float
    mean_deviation: float
    tolerance: float  # TOLERANCE_LSB steps of the precision's last bit
    metric: str  # "width68" (regression), "auc" (classification) or "" without labels
    float_metric: float
    fixed_metric: float
    lossy: bool
    reasons: list[str] = field(default_factory=list)
    float_bias: float = float("nan")
    fixed_bias: float = float("nan")
    estimates: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_change(self) -> float:
        return self.fixed_metric - self.float_metric

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        head = (f"hls4ml {self.precision}: {self.events} events, fixed vs float max "
                f"{self.max_deviation:.3g}, mean {self.mean_deviation:.3g} (tolerance "
                f"{self.tolerance:.3g})")
        if self.metric:
            head += (f"; {self.metric} float {self.float_metric:.4f} -> fixed "
                     f"{self.fixed_metric:.4f}")
        return head + ("; LOSES ACCURACY: " + "; ".join(self.reasons) if self.lossy else "")


def _import_hls4ml() -> Any:
    try:
        import hls4ml
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PlanError("export_hls4ml needs hls4ml: pip install 'hepflow[fpga]'") from exc
    return hls4ml


def _dense_layers(model: Any) -> list[Any]:
    """The model's layers, checked to be what hls4ml's dense flow takes."""
    allowed = {"Dense", "Activation", "ReLU", "InputLayer", "Dropout"}
    layers = list(model.layers)
    odd = [type(layer).__name__ for layer in layers if type(layer).__name__ not in allowed]
    if odd:
        raise PlanError(f"export_hls4ml converts dense networks (Dense and activation "
                        f"layers); this model has {', '.join(sorted(set(odd)))}")
    return [layer for layer in layers if type(layer).__name__ == "Dense"]


def _test_data(source: Any, bundle: Bundle, test: Mapping[str, Any] | None,
               max_events: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(model inputs, labels or None) of the events the C simulation is compared on."""
    from hepflow.ml.prepare import columns_to_inputs, gather_split
    from hepflow.ml.results import TrainResult
    from hepflow.ml.split import TEST

    if test is not None:
        if not isinstance(test, Mapping):
            raise PlanError("test= takes a mapping of columns (the bundle's inputs and, for "
                            "the accuracy check, its label)")
        x = columns_to_inputs(bundle.features, bundle.normalisation, test)
        label = bundle.features.label_column
        y = np.asarray(test[label], dtype=np.float64) if label in test else None
    elif isinstance(source, TrainResult) and source.prepared is not None:
        x, y32, _ = gather_split(source.prepared, TEST)
        y = y32.astype(np.float64)
    else:
        raise PlanError("export_hls4ml needs events to compare on: pass a TrainResult (its "
                        "test split is used) or test={column: values}")
    if len(x) == 0:
        raise PlanError("export_hls4ml: no events to run the C simulation on")
    keep = slice(0, max_events)
    return np.ascontiguousarray(x[keep], dtype=np.float32), None if y is None else y[keep]


def _quality(regressing: bool, y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(metric, bias): the 68 % resolution and bias, or the AUC (bias NaN)."""
    if regressing:
        o = regression.report(y, pred, bins=1)["overall"]
        return float(o["width68"]), float(o["bias"])
    return roc_auc(y, pred), float("nan")


def _estimates(dense: list[Any], reuse_factor: int, io_type: str) -> dict[str, Any]:
    """Multiplications per inference and, per hls4ml's Latency strategy, the multipliers."""
    mults = 0
    for layer in dense:
        kernel = layer.get_weights()[0]
        mults += int(kernel.shape[0] * kernel.shape[1])
    return {"multiplications": mults,
            "multipliers_estimate": -(-mults // reuse_factor),
            "initiation_interval_estimate": reuse_factor, "io_type": io_type,
            "note": "from the layer sizes; latency and resources need vendor synthesis"}


def export_hls4ml(bundle: Any, outdir: str | Path, precision: str = "ap_fixed<16,6>",
                  reuse_factor: int = 1, io_type: str = "io_parallel", backend: str = "Vitis",
                  *, test: Mapping[str, Any] | None = None, max_events: int = 2000,
                  layer_precision: Mapping[str, str] | None = None,
                  part: str | None = None) -> HLSReport:
    """Write the hls4ml project of a Keras dense bundle, run its C simulation, compare.

    `bundle` is a Keras `Bundle` or the `TrainResult` of `train_keras` (whose test
    split is then the comparison); `test` gives the events instead, as columns.
    `precision` is the default fixed-point type, `layer_precision` overrides it
    per layer name (what `suggest_precision` returns). The report says how far
    the fixed-point predictions are from the float model's and what that does to
    the resolution or AUC; a precision that loses accuracy is flagged (`lossy`)
    and warned about (`AccuracyWarning`).
    """
    from hepflow.ml.results import TrainResult

    source = bundle
    if isinstance(bundle, TrainResult):
        bundle = bundle.bundle
    if not isinstance(bundle, Bundle):
        raise PlanError(f"export_hls4ml takes a Bundle or a TrainResult, not "
                        f"{type(bundle).__name__}")
    if bundle.kind != "keras":
        raise PlanError(f"export_hls4ml converts Keras bundles; this one holds {bundle.kind}")
    lsb = 2.0 ** -fractional_bits(precision)
    for p in (layer_precision or {}).values():
        fractional_bits(p)
    if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, int) or reuse_factor < 1:
        raise PlanError(f"reuse_factor must be a positive integer, got {reuse_factor!r}")
    if io_type not in IO_TYPES:
        raise PlanError(f"io_type must be one of {', '.join(IO_TYPES)}, got {io_type!r}")
    if backend not in BACKENDS:
        raise PlanError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if part is not None and not (isinstance(part, str) and _PART.fullmatch(part)):
        # the part name is written into the project's Tcl scripts
        raise PlanError(f"part must be an FPGA part name such as 'xcu250-figd2104-2L-e', "
                        f"got {part!r}")
    model = bundle.model
    dense = _dense_layers(model)
    x, y = _test_data(source, bundle, test, max_events)
    hls4ml = _import_hls4ml()
    granularity = "name" if layer_precision else "model"
    config = hls4ml.utils.config_from_keras_model(
        model, granularity=granularity, default_precision=precision,
        default_reuse_factor=reuse_factor, backend=backend)
    for name, p in (layer_precision or {}).items():
        layer = config.get("LayerName", {}).get(name)
        if layer is None:
            raise PlanError(f"layer_precision: the model has no layer {name!r}")
        precisions = layer.setdefault("Precision", {})
        for key in list(precisions) or ["result"]:
            precisions[key] = p
    out = Path(outdir)
    options: dict[str, Any] = {"hls_config": config, "output_dir": str(out),
                               "io_type": io_type, "backend": backend}
    if part:
        options["part"] = part
    hls_model = hls4ml.converters.convert_from_keras_model(model, **options)
    hls_model.compile()
    fixed = np.asarray(hls_model.predict(x), dtype=np.float64).reshape(len(x), -1)
    floating = np.asarray(model(x, training=False), dtype=np.float64).reshape(len(x), -1)
    (out / "normalisation.json").write_text(json.dumps(
        {"inputs": list(bundle.features.input_names),
         "normalisation": bundle.normalisation.to_dict(),
         "note": "the firmware takes (x - shift) / scale per input"}, indent=1))
    deviation = np.abs(fixed - floating)
    tolerance = TOLERANCE_LSB * lsb
    reasons = []
    if deviation.max() > tolerance:
        reasons.append(f"fixed-point outputs differ from the float model by up to "
                       f"{deviation.max():.3g}, beyond {TOLERANCE_LSB} steps of the last bit "
                       f"({tolerance:.3g})")
    metric, f_metric, x_metric, f_bias, x_bias = "", float("nan"), float("nan"), \
        float("nan"), float("nan")
    if y is not None and floating.shape[1] == 1:
        regressing = bundle.features.regression
        metric = "width68" if regressing else "auc"
        f_metric, f_bias = _quality(regressing, y, floating[:, 0])
        x_metric, x_bias = _quality(regressing, y, fixed[:, 0])
        if regressing and (x_metric > f_metric * (1 + RESOLUTION_LOSS)
                           or abs(x_bias - f_bias) > 0.25 * f_metric):
            reasons.append(f"resolution {f_metric:.4f} -> {x_metric:.4f}, bias "
                           f"{f_bias:+.4f} -> {x_bias:+.4f}")
        if not regressing and x_metric < f_metric - AUC_LOSS:
            reasons.append(f"AUC {f_metric:.4f} -> {x_metric:.4f}")
    report = HLSReport(str(out), precision, len(x), float(deviation.max()),
                       float(deviation.mean()), tolerance, metric, f_metric, x_metric,
                       bool(reasons), reasons, f_bias, x_bias,
                       _estimates(dense, reuse_factor, io_type))
    (out / "hepflow_report.json").write_text(json.dumps(report.to_dict(), indent=1))
    if reasons:
        warnings.warn(f"{precision} loses accuracy: {'; '.join(reasons)} (see "
                      "hepflow.ml.suggest_precision)", AccuracyWarning, stacklevel=2)
    return report


def suggest_precision(bundle: Bundle, inputs: np.ndarray, width: int = 16) -> dict[str, str]:
    """Per layer, an `ap_fixed<width, I>` whose integer bits hold its largest value.

    What hls4ml's profiling plots show, as numbers: for each Dense layer the
    largest magnitude among its weights, biases and outputs on `inputs` (model
    inputs, normalised) sets the integer bits I (with the sign bit); the rest
    of the width is fraction. Pass the result as `layer_precision=`.
    """
    import keras

    model = bundle.model
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    out: dict[str, str] = {}
    for layer in _dense_layers(model):
        probe = keras.Model(model.inputs[0], layer.output)
        values = [np.abs(np.asarray(probe(x, training=False))).max(initial=0.0)]
        values += [np.abs(w).max(initial=0.0) for w in layer.get_weights()]
        largest = float(max(values))
        integer = max(1, int(np.ceil(np.log2(largest + 1e-12))) + 1) if largest > 0 else 1
        out[layer.name] = f"ap_fixed<{width},{min(integer, width)}>"
    return out


__all__ = ["AccuracyWarning", "HLSReport", "export_hls4ml", "fractional_bits",
           "suggest_precision"]
