"""Notebook 05b's reference answer to Exercise 1 (``freeze_and_add_head``), for the student copy.
The teacher's notebook writes out the freeze and the new head; the student copy builds the same
model through this: not to be copied, and the lesson runs for one who skips the exercise."""
from __future__ import annotations

from torch import nn


def freeze_and_add_head(base: nn.Module, n_classes: int = 1) -> nn.Sequential:
    """Return ``nn.Sequential(base, nn.Linear(1000, n_classes))`` with ``base`` frozen (notebook 05b)."""
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, n_classes))
