"""ONNX twins of bundles: the same features, normalisation and classes, an ONNX model.

`to_onnx(bundle)` converts the model of a torch, xgboost or Keras bundle and
returns a new bundle of kind "onnx", which `load`, `Predict` and `hepflow
serve` run with onnxruntime. `bundle.json` stays the contract: the feature
spec and normalisation are copied unchanged, so the ONNX graph takes exactly
the input matrix the original took (input "inputs", (n, features) float32)
and gives the same scores (output "scores": (n,) for two classes, (n, K)
otherwise). The converter of each framework: torch's own exporter, onnxmltools
for xgboost, tf2onnx for Keras; each needs `hepflow[onnx]`.
"""

from __future__ import annotations

import io
import warnings
from typing import Any, ClassVar

from hepflow.ml.bundle import Bundle
from hepflow.ml.errors import PlanError
from hepflow.ml.runtimes import INPUTS, SCORES
from hepflow.ml.tfsetup import import_tf

OPSET = 17
#: The newest opset onnxmltools converts tree ensembles to.
XGBOOST_OPSET = 15


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PlanError("ONNX export needs onnx: pip install 'hepflow[onnx]'") from exc
    return onnx


class TorchExport:
    """TorchScript module -> ONNX with torch's TorchScript-based exporter (dynamic batch)."""

    kind: ClassVar[str] = "torch"

    @staticmethod
    def convert(bundle: Bundle) -> bytes:
        from hepflow.ml.device import import_torch

        torch = import_torch()
        _onnx()
        example = torch.zeros((2, bundle.features.n_inputs), dtype=torch.float32)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # a TorchScript module has no Python signature; its one input is named here
            warnings.filterwarnings("ignore", "no signature found", UserWarning)
            torch.onnx.export(bundle.model, (example,), buffer, dynamo=False,
                              input_names=[INPUTS], output_names=[SCORES],
                              opset_version=OPSET,
                              dynamic_axes={INPUTS: {0: "events"}, SCORES: {0: "events"}})
        return buffer.getvalue()


class XGBoostExport:
    """xgboost Booster -> ONNX with onnxmltools; "scores" picks xgboost's own predict output."""

    kind: ClassVar[str] = "xgboost"

    @staticmethod
    def convert(bundle: Bundle) -> bytes:
        onnx = _onnx()
        try:
            from onnxmltools.convert import convert_xgboost
            from onnxmltools.convert.common.data_types import FloatTensorType
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise PlanError("xgboost -> ONNX needs onnxmltools: pip install 'hepflow[onnx]'"
                            ) from exc
        import xgboost

        booster = xgboost.Booster()  # a copy: the cached model keeps its own feature names
        booster.load_model(bytearray(bundle.model_bytes))
        width = bundle.features.n_inputs
        # onnxmltools reads the feature count from the booster's feature names (f0, f1, ...)
        booster.feature_names = [f"f{i}" for i in range(width)]
        model = convert_xgboost(booster, initial_types=[(INPUTS, FloatTensorType([None, width]))],
                                target_opset=XGBOOST_OPSET)
        _name_scores(onnx, model, two_classes=len(bundle.classes) <= 2)
        return bytes(model.SerializeToString())


class KerasExport:
    """Keras model -> ONNX with tf2onnx, its output renamed "scores"."""

    kind: ClassVar[str] = "keras"

    @staticmethod
    def convert(bundle: Bundle) -> bytes:
        onnx = _onnx()
        try:
            tf = import_tf()
            import tf2onnx
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise PlanError("Keras -> ONNX needs tf2onnx: pip install 'hepflow[onnx]'") from exc
        spec = (tf.TensorSpec((None, bundle.features.n_inputs), tf.float32, name=INPUTS),)
        try:
            # Keras 3 models go through a tf.function: from_keras knows Keras 2 only
            keras_model = bundle.model
            function = tf.function(lambda x: keras_model(x, training=False),
                                   input_signature=spec)
            model, _ = tf2onnx.convert.from_function(function, input_signature=spec,
                                                     opset=OPSET)
        except Exception as err:  # tf2onnx fails in many ways on models it does not know
            raise PlanError(f"tf2onnx could not convert this Keras model: "
                            f"{type(err).__name__}: {err}") from err
        _name_scores(onnx, model, two_classes=False, output=model.graph.output[0].name)
        return bytes(model.SerializeToString())


def _name_scores(onnx: Any, model: Any, *, two_classes: bool, output: str | None = None,
                 ) -> None:
    """Add the output "scores": the class-1 probability (two classes) or all of them."""
    helper = onnx.helper
    source = output or next(o.name for o in model.graph.output if "prob" in o.name)
    if two_classes:
        one = helper.make_tensor("hepflow_class1", onnx.TensorProto.INT64, [], [1])
        model.graph.initializer.append(one)
        node = helper.make_node("Gather", [source, "hepflow_class1"], [SCORES], axis=1)
        shape: list[Any] = [None]
    else:
        node = helper.make_node("Identity", [source], [SCORES])
        shape = [None, None]
    model.graph.node.append(node)
    model.graph.output.append(helper.make_tensor_value_info(SCORES, onnx.TensorProto.FLOAT,
                                                            shape))


_EXPORTS = {e.kind: e for e in (TorchExport, XGBoostExport, KerasExport)}


def to_onnx(bundle: Bundle) -> Bundle:
    """The bundle's ONNX twin: same features, normalisation, classes and provenance."""
    if not isinstance(bundle, Bundle):
        raise PlanError(f"to_onnx takes a hepflow.ml.Bundle, got {type(bundle).__name__}")
    if bundle.kind == "onnx":
        return bundle
    export = _EXPORTS.get(bundle.kind)
    if export is None:
        raise PlanError(f"no ONNX export for {bundle.kind!r} bundles")
    payload = export.convert(bundle)
    metrics = dict(bundle.metrics)
    metrics["exported_from"] = {"kind": bundle.kind, "token": bundle.token, "opset": OPSET}
    return Bundle("onnx", payload, bundle.features, bundle.normalisation, dict(bundle.classes),
                  dict(bundle.provenance), metrics)


__all__ = ["OPSET", "KerasExport", "TorchExport", "XGBoostExport", "to_onnx"]
