"""Choosing a device, finding where a model lives, and describing the machine.

Introduced in notebook 00.
"""
from __future__ import annotations

import importlib.metadata
import platform
import sys

import torch
from torch import nn

from . import config


def pick_device() -> torch.device:
    """Return CUDA if available, else Apple MPS, else CPU (notebook 00). ``COURSE_DEVICE`` overrides
    the choice (:func:`helpers.config.device_setting`); a device this machine does not have
    raises ``RuntimeError``."""
    override = config.device_setting()
    if override:
        device = torch.device(override)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError(f"COURSE_DEVICE={override!r} but CUDA is not available here. "
                                   "Unset COURSE_DEVICE or set it to cpu.")
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise RuntimeError(f"COURSE_DEVICE={override!r} but this machine has "
                                   f"{torch.cuda.device_count()} CUDA device(s).")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"COURSE_DEVICE={override!r} but Apple MPS is not available here. "
                               "Unset COURSE_DEVICE or set it to cpu.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def model_device(module: nn.Module) -> torch.device:
    """Return the device of ``next(module.parameters())`` (notebook 00). Raises ``ValueError`` for a
    module without parameters (``nn.ReLU()``), whose device is not defined."""
    try:
        return next(module.parameters()).device
    except StopIteration:
        raise ValueError(
            f"{type(module).__name__} has no parameters, so it has no device of its own; "
            "ask the tensors it is given instead (tensor.device)."
        ) from None


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on ``device`` to finish; a no-op on CPU (notebooks 00 and 03).

    GPU calls return before the work is done: time only after synchronising.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def describe_environment() -> dict[str, str]:
    """Return a report of Python, torch, torchvision, CUDA, GPU, mode and device (notebook 00).

    Values are strings ready to print; nothing is printed here.
    """
    device = pick_device()
    report = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": _installed_version("torchvision"),
        "cuda available": str(torch.cuda.is_available()),
        "cuda version": str(torch.version.cuda) if torch.version.cuda else "none (CPU build)",
        "cpu threads": str(torch.get_num_threads()),
        "mode": config.mode(),
        "device": str(device),
    }
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        report["gpu count"] = str(count)
        for i in range(count):
            props = torch.cuda.get_device_properties(i)
            report[f"gpu {i}"] = f"{props.name}, {props.total_memory / 2**30:.1f} GiB"
    else:
        report["gpu count"] = "0"
    report["mps available"] = str(_mps_available())
    return report


def _installed_version(package: str) -> str:
    """The installed distribution's version, read from its metadata: importing torchvision takes 1.7 s."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
