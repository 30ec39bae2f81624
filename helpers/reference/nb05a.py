"""Notebook 05a's reference answers (``door_for_class``, ``group_probability``), for the student
copy. The teacher's notebook writes them out after Exercises 1 and 2; the student copy imports
them: not to be copied from the next cell, and the lesson runs for one who skips them."""
from __future__ import annotations

import torch


def door_for_class(idx: int) -> str:
    """Return the course's message for ImageNet class ``idx`` (notebook 05a): dogs in, cats inside, the rest out."""
    if 151 <= idx <= 268:
        return "Doggy come on in!"
    elif 281 <= idx <= 285:
        return "Kitty stay inside!"
    else:
        return "You're not a dog! Stay outside!"


def group_probability(logits: torch.Tensor, classes: range) -> torch.Tensor:
    """Return each row's softmax probability summed over ``classes`` (notebook 05a): shape (N,)."""
    return logits.softmax(dim=1)[:, list(classes)].sum(dim=1)
