"""Events -> models: feature specs, distributed training, model bundles, in-graph inference.

    features = hepflow.ml.Features(["MET_pt", "nJet"], [hepflow.ml.Jagged(["Jet_pt"], 4)],
                                   label="is_signal", weight="genWeight",
                                   negative_weights="abs")
    result = hepflow.ml.train_xgboost(df, features)   # or train_keras / train_torch
    net = hepflow.ml.train_keras(df, features, hepflow.ml.DenseNetwork(hidden=(64, 32)))
    onnx = hepflow.ml.to_onnx(result.bundle)          # the same model for onnxruntime
    result.save("bundle/")
    scored = hepflow.ml.Predict(df, hepflow.ml.load("bundle/"), "score")

xgboost and TensorFlow are imported only when a training or prediction needs
them (TensorFlow takes seconds to import); install them with `hepflow[ml]`,
PyTorch with `hepflow[torch]`, the ONNX converters and onnxruntime with `hepflow[onnx]`,
hls4ml (`export_hls4ml`: FPGA firmware, checked in C simulation) with `hepflow[fpga]`.
`Features(..., task="regression")` trains a continuous target (a true pT) and
reports bias and resolution (`hepflow.ml.regression`) instead of an AUC.
`DataLoader` streams batches of a selection into any framework's own loop.
"""

from hepflow.ml import regression
from hepflow.ml.bundle import Bundle, load
from hepflow.ml.dense import DenseNetwork
from hepflow.ml.errors import TrainingError
from hepflow.ml.features import Features, Jagged
from hepflow.ml.hls_export import HLSReport, export_hls4ml, suggest_precision
from hepflow.ml.keras import train_keras
from hepflow.ml.loader import DataLoader
from hepflow.ml.metrics import roc_auc, roc_curve
from hepflow.ml.normalise import Normalisation
from hepflow.ml.onnx_export import to_onnx
from hepflow.ml.predict import Predict
from hepflow.ml.prepare import PreparedData, prepare
from hepflow.ml.results import Scores, TrainResult
from hepflow.ml.split import Split
from hepflow.ml.torch_train import train_torch
from hepflow.ml.xgb import train_xgboost

__all__ = [
    "Bundle",
    "DataLoader",
    "DenseNetwork",
    "Features",
    "HLSReport",
    "Jagged",
    "Normalisation",
    "Predict",
    "PreparedData",
    "Scores",
    "Split",
    "TrainResult",
    "TrainingError",
    "export_hls4ml",
    "load",
    "prepare",
    "regression",
    "roc_auc",
    "roc_curve",
    "suggest_precision",
    "to_onnx",
    "train_keras",
    "train_torch",
    "train_xgboost",
]
