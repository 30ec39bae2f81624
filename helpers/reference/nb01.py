"""Notebook 01's reference softmax and log-softmax, imported by its student copy (see ``helpers.reference``)."""
from __future__ import annotations

import torch


def stable_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    "Return softmax along `dim` with the max trick, same shape and dtype (notebook 01's reference for Exercise 2)."
    # The shift is a constant per row and softmax does not depend on it: detach it from autograd.
    shift = logits.amax(dim=dim, keepdim=True).detach()
    exps = torch.exp(logits - shift)            # every exponent <= 0, so every exp <= 1
    return exps / exps.sum(dim=dim, keepdim=True)  # the sum is >= 1


def stable_log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    "Return log-softmax along `dim` via log-sum-exp with the max trick (notebook 01's reference for Exercise 3)."
    shift = logits.amax(dim=dim, keepdim=True).detach()
    shifted = logits - shift
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))
