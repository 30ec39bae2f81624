"""Notebook 05b's reference answer to Exercise 1, for the student copy.

In the teacher's notebook the course's three lines (freeze the base, add the head) are written out
in the cell after Exercise 1; the student copy builds the same model through ``freeze_and_add_head``
instead, so that a learner cannot copy the answer from the next cell and the lesson still runs for a
learner who skips the exercise.
"""
from __future__ import annotations

from torch import nn


def freeze_and_add_head(base: nn.Module, n_classes: int = 1) -> nn.Sequential:
    """Return ``nn.Sequential(base, nn.Linear(1000, n_classes))`` with ``base`` frozen (notebook 05b)."""
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, n_classes))
