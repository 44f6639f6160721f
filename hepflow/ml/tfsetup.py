"""Importing TensorFlow quietly and only when needed.

TensorFlow takes seconds to import and prints C++ log lines at start-up, so
hepflow imports it inside the functions that train or predict with Keras,
never at module level, and sets its log level first (unless the user did).

XRootD's client library, when installed, is loaded before TensorFlow: loaded
after TensorFlow's shared libraries, it crashes the process (SIGSEGV, xrootd
6.2 with TensorFlow 2.21), and a worker that trained a Keras model may read
`root://` files next.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from typing import Any


def import_tf() -> Any:
    """`tensorflow`, imported with C++ info/warning logs silenced by default."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.suppress(ImportError):
        importlib.import_module("XRootD.client")
    try:
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from hepflow.ml.errors import PlanError

        raise PlanError("Keras training needs TensorFlow: pip install 'hepflow[ml]'") from exc
    tf.get_logger().setLevel("ERROR")
    return tf


def import_keras() -> Any:
    """`keras` (3.x, TensorFlow backend), after `import_tf`."""
    import_tf()
    import keras

    return keras


__all__ = ["import_keras", "import_tf"]
