"""Which device a worker computes on, and which collective backend goes with it.

`device="auto"` takes the worker's GPU where torch sees one (dask-cuda gives
each worker one through CUDA_VISIBLE_DEVICES; Slurm's `--gres=gpu:1` does the
same per job) and the CPU otherwise; `"cuda"` insists on a GPU and fails
clearly on a worker without one; `"cpu"` never touches a GPU. DDP then runs
NCCL between GPUs and gloo between CPUs.
"""

from __future__ import annotations

from typing import Any, Literal

from hepflow.ml.errors import PlanError, TrainingError

DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def import_torch() -> Any:
    """torch, or a clear message saying which extra installs it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PlanError("PyTorch is not installed: pip install 'hepflow[torch]'") from exc
    return torch


def check_choice(device: Any) -> DeviceChoice:
    """Refuse, on the client, a device that is none of auto, cpu, cuda."""
    if device not in DEVICE_CHOICES:
        raise PlanError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")
    return device  # type: ignore[no-any-return]


def resolve(device: DeviceChoice, local_rank: int = 0) -> str:
    """The concrete device of this process: "cpu" or "cuda:<n>"."""
    torch = import_torch()
    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise TrainingError("device='cuda', but this worker sees no GPU (torch.cuda."
                            "is_available() is False): start GPU workers (dask-cuda, Slurm "
                            "--gres=gpu:1) or pass device='auto' or 'cpu'")
    if device == "cpu" or not available:
        return "cpu"
    return f"cuda:{local_rank % torch.cuda.device_count()}"


def backend(resolved: str) -> str:
    """The torch.distributed backend for a device: NCCL on GPUs, gloo on CPUs."""
    return "nccl" if resolved.startswith("cuda") else "gloo"


def torch_device(device: Any) -> Any:
    """A torch.device for `as_torch(device=...)`: None is the CPU, "auto" a GPU if any."""
    torch = import_torch()
    if device is None:
        return torch.device("cpu")
    if device in DEVICE_CHOICES:
        return torch.device(resolve(device))
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise PlanError(f"device {device!r} is not a torch device: {err}") from err


__all__ = ["DEVICE_CHOICES", "DeviceChoice", "backend", "check_choice", "import_torch",
           "resolve", "torch_device"]
