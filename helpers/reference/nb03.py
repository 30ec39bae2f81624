"""Notebook 03's reference linear learning-rate rule, imported by its student copy (see ``helpers.reference``)."""
from __future__ import annotations


def linear_scaled_lr(base_lr: float, base_batch: int, batch: int) -> float:
    "Return the learning rate at `batch` by the linear scaling rule (notebook 03's reference for Exercise 2)."
    return base_lr * batch / base_batch
