"""Notebook 02's reference unfold convolution and output size, for its student copy (``helpers.reference``)."""
from __future__ import annotations

import torch


def convolve2d_unfold(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    "Return the 'valid' cross-correlation, all windows at once with Tensor.unfold (notebook 02, Exercise 1)."
    kh, kw = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kw, 1)   # (H-kh+1, W-kw+1, kh, kw), a view
    return (windows * kernel).sum(dim=(-2, -1))


def output_size(n: int, k: int, p: int = 0, s: int = 1) -> int:
    "Return the output length of a convolution: floor((n + 2p - k) / s) + 1 (notebook 02, Exercise 3)."
    return (n + 2 * p - k) // s + 1
