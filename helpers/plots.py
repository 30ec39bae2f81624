"""Plotting grids of images and training histories.

Introduced in notebook 00 (image grid) and notebook 02 (history).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def _to_hwc(image) -> np.ndarray:
    """Return an image as a NumPy array, H×W or H×W×C, ready for ``imshow``."""
    if isinstance(image, torch.Tensor):
        arr = image.detach().cpu().float()
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):  # tensors are C×H×W, PyTorch's convention
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"cannot show an array of shape {arr.shape} as an image; "
                         "expected H×W, H×W×C or C×H×W")
    return arr


def show_images(images: Sequence, titles: Sequence[str] | None = None, *, ncols: int = 8,
                cmap: str = "gray", size: float = 1.6, suptitle: str | None = None) -> Figure:
    """Return a matplotlib figure with ``images`` in a grid, each with its title (notebook 00).
    Tensors (C×H×W, H×W), arrays (H×W×C, H×W) or PIL images; greys use ``cmap``, colour is shown
    as it is (floats in [0, 1] or uint8)."""
    images = list(images)
    if not images:
        raise ValueError("show_images got no images")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    title_room = 0.3 if titles is not None else 0.0  # per row, so titles do not hide under the row above
    height = (size + title_room) * nrows + (0.4 if suptitle else 0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        arr = _to_hwc(images[i])
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


_FEW_EPOCHS = 3  # up to this many epochs, each point is labelled with its value


def plot_history(history: Sequence[dict], *, title: str = "Training history") -> Figure:
    """Return a figure of loss and accuracy per epoch of a ``helpers.fit`` history (notebook 05b).
    Up to ``_FEW_EPOCHS`` epochs a line says little, so each point shows its value; a single
    epoch is said in the title (one dot per split, not a curve)."""
    if not history:
        raise ValueError("plot_history got an empty history: train for at least one epoch")
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for split, style in (("train", "-o"), ("valid", "--s")):
        if f"{split}_loss" not in history[0]:
            continue
        for ax, key, fmt in ((ax_loss, "loss", "{:.3f}"), (ax_acc, "accuracy", "{:.3f}")):
            values = [r[f"{split}_{key}"] for r in history]
            ax.plot(epochs, values, style, label=split)
            if len(history) <= _FEW_EPOCHS:
                for x, y in zip(epochs, values):
                    ax.annotate(f"{split} {fmt.format(y)}", (x, y), textcoords="offset points", xytext=(6, 4),
                                fontsize=8)
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss (mean per item)")
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (fraction correct)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    if len(history) == 1:
        title += f" (one epoch, {epochs[0]}: one point per split, its value beside it)"
    fig.suptitle(title)
    fig.tight_layout()
    return fig
