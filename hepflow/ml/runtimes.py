"""Running the model formats beyond xgboost and Keras: TorchScript and ONNX.

One class per format, each with the bundle's file name, a loader from the
model's bytes and a batched prediction on a float32 input matrix. ONNX runs on
onnxruntime with one thread (like xgboost's `nthread=1`: a Dask worker or a
server thread is one core); its scores are the output named "scores", which
every hepflow export writes.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np

from hepflow.ml.errors import PlanError

_BATCH = 65536
#: The output of an exported model that holds the scores (what `Predict` uses).
SCORES = "scores"
INPUTS = "inputs"


class TorchScript:
    """A TorchScript module that maps inputs to scores (probabilities)."""

    file: ClassVar[str] = "model.pt"

    @staticmethod
    def load(payload: bytes) -> Any:
        from hepflow.ml.device import import_torch

        torch = import_torch()
        try:
            model = torch.jit.load(io.BytesIO(payload), map_location="cpu")
        except RuntimeError as err:
            raise PlanError(f"the bundle's model file is not a TorchScript module: {err}"
                            ) from err
        model.eval()
        return model

    @staticmethod
    def predict(model: Any, x: np.ndarray) -> np.ndarray:
        from hepflow.ml.device import import_torch

        torch = import_torch()
        with torch.no_grad():
            pieces = [model(torch.from_numpy(x[i:i + _BATCH])).numpy()
                      for i in range(0, len(x), _BATCH)]
        return np.concatenate(pieces) if pieces else np.zeros((0, 1), np.float32)


class Onnx:
    """An ONNX graph with input "inputs" (n, features) and output "scores"."""

    file: ClassVar[str] = "model.onnx"

    @staticmethod
    def load(payload: bytes) -> Any:
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise PlanError("ONNX bundles need onnxruntime: pip install 'hepflow[onnx]'"
                            ) from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(payload, options,
                                                   providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own error classes are not importable types
            raise PlanError(f"the bundle's model file is not a valid ONNX model: {err}"
                            ) from err
        names = [o.name for o in session.get_outputs()]
        if SCORES not in names or [i.name for i in session.get_inputs()] != [INPUTS]:
            raise PlanError(f"the bundle's ONNX model must take one input `{INPUTS}` and "
                            f"give an output `{SCORES}`; it has outputs {names}")
        return session

    @staticmethod
    def predict(model: Any, x: np.ndarray) -> np.ndarray:
        pieces = [model.run([SCORES], {INPUTS: x[i:i + _BATCH]})[0]
                  for i in range(0, len(x), _BATCH)]
        return np.concatenate(pieces) if pieces else np.zeros((0, 1), np.float32)


RUNTIMES: dict[str, type[TorchScript] | type[Onnx]] = {"torch": TorchScript, "onnx": Onnx}

__all__ = ["INPUTS", "RUNTIMES", "SCORES", "Onnx", "TorchScript"]
