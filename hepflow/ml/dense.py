"""A fully-connected Keras classifier described as data: a `model_fn` for `train_keras`.

`train_keras` takes any `model_fn(input_shape)` that returns a compiled Keras
model. Most taggers start as a plain stack of dense layers, and such a
network can be written down as a handful of numbers: layer sizes, an
activation, dropout and a learning rate. As data it can come from a file or
over HTTP (a training spec, ``hepflow serve --jobs``), where no user code
may run, and it is checked before anything trains. `DenseNetwork` is that
description; calling it builds the network, so a Python user passes it
where a hand-written `model_fn` would go::

    net = ml.DenseNetwork(hidden=(64, 32), activation="relu", learning_rate=1e-3)
    result = ml.train_keras(df, features, net, epochs=10, batch_size=1024)

It is a frozen dataclass of plain values defined in an importable module, so
it pickles to the Dask workers by reference, as `train_keras`'s multi-worker
strategy needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hepflow.ml.errors import PlanError
from hepflow.ml.tfsetup import import_keras

#: The hidden-layer activations a `DenseNetwork` takes: Keras's own names, a fixed list
#: so that a description from a file is checked without importing TensorFlow.
ACTIVATIONS = ("relu", "elu", "selu", "gelu", "silu", "swish", "tanh", "sigmoid",
               "softplus", "softsign", "leaky_relu", "mish", "linear")
#: Bounds that keep a described network a network one trains on a service's workers.
MAX_LAYERS = 16
MAX_UNITS = 4096


@dataclass(frozen=True, slots=True)
class DenseNetwork:
    """Dense layers of `hidden` units with `activation` (and `dropout` after each), then
    the output: one sigmoid unit with binary cross-entropy for ``outputs=1`` (two
    classes, labels 0/1), else `outputs` softmax units with sparse categorical
    cross-entropy (labels 0 .. outputs-1). Compiled with Adam at `learning_rate`.

    Every check runs when the description is made, so a mistake is named
    (``hidden: ...``, ``activation: ...``) before any data is read.
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    dropout: float = 0.0
    learning_rate: float = 1e-3
    outputs: int = 1

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        object.__setattr__(self, "hidden", hidden)
        if len(hidden) > MAX_LAYERS:
            raise PlanError(f"hidden: at most {MAX_LAYERS} hidden layers, got {len(hidden)}")
        for units in hidden:
            if isinstance(units, bool) or not isinstance(units, int) \
                    or not 1 <= units <= MAX_UNITS:
                raise PlanError(f"hidden: each layer size must be an integer from 1 to "
                                f"{MAX_UNITS}, got {units!r}")
        if self.activation not in ACTIVATIONS:
            raise PlanError(f"activation {self.activation!r} is not one hepflow builds "
                            f"networks with; use one of {', '.join(ACTIVATIONS)}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise PlanError(f"dropout must be a fraction from 0 (none) up to, not "
                            f"including, 1, got {self.dropout!r}")
        if not (isinstance(self.learning_rate, (int, float))
                and math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 10):
            raise PlanError(f"learning_rate must be a positive number (Adam's step, e.g. "
                            f"0.001), got {self.learning_rate!r}")
        if isinstance(self.outputs, bool) or not isinstance(self.outputs, int) \
                or not 1 <= self.outputs <= MAX_UNITS:
            raise PlanError(f"outputs must be 1 (two classes) or the number of classes, "
                            f"got {self.outputs!r}")

    def __call__(self, input_shape: tuple[int, ...]) -> Any:
        """The compiled Keras model for inputs of `input_shape` (`train_keras`'s contract)."""
        keras = import_keras()
        layers: list[Any] = [keras.Input(tuple(input_shape))]
        for units in self.hidden:
            layers.append(keras.layers.Dense(units, activation=self.activation))
            if self.dropout:
                layers.append(keras.layers.Dropout(self.dropout))
        binary = self.outputs == 1
        layers.append(keras.layers.Dense(self.outputs,
                                         activation="sigmoid" if binary else "softmax"))
        model = keras.Sequential(layers)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss="binary_crossentropy" if binary
                      else "sparse_categorical_crossentropy")
        return model


__all__ = ["ACTIVATIONS", "DenseNetwork"]
