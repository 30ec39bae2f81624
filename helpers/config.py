"""Run-wide settings: the mode (fast or full), the device asked for, seeding and the data folder.

Introduced in notebook 00; every notebook reads these in its first code cell.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

MODES = ("fast", "full")
DEVICE_CHOICES = "cpu, cuda, cuda:N (N = 0 for the first GPU) or mps (Apple)"
_DEVICE = re.compile(r"cpu|mps|cuda(:\d+)?")
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """An environment variable holds a value the course cannot use."""


def normalise_mode(value: str | None) -> str | None:
    """Return ``COURSE_MODE`` as notebooks read it: stripped, lower-case or None (notebook 00).
    The one spelling rule, shared by :func:`mode` and conftest.py's time budget; validity is
    :func:`mode`'s job."""
    value = (value or "").strip().lower()
    return value or None


def mode() -> str:
    """Return ``"fast"`` or ``"full"`` from ``COURSE_MODE`` (notebook 00). Unset or empty:
    ``"full"`` when CUDA is available, else ``"fast"``; any other value than these two (in any
    spelling) raises :class:`ConfigError` naming the allowed values."""
    value = normalise_mode(os.environ.get("COURSE_MODE"))
    if value is None:
        return "full" if torch.cuda.is_available() else "fast"
    if value not in MODES:
        raise ConfigError(
            f"COURSE_MODE={os.environ['COURSE_MODE']!r} is not a mode. "
            f"Use COURSE_MODE=fast (small, CPU-friendly) or COURSE_MODE=full (full size, for a GPU), "
            f"or unset it to choose automatically."
        )
    return value


def device_setting() -> str | None:
    """Return ``COURSE_DEVICE``: ``cpu``, ``cuda``, ``cuda:N``, ``mps``, or None (notebook 00).
    Anything else (``xpu``, ``meta``...) raises :class:`ConfigError`; whether this machine has
    the device is :func:`helpers.device.pick_device`'s question."""
    raw = os.environ.get("COURSE_DEVICE", "")
    value = raw.strip().lower()
    if not value:
        return None
    if not _DEVICE.fullmatch(value):
        raise ConfigError(f"COURSE_DEVICE={raw!r} is not a device this course runs on. "
                          f"Use {DEVICE_CHOICES}, or unset it to choose automatically.")
    return value


def fast_or_full(*, fast: T, full: T) -> T:
    """Return ``fast`` in fast mode and ``full`` in full mode (:func:`mode`; notebook 00).

    One setting's two values side by side, where a teacher reads them: ``EPOCHS = fast_or_full(fast=1, full=10)``.
    """
    return fast if mode() == "fast" else full


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (CPU and every GPU); return the seed (notebook 00). Repeatable
    on the same machine and software; a CPU and a GPU still differ in the last digits."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA devices too
    return seed


def data_path() -> Path:
    """Return the data folder's path, not created: ``COURSE_DATA`` or ``data/`` (notebook 00).
    ``~`` is expanded and a relative path starts at the repository root, so notebooks and ``make
    data`` find the same folder."""
    override = os.environ.get("COURSE_DATA", "").strip()
    return REPO_ROOT / Path(override).expanduser() if override else REPO_ROOT / "data"


def data_dir() -> Path:
    """Return the folder for downloaded and unpacked data, created if missing (notebook 00).
    Default: the repository's ``data/``; ``COURSE_DATA`` overrides it (:func:`data_path`)."""
    path = data_path()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"COURSE_DATA points to {path}, which is a file, not a folder. "
                          f"Point it at a folder, or unset it to use {REPO_ROOT / 'data'}.")
    path.mkdir(parents=True, exist_ok=True)
    return path
