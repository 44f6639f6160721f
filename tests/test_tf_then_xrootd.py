"""A process that imported TensorFlow through hepflow can still read root:// files.

Loading XRootD's client library after TensorFlow's crashed the process
(SIGSEGV): a worker that trained a Keras model and then read a root:// file,
or a session that trained before opening a remote dataset.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("XRootD.client", reason="the XRootD Python client is not installed")
pytest.importorskip("tensorflow", reason="TensorFlow is not installed")


def test_xrootd_loads_after_hepflow_imported_tensorflow() -> None:
    code = ("from hepflow.ml.tfsetup import import_tf\n"
            "import_tf()\n"
            "import fsspec_xrootd\n"
            "from XRootD import client\n"
            "print('read root:// after TensorFlow')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "read root:// after TensorFlow" in done.stdout
