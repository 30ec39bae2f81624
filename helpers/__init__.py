"""Shared helpers for the course notebooks: configuration, devices, data, training, plots.

Every notebook starts with ``import helpers`` (installed in the virtual environment by
``make run``), so the plumbing lives here and the lesson stays in the notebook.

Modules, by concern: ``config`` (mode, seed, data folder), ``device``, ``data`` (registry,
Fashion-MNIST), ``images`` (reading any photo safely), ``train``, ``plots``, ``timing``,
``sweep`` (throughput measurement, notebook 03), ``widgets`` (notebook 02), ``optim_plots``
(notebook 04), ``models`` (pretrained networks), ``doggy_door`` (notebook 05b's data and upload
panel), ``distributed`` (launching torchrun and Accelerate, notebook 06). The widget and
distributed modules are imported where used (``from helpers.widgets import kernel_editor``).
``results`` (``helpers.record``/``helpers.recorded``: key results of a run) and ``exercises`` with
``check`` (``helpers.check.<exercise>(answer)``: the exercises' checks, one module per notebook)
serve every notebook; see docs/exercises.md.
"""
from .config import ConfigError, data_dir, mode, pick, seed_everything
from .data import ChecksumMismatch, DataNotFound, as_tensors, fashion_mnist, prepare_fashion_mnist
from .device import describe_environment, model_device, pick_device, synchronize
from .images import load_rgb, scan_images
from .models import (CAT_CLASSES, DOG_CLASSES, WeightsUnavailable, imagenet_label,
                     pretrained)
from .plots import plot_history, show_images
from .results import RecordError, record, recorded
from .sweep import throughput_sweep, training_throughput
from .timing import Timing, benchmark
from .train import batches, evaluate, fit
from . import check  # noqa: E402  (helpers.check.<exercise>; imports torch-only check modules)

__all__ = [
    "CAT_CLASSES", "ChecksumMismatch", "ConfigError", "DOG_CLASSES", "DataNotFound", "RecordError", "Timing",
    "WeightsUnavailable", "as_tensors", "batches", "benchmark", "data_dir", "describe_environment",
    "evaluate", "fashion_mnist", "fit", "imagenet_label", "load_rgb", "mode", "model_device", "pick",
    "pick_device", "plot_history", "prepare_fashion_mnist", "pretrained", "record", "recorded", "scan_images", "seed_everything",
    "show_images", "synchronize", "throughput_sweep", "training_throughput",
]
