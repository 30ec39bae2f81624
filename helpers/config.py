"""Run-wide settings: the mode (fast or full), seeding and the data folder.

Introduced in notebook 00; every notebook reads these in its first code cell.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

MODES = ("fast", "full")
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """An environment variable holds a value the course cannot use."""


def mode() -> str:
    """Return ``"fast"`` or ``"full"`` from ``COURSE_MODE`` (notebook 00).

    Unset or empty: ``"full"`` when CUDA is available, ``"fast"`` otherwise.
    Any other value raises :class:`ConfigError` naming the allowed values.
    """
    value = os.environ.get("COURSE_MODE", "").strip().lower()
    if not value:
        return "full" if torch.cuda.is_available() else "fast"
    if value not in MODES:
        raise ConfigError(
            f"COURSE_MODE={os.environ['COURSE_MODE']!r} is not a mode. "
            f"Use COURSE_MODE=fast (small, CPU-friendly) or COURSE_MODE=full (full size, for a GPU), "
            f"or unset it to choose automatically."
        )
    return value


def pick(*, fast: T, full: T) -> T:
    """Return ``fast`` or ``full`` depending on :func:`mode` (notebook 00).

    Example: ``EPOCHS = pick(fast=1, full=10)``.
    """
    return fast if mode() == "fast" else full


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (CPU and every GPU); return the seed (notebook 00).

    Seeding makes a run repeatable on the same machine and software; results on a
    CPU and a GPU still differ in the last digits.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA devices too
    return seed


def data_dir() -> Path:
    """Return the folder for downloaded and unpacked data, created if missing (notebook 00).

    Default: the repository's ``data/``. ``COURSE_DATA=/some/folder`` overrides it.
    """
    override = os.environ.get("COURSE_DATA", "").strip()
    path = Path(override).expanduser() if override else REPO_ROOT / "data"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"COURSE_DATA points to {path}, which is a file, not a folder. "
                          f"Point it at a folder, or unset it to use {REPO_ROOT / 'data'}.")
    path.mkdir(parents=True, exist_ok=True)
    return path
