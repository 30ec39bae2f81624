"""A plain classification training loop, with a progress bar and a history (notebook 02 on).
The loop is the course's ``train()``/``validate()`` pair: forward, loss, backward, step."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from .device import model_device

Batch = tuple[torch.Tensor, torch.Tensor]


def batches(data: Dataset | DataLoader | Iterable[Batch], batch_size: int = 32, *,
            shuffle: bool = False, generator: torch.Generator | None = None) -> Iterator[Batch]:
    """Yield ``(x, y)`` batches from a ``TensorDataset``, a ``DataLoader`` or pairs (notebook 02).
    A ``TensorDataset`` is sliced (no per-item Python work, no collate: small models stay fast on
    a CPU, the GPU busy); other datasets go through a ``DataLoader`` with ``num_workers=0``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(data, TensorDataset):
        x, y = data.tensors[0], data.tensors[1]
        n = len(x)
        if shuffle:
            order = torch.randperm(n, generator=generator).to(x.device)
        else:
            order = None
        for start in range(0, n, batch_size):
            if order is None:
                yield x[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield x[idx], y[idx]
    elif isinstance(data, Dataset):
        yield from DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator,
                              num_workers=0)
    else:
        yield from data


def _loss_and_correct(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                      y: torch.Tensor, binary: bool) -> tuple[torch.Tensor, int]:
    out = model(x)
    if not binary and (out.ndim == 1 or out.shape[-1] == 1):
        raise ValueError(f"the model gives one output per item (shape {tuple(out.shape)}), which is a binary "
                         "classifier's logit: pass binary=True (and a loss such as nn.BCEWithLogitsLoss())")
    if binary:  # one logit per item (BCEWithLogitsLoss): logit > 0 means class 1
        out = out.reshape(-1)
        loss = loss_fn(out, y.float().reshape(-1))
        correct = int(((out > 0).long() == y.reshape(-1).long()).sum())
    else:
        loss = loss_fn(out, y)
        correct = int((out.argmax(dim=-1) == y).sum())
    return loss, correct


def evaluate(model: nn.Module, data, *, loss_fn: Callable | None = None, binary: bool = False,
             batch_size: int = 256, device: torch.device | str | None = None) -> dict[str, float]:
    """Return ``{"loss": mean, "accuracy": fraction, "n": items}`` on ``data`` (notebook 02).
    In eval mode under ``torch.no_grad()``, the model's mode restored after. ``binary=True``: one
    logit per item, class 1 when it is > 0 (notebook 05b); else the arg-max."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    try:
        with torch.no_grad():
            for x, y in batches(data, batch_size):
                x, y = x.to(device), y.to(device)
                loss, c = _loss_and_correct(model, loss_fn, x, y, binary)
                total_loss += float(loss.detach()) * len(y)
                correct += c
                n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate got no data: the dataset or loader is empty.")
    return {"loss": total_loss / n, "accuracy": correct / n, "n": n}


def _batch_count(data: Dataset | DataLoader | Iterable[Batch], batch_size: int = 32) -> int | None:
    """Return how many batches :func:`batches` yields for ``data``, or None when it cannot know.
    :func:`fit`'s progress bar takes it as its total, to read ``48/157`` rather than ``48/?``."""
    if isinstance(data, DataLoader) or not isinstance(data, Dataset):
        try:
            return len(data)
        except TypeError:
            return None
    try:
        return math.ceil(len(data) / batch_size)
    except TypeError:
        return None


def fit(model: nn.Module, train_data, valid_data=None, *, epochs: int = 1,
        optimizer: torch.optim.Optimizer | None = None, loss_fn: Callable | None = None,
        batch_size: int = 32, device: torch.device | str | None = None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None, binary: bool = False,
        generator: torch.Generator | None = None, progress: bool = True) -> list[dict[str, float]]:
    """Train ``model`` and return its history, one dict per epoch (notebook 02): ``epoch``,
    ``train_loss``, ``train_accuracy``, ``seconds``, ``valid_*`` (with ``valid_data``). Adam and
    cross-entropy by default; ``augment`` maps each training batch; ``binary`` as in evaluate."""
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    device = torch.device(device) if device is not None else model_device(model)
    optimizer = optimizer or torch.optim.Adam(model.parameters())
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total_loss, correct, n = 0.0, 0, 0
        bar = tqdm(batches(train_data, batch_size, shuffle=True, generator=generator),
                   total=_batch_count(train_data, batch_size), desc=f"epoch {epoch}/{epochs}", leave=False,
                   disable=not progress)
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            if augment is not None:
                x = augment(x)
            optimizer.zero_grad(set_to_none=True)
            loss, c = _loss_and_correct(model, loss_fn, x, y, binary)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            correct += c
            n += len(y)
        if n == 0:
            raise ValueError("fit got no training data: the dataset or loader is empty.")
        row = {"epoch": epoch, "train_loss": total_loss / n, "train_accuracy": correct / n}
        if valid_data is not None:
            result = evaluate(model, valid_data, loss_fn=loss_fn, binary=binary, device=device)
            row["valid_loss"], row["valid_accuracy"] = result["loss"], result["accuracy"]
        row["seconds"] = time.perf_counter() - start
        history.append(row)
    return history
