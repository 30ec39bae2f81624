"""Timing code honestly: warm-up, synchronise, repeat, report median and spread (notebooks 00, 03).
Why not ``torch.utils.benchmark.Timer``: ARCHITECTURE.md, "Timing"; :func:`benchmark` is a loop a
learner can read and check in full."""
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
    ``warmup`` untimed calls (allocation, kernel choice, caches), then ``repeats`` timed calls
    (at least ``min_seconds`` in all), each followed by a synchronize so queued GPU work counts."""
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
