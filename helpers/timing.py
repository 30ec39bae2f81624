"""Timing code honestly: warm-up, synchronise, repeat, report the median and the spread.

Introduced in notebook 00 (CPU vs device matrix multiply); notebook 03 builds its batch
size sweep on it.

Why not ``torch.utils.benchmark.Timer``, which does warm-up, repeats and synchronisation
too (``blocked_autorange``, ``Compare``)? It is the tool to reach for outside this course,
and three of its choices do not fit what these notebooks measure:

- it runs ``stmt`` with ``num_threads=1`` unless told otherwise, while notebook 00 compares
  the CPU as PyTorch normally uses it with the device;
- each of its measurements is the mean of a block of calls whose size it picks itself, so
  the spread it reports is between blocks; notebook 03 reports the spread between single
  timed calls, in rounds interleaved across batch sizes, with a fixed, stated warm-up;
- its clock synchronises whichever accelerator is present (``torch.accelerator``), not the
  device the code runs on; :func:`benchmark` synchronises ``device`` (CUDA or MPS) only.

:func:`benchmark` is the 20-line loop a learner can read and check in full.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .device import synchronize


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` timed calls, after ``warmup`` untimed ones."""

    median: float
    min: float
    max: float
    mean: float
    stdev: float
    repeats: int
    warmup: int

    def spread(self) -> float:
        """Return ``(max - min) / median``: the run-to-run spread as a fraction of the median."""
        return (self.max - self.min) / self.median if self.median > 0 else float("inf")


def benchmark(fn: Callable[[], object], *, device: torch.device | str = "cpu", warmup: int = 3,
              repeats: int = 10, min_seconds: float = 0.0) -> Timing:
    """Return a :class:`Timing` of ``fn()`` on ``device`` (notebook 00).

    Runs ``fn`` ``warmup`` times untimed (first calls pay for allocation, kernel selection and
    caches), then ``repeats`` timed calls, each followed by :func:`helpers.device.synchronize`
    so that queued GPU work is counted. Keeps repeating past ``repeats`` until the timed calls
    add up to at least ``min_seconds``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return Timing(
        median=statistics.median(times), min=min(times), max=max(times),
        mean=statistics.fmean(times), stdev=statistics.stdev(times) if len(times) > 1 else 0.0,
        repeats=len(times), warmup=warmup,
    )
