"""Shared helpers for the course notebooks: the plumbing, so that the lesson stays in the notebook.
Names several notebooks use are re-exported as ``helpers.NAME``; photos and plots load on first
use (``_LAZY``), so ``import helpers`` stays light (ARCHITECTURE.md: the modules, the rules)."""
from importlib import import_module

from . import check as check  # helpers.check.<exercise>(answer); imports only torch
from .config import ConfigError, data_dir, fast_or_full, mode, seed_everything
from .data import DataNotFound, as_tensors, fashion_mnist, prepare_fashion_mnist
from .device import describe_environment, model_device, pick_device, synchronize
from .files import ChecksumMismatch
from .models import CAT_CLASSES, DOG_CLASSES, WeightsUnavailable, imagenet_label, pretrained
from .results import RecordError, record, recorded
from .timing import benchmark
from .train import evaluate, fit

_LAZY = {  # name -> module that defines it, imported when the name is first used
    "load_rgb": "images",
    "scan_images": "images",
    "plot_history": "plots",
    "show_images": "plots",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CAT_CLASSES", "ChecksumMismatch", "ConfigError", "DOG_CLASSES", "DataNotFound", "RecordError",
    "WeightsUnavailable", "as_tensors", "benchmark", "data_dir", "describe_environment",
    "evaluate", "fashion_mnist", "fit", "imagenet_label", "load_rgb", "mode", "model_device", "fast_or_full",
    "pick_device", "plot_history", "prepare_fashion_mnist", "pretrained", "record", "recorded", "scan_images",
    "seed_everything",
    "show_images", "synchronize",
]
