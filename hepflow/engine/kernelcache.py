"""Compiled kernels on disk, and the seconds spent compiling them.

numba takes seconds to compile a C++ body's kernel, and every worker process of
every run would pay them again: a `hepflow run` starts fresh workers. numba's
own disk cache (``cache=True``) needs the function's source file, so the
kernel's generated syntax tree -- built from the checked IR, never from the
user's text -- is also written out as a file named by the hash of that tree
(and of hepflow's version and kernel helpers), and the code is compiled with
that file as its name. The next process with the same analysis finds the
machine code there and compiles nothing.

The seconds a thread spends compiling are counted per thread, so each chunk's
measurement (`hepflow.core.measure.Measurement`, ``seconds["compile"]``) gets
its own, and `RunInfo.compile_seconds` reports a run's.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from hepflow.dataset.scan import cache_dir
from hepflow.version import __version__

#: hepflow's files whose code a kernel calls: a change to them is a new kernel.
_HELPER_SOURCES = ("loopkernel.py", "exprkernel.py", "fourvector_scalar.py", "randomdraws.py")
_COUNTER = threading.local()


def kernel_dir() -> Path:
    """The kernels' directory, beside the preprocessing cache (``HEPFLOW_CACHE_DIR``)."""
    return cache_dir().parent / "kernels"


def _helpers_digest() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for name in _HELPER_SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


_HELPERS_DIGEST = _helpers_digest()


def source_file(module: ast.Module) -> Path | None:
    """The file that names `module`'s code for numba's cache (written once, by whoever
    comes first); None when the cache directory cannot be written (no disk cache)."""
    digest = hashlib.sha256(_HELPERS_DIGEST.encode())
    digest.update(ast.dump(module).encode())
    path = kernel_dir() / f"hepflow_kernel_{digest.hexdigest()[:40]}.py"
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write("# A hepflow kernel, generated from a checked C++ body (for numba's "
                    "cache; never imported).\n" + ast.unparse(module) + "\n")
        try:  # a link never replaces: a file another process wrote keeps its stamp
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError:
        return None
    return path


def module_namespace(source: Path, namespace: dict[str, Any]) -> dict[str, Any]:
    """`namespace` as the globals of a module named after `source`, in `sys.modules`.

    numba names a function's globals by its module, and a kernel loaded from the
    disk cache finds them again by importing that module: a module that is only
    a dictionary would be "dynamic", which numba does not cache.
    """
    name = source.stem
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__file__ = str(source)
        module.__dict__.update(namespace)
        sys.modules[name] = module
    return module.__dict__


def jit_module(module: ast.Module, namespace: dict[str, Any], label: str) -> dict[str, Any]:
    """`namespace` with every function of the generated `module` given to numba.

    The syntax tree was built from a checked tree, never from text; its functions are
    made from their code objects (nothing runs at module level), in order, so that each
    one's callees are jitted before it. The file named after the tree (`source_file`)
    lets numba's disk cache serve the next process; without one, `label` names the code.
    """
    import numba

    source = source_file(module)
    code = compile(module, str(source or label), "exec")
    if source is not None:  # numba finds a cached kernel's globals through its module
        namespace = module_namespace(source, namespace)
    jit = numba.njit(error_model="numpy", cache=source is not None)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            namespace[const.co_name] = jit(types.FunctionType(const, namespace))
    return namespace


_BUILDING = threading.Lock()
K = TypeVar("K")
V = TypeVar("V")


def built_once(kernels: dict[K, V], key: K, build: Callable[[K], V]) -> V:
    """`kernels[key]`, built by `build(key)` the first time, by one thread only (the
    others wait for it rather than compile the same kernel again)."""
    found = kernels.get(key)
    if found is None:
        with _BUILDING:
            found = kernels.get(key)
            if found is None:
                found = build(key)
                kernels[key] = found
    return found


@contextmanager
def compiling() -> Iterator[None]:
    """Count the block's seconds as this thread's compiling."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _COUNTER.seconds = compile_seconds() + time.perf_counter() - start


def compile_seconds() -> float:
    """Seconds this thread has spent compiling kernels so far."""
    return float(getattr(_COUNTER, "seconds", 0.0))


__all__ = ["built_once", "compile_seconds", "compiling", "jit_module", "kernel_dir",
           "module_namespace", "source_file"]
