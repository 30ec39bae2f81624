"""Checks for notebook 05b's exercises: freeze the base and add the head, and pick the fine-tuning learning rate."""
from __future__ import annotations

import torch
from torch import nn

from ..exercises import Wrong, exercise, expect

__all__ = ["my_door_model", "my_fine_tune_lr"]


def _fake_base() -> nn.Module:
    """A stand-in for the pretrained base: any image batch -> 1000 scores, small and fast."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 1000))


@exercise
def my_door_model(answer) -> str:
    """``answer(base)`` must return ``(model, loss_fn)``: the frozen base, a one-logit head, a loss on logits."""
    base = _fake_base()
    result = answer(base)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"return the pair (model, loss_function); your function returned {type(result).__name__}")
    model, loss_fn = result
    expect(isinstance(model, nn.Module), "return the model first, then the loss function")
    expect(any(m is base for m in model.modules()),
           "your model does not contain the base you were given: nn.Sequential(base, nn.Linear(1000, 1))")
    still = sum(p.numel() for p in base.parameters() if p.requires_grad)
    expect(still == 0, f"the base still trains: {still:,} of its parameters require a gradient; freeze it with "
                       "base.requires_grad_(False)")
    trainable = [p for p in model.parameters() if p.requires_grad]
    expect(trainable, "nothing trains: the head is frozen too (model.requires_grad_(False) freezes everything); "
                      "freeze only the base, before or after building the model")
    x = torch.randn(3, 3, 2, 2)
    out = model(x)
    expect(out.shape[1:] != (2,), "two outputs: the door is a yes/no decision, one logit per photo "
                                  "(negative: Bo), so the head is nn.Linear(1000, 1)")
    expect(tuple(out.shape) == (3, 1), f"the model should give one logit per photo, shape (3, 1); yours gives "
                                       f"{tuple(out.shape)}: the head is nn.Linear(1000, 1) on the base's 1000 scores")
    n = sum(p.numel() for p in trainable)
    expect(n == 1001, f"{n:,} parameters train; only the head's 1000 weights and 1 bias should")
    if isinstance(loss_fn, nn.BCELoss):
        raise Wrong("nn.BCELoss expects probabilities (after a sigmoid), and the model outputs logits: use "
                    "nn.BCEWithLogitsLoss(), which applies the sigmoid itself, stably")
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):
        raise Wrong(f"{type(loss_fn).__name__} wants one score per class (two outputs); with one logit per photo "
                    "use nn.BCEWithLogitsLoss()")
    expect(isinstance(loss_fn, nn.BCEWithLogitsLoss),
           f"the loss is {type(loss_fn).__name__}; for one logit per photo use nn.BCEWithLogitsLoss()")
    loss = loss_fn(out.squeeze(1), torch.tensor([0.0, 1.0, 1.0]))
    loss.backward()
    expect(all(p.grad is None for p in base.parameters()), "a gradient reached the base: freeze it")
    return ("the base is frozen (no parameter of it gets a gradient), the head maps 1000 scores to one logit, "
            "and BCEWithLogitsLoss takes that logit directly")


_SAFE_KEPT = 0.9
# measured tables: lr -> (share of validation photos whose ImageNet class the base keeps, validation accuracy)
_TABLES = [
    ({1e-3: (0.0, 0.815), 1e-4: (0.55, 0.97), 1e-5: (0.95, 1.0), 1e-6: (1.0, 1.0)}, 1.0, 1e-5),
    ({1e-3: (0.0, 0.815), 1e-6: (1.0, 1.0)}, 1.0, 1e-6),
    ({1e-4: (0.92, 0.80), 1e-5: (0.99, 0.95), 1e-6: (1.0, 0.95)}, 0.95, 1e-5),
    ({1e-3: (0.3, 0.96), 1e-5: (0.98, 0.96), 1e-6: (1.0, 0.95)}, 0.95, 1e-5),
    ({1e-3: (0.2, 0.7), 1e-4: (0.5, 0.8)}, 0.9, 1e-4),
]


@exercise
def my_fine_tune_lr(answer) -> str:
    """``answer(measured, before)`` must return the largest safe learning rate in ``measured`` (rule: notebook 05b)."""
    for table, before, right in _TABLES:
        measured = {lr: {"imagenet_kept": kept, "accuracy": acc} for lr, (kept, acc) in table.items()}
        got = answer({lr: dict(r) for lr, r in measured.items()}, before)
        if got == right:
            continue
        if got not in measured:
            if got is None:
                raise Wrong("you returned None: when no learning rate is safe, return the smallest one measured")
            raise Wrong(f"return one of the measured learning rates {sorted(measured)}; you returned {got!r}")
        kept, acc = table[got]
        if kept < _SAFE_KEPT and got > right:
            raise Wrong(f"lr {got:g} kept only {kept:.0%} of the base's ImageNet answers: it overwrote what the "
                        f"network knew; a safe lr keeps at least {_SAFE_KEPT:.0%}")
        if acc < before and got > right:
            raise Wrong(f"lr {got:g} lowered validation accuracy from {before:.2f} to {acc:.2f}: fine-tuning must "
                        "not make the door worse")
        if got < right and table[right][0] >= _SAFE_KEPT:
            raise Wrong(f"too cautious: lr {right:g} also kept at least {_SAFE_KEPT:.0%} of the ImageNet answers "
                        "and did not lower the accuracy; the largest safe lr adapts fastest")
        raise Wrong(f"for {table} (accuracy before {before}) the rule picks {right:g}, you picked {got:g}: when no lr "
                    "is safe, take the smallest")
    return ("the largest learning rate that keeps the base's knowledge and does not make the door worse: big enough "
            "to adapt, small enough not to erase pretraining")
