"""A bundle as a model of an NVIDIA Triton model repository.

``export_triton(bundle, "model_repository", "ttbar")`` writes what Triton's
ONNX Runtime backend loads::

    model_repository/ttbar/config.pbtxt      platform, input "inputs" [-1, features],
                                             output "scores"; the feature order as a parameter
    model_repository/ttbar/1/model.onnx      the bundle's ONNX twin (`hepflow.ml.onnx_export`)
    model_repository/ttbar/hepflow/          the ONNX bundle itself: bundle.json describes the
                                             preprocessing (padding, masks, normalisation)

Triton ignores the non-numeric ``hepflow`` folder. The served model takes the
*prepared* matrix (as the bundle's model does), so a client prepares the raw
columns with ``bundle.json`` first; `hepflow serve` instead takes raw columns
and prepares them itself.
"""

from __future__ import annotations

from pathlib import Path

from hepflow.errors import PlanError
from hepflow.ml.bundle import Bundle
from hepflow.ml.runtimes import INPUTS, SCORES
from hepflow.serve.registry import valid_name


def config_pbtxt(bundle: Bundle, name: str) -> str:
    """The ``config.pbtxt`` of the bundle's ONNX model (no batching dimension of Triton's)."""
    classes = len(bundle.classes)
    out_dims = "-1" if classes <= 2 else f"-1, {classes}"
    features = ",".join(bundle.features.input_names)
    columns = ",".join(bundle.features.input_columns)
    return (f'name: "{name}"\n'
            'platform: "onnxruntime_onnx"\n'
            "max_batch_size: 0\n"
            f'input [ {{ name: "{INPUTS}" data_type: TYPE_FP32 '
            f"dims: [ -1, {bundle.features.n_inputs} ] }} ]\n"
            f'output [ {{ name: "{SCORES}" data_type: TYPE_FP32 dims: [ {out_dims} ] }} ]\n'
            f'parameters {{ key: "hepflow_columns" value: {{ string_value: "{columns}" }} }}\n'
            f'parameters {{ key: "hepflow_inputs" value: {{ string_value: "{features}" }} }}\n')


def export_triton(bundle: Bundle, repository: str | Path, name: str, *,
                  version: int = 1) -> Path:
    """Write `bundle` as model `name` (version `version`) of a Triton model repository."""
    from hepflow.ml.onnx_export import to_onnx

    if not valid_name(name):
        raise PlanError(f"{name!r} is not a valid model name (letters, digits, `.`, `_`, `-`)")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PlanError(f"version must be a positive integer, got {version!r}")
    folder = Path(repository) / name
    if (folder / str(version)).exists():
        raise PlanError(f"{folder / str(version)} exists already; pick another version")
    twin = to_onnx(bundle)
    (folder / str(version)).mkdir(parents=True)
    (folder / str(version) / "model.onnx").write_bytes(twin.model_bytes)
    (folder / "config.pbtxt").write_text(config_pbtxt(twin, name), encoding="utf-8")
    twin.save(folder / "hepflow")
    return folder


__all__ = ["config_pbtxt", "export_triton"]
