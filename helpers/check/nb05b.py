"""Checks for notebook 05b's exercises: freeze the base and add the head, and pick the fine-tuning learning rate."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..exercises import Wrong, exercise, expect

__all__ = ["my_door_model", "my_fine_tune_lr"]


def _fake_base() -> nn.Module:
    """A stand-in for the pretrained base: any image batch -> 1000 scores, small and fast."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 1000))


def _is_class(obj, *classes) -> bool:
    return isinstance(obj, type) and issubclass(obj, classes)


def _check_loss(loss_fn) -> None:
    """The loss must be binary cross-entropy on logits: BCEWithLogitsLoss (any reduction) or its functional form."""
    if _is_class(loss_fn, nn.Module):
        raise Wrong(f"you returned the class nn.{loss_fn.__name__}, not a loss function: call it, "
                    f"nn.{loss_fn.__name__}()")
    if isinstance(loss_fn, nn.BCELoss):
        raise Wrong("nn.BCELoss expects probabilities (after a sigmoid), and the model outputs logits: use "
                    "nn.BCEWithLogitsLoss(), which applies the sigmoid itself, stably")
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):
        raise Wrong(f"{type(loss_fn).__name__} wants one score per class (two outputs); with one logit per photo "
                    "use nn.BCEWithLogitsLoss()")
    if isinstance(loss_fn, nn.BCEWithLogitsLoss):
        return  # any reduction, weight or pos_weight: still binary cross-entropy on logits
    expect(callable(loss_fn), f"return a loss function second; got {type(loss_fn).__name__}")
    logits = torch.tensor([[-30.0], [-2.0], [0.0], [3.0], [40.0]])
    target = torch.tensor([[0.0], [1.0], [1.0], [0.0], [0.0]])
    want = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    try:
        got = loss_fn(logits, target)
    except Exception as exc:  # noqa: BLE001 - the loss, not the learner's function, failed: say so
        raise Wrong(f"your loss function raised {type(exc).__name__} on logits and 0/1 targets of shape (5, 1): "
                    "use nn.BCEWithLogitsLoss()") from exc
    expect(isinstance(got, torch.Tensor), f"your loss returned {type(got).__name__}, not a tensor")
    if any(torch.allclose(got.double(), w.double(), rtol=1e-5) for w in (want.mean(), want.sum(), want)):
        return
    sig = F.binary_cross_entropy(torch.sigmoid(logits), target)
    if torch.allclose(got.double(), sig.double(), rtol=1e-5):
        raise Wrong("your loss takes sigmoid(logit) and then binary cross-entropy: at a logit of 40 the sigmoid "
                    "rounds to 1 and the loss is clipped; nn.BCEWithLogitsLoss() does both in one stable step")
    name = type(loss_fn).__name__
    raise Wrong(f"your loss ({name}) gives {got.detach().flatten()[:5].tolist()} on five logits and targets where "
                f"binary cross-entropy on logits gives {want.mean().item():.6f} (mean): use nn.BCEWithLogitsLoss()")


@exercise
def my_door_model(answer) -> str:
    """``answer(base)`` must return ``(model, loss_fn)``: the frozen base, a one-logit head, a loss on logits."""
    base = _fake_base()
    result = answer(base)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"return the pair (model, loss_function); your function returned {type(result).__name__}")
    model, loss_fn = result
    expect(isinstance(model, nn.Module), "return the model first, then the loss function")
    in_model = {id(p) for p in model.parameters()}
    expect(any(m is base for m in model.modules()) or {id(p) for p in base.parameters()} <= in_model,
           "your model does not contain the base you were given: nn.Sequential(base, nn.Linear(1000, 1))")
    still = sum(p.numel() for p in base.parameters() if p.requires_grad)
    if still and base.__dict__.get("requires_grad") is False:
        raise Wrong("base.requires_grad = False only sets a new attribute on the module: its parameters still "
                    "require a gradient; call the method, base.requires_grad_(False) (with the underscore)")
    if still and not base.training:
        raise Wrong(f"the base is in evaluation mode (base.eval()) but still trains: {still:,} of its parameters "
                    "require a gradient. eval() changes what BatchNorm and Dropout do, it does not freeze: "
                    "base.requires_grad_(False)")
    expect(still == 0, f"the base still trains: {still:,} of its parameters require a gradient; freeze it with "
                       "base.requires_grad_(False)")
    trainable = [p for p in model.parameters() if p.requires_grad]
    expect(trainable, "nothing trains: the head is frozen too (model.requires_grad_(False) freezes everything); "
                      "freeze only the base, before or after building the model")
    device = next(model.parameters()).device  # a model moved to the notebook's DEVICE is fine
    x = torch.randn(3, 3, 2, 2, device=device)
    out = model(x)
    expect(out.shape[1:] != (2,), "two outputs: the door is a yes/no decision, one logit per photo "
                                  "(negative: Bo), so the head is nn.Linear(1000, 1)")
    expect(tuple(out.shape) == (3, 1), f"the model should give one logit per photo, shape (3, 1); yours gives "
                                       f"{tuple(out.shape)}: the head is nn.Linear(1000, 1) on the base's 1000 scores")
    n = sum(p.numel() for p in trainable)
    if n == 1000:
        raise Wrong("1000 parameters train: your head has no bias; nn.Linear(1000, 1) has 1000 weights and 1 bias")
    expect(n == 1001, f"{n:,} parameters train: the course's head is one layer, nn.Linear(1000, 1), whose 1000 "
                      "weights and 1 bias are all that should train")
    with torch.no_grad():  # photos far apart: a logit takes any sign and size, a probability stays in [0, 1]
        wide = model(100 * torch.randn(64, 3, 2, 2, generator=torch.Generator().manual_seed(1)).to(device)).cpu()
    squashed = bool(((wide >= 0) & (wide <= 1)).all())
    if squashed and isinstance(loss_fn, nn.BCEWithLogitsLoss):
        raise Wrong("your model ends in a sigmoid and the loss is BCEWithLogitsLoss, which applies a sigmoid "
                    "itself: the sigmoid is applied twice. Drop the nn.Sigmoid(): the head outputs a logit")
    if squashed:
        raise Wrong("your model's outputs all lie in [0, 1], even for photos far apart: it ends in a sigmoid and "
                    "outputs probabilities. The door reads a logit (negative: Bo): drop the nn.Sigmoid() and use "
                    "nn.BCEWithLogitsLoss(), which applies the sigmoid inside the loss, stably")
    expect(bool((wide < 0).any()), "your model's outputs are never negative, even for photos far apart: something "
                                   "after the head clips them (a ReLU?). A logit must be free to be negative: "
                                   "negative means Bo")
    expect(bool((wide.abs() > 1).any()), "your model's outputs all lie in [-1, 1] even for photos far apart: "
                                         "something squashes them (a tanh?); the head should output a raw logit")
    _check_loss(loss_fn)
    loss = loss_fn(out, torch.tensor([[0.0], [1.0], [1.0]], device=device))
    loss.backward()
    expect(all(p.grad is None for p in base.parameters()), "a gradient reached the base: freeze it")
    return ("the base is frozen (no parameter of it gets a gradient), the head maps 1000 scores to one logit "
            "(not squashed by a sigmoid), and the loss is binary cross-entropy on that logit")


_SAFE_KEPT = 0.9
# tables like the run's: lr -> (share of validation photos whose ImageNet class the base keeps, validation accuracy),
# the accuracy before fine-tuning, and the rule's pick. Keys in several orders; boundaries (exactly 90 % kept, the
# accuracy exactly as before) on the safe side.
_TABLES = [
    ({1e-3: (0.0, 0.815), 1e-4: (0.55, 0.97), 1e-5: (0.95, 1.0), 1e-6: (1.0, 1.0)}, 1.0, 1e-5),
    ({1e-3: (0.0, 0.815), 1e-6: (1.0, 1.0)}, 1.0, 1e-6),
    ({1e-4: (0.92, 0.80), 1e-5: (0.99, 0.95), 1e-6: (1.0, 0.95)}, 0.95, 1e-5),
    ({1e-3: (0.3, 0.96), 1e-5: (0.98, 0.96), 1e-6: (1.0, 0.95)}, 0.95, 1e-5),
    ({1e-3: (0.2, 0.7), 1e-4: (0.5, 0.8)}, 0.9, 1e-4),
    ({1e-6: (1.0, 0.9), 1e-5: (0.9, 0.9), 1e-4: (0.89, 0.95)}, 0.9, 1e-5),
    ({1e-6: (1.0, 0.9), 3e-5: (0.97, 0.92), 1e-5: (0.99, 0.93)}, 0.9, 3e-5),
    ({1e-3: (0.5, 0.99), 1e-5: (0.95, 0.9)}, 0.9, 1e-5),
    ({1e-5: (0.91, 0.85), 1e-6: (0.99, 0.85)}, 0.85, 1e-5),
    ({1e-6: (1.0, 0.80), 1e-5: (0.95, 0.9), 1e-4: (0.93, 0.91)}, 0.85, 1e-4),
]


def _safe(table, before, kept_ok=lambda k: k >= _SAFE_KEPT, acc_ok=lambda a, b: a >= b):
    return [lr for lr, (kept, acc) in table.items() if kept_ok(kept) and acc_ok(acc, before)]


# plausible wrong rules, as functions of (table, before), each with the message that names it
_WRONG_RULES = {
    "always_smallest": (lambda t, b: min(t), "you return the smallest learning rate measured on every table, also "
                        "when a larger one is safe: the rule takes the LARGEST safe one (imagenet_kept is a share in "
                        "[0, 1]: compare it with 0.9, not 90)"),
    "always_largest": (lambda t, b: max(t), "you return the largest learning rate measured on every table, safe or "
                       "not: keep only those that keep >= 90% of the ImageNet answers and the accuracy"),
    "strict_kept": (lambda t, b: max(_safe(t, b, kept_ok=lambda k: k > _SAFE_KEPT)) if _safe(
        t, b, kept_ok=lambda k: k > _SAFE_KEPT) else min(t), "a learning rate that keeps exactly 90% of the ImageNet "
                    "answers is safe: 'at least 90%' includes 90% (>= 0.9, not > 0.9)"),
    "strict_accuracy": (lambda t, b: max(_safe(t, b, acc_ok=lambda a, b: a > b)) if _safe(
        t, b, acc_ok=lambda a, b: a > b) else min(t), "an accuracy equal to the one before does not lower it: "
                        "keep accuracy >= before, not > before"),
    "smallest_safe": (lambda t, b: min(_safe(t, b)) if _safe(t, b) else min(t), "you return the SMALLEST safe "
                      "learning rate: the rule takes the largest safe one (it adapts fastest)"),
    "first_safe": (lambda t, b: next(iter(_safe(t, b)), min(t)), "you return the first safe learning rate in the "
                   "dict's order: a dict keeps the order its keys were written in, not their size; take max(safe)"),
    "last_safe": (lambda t, b: _safe(t, b)[-1] if _safe(t, b) else min(t), "you return the last safe learning rate "
                  "in the dict's order: a dict keeps the order its keys were written in, not their size; take "
                  "max(safe)"),
    "fallback_largest": (lambda t, b: max(_safe(t, b)) if _safe(t, b) else max(t), "when no learning rate is safe "
                         "you return the largest; the rule falls back to the smallest one measured, min(measured)"),
    "best_accuracy": (lambda t, b: {lr for lr in t if t[lr][1] == max(a for _, a in t.values())},
                      "you pick the learning rate with the "
                      "best accuracy; the rule also asks that it keeps >= 90% of the base's ImageNet answers, and "
                      "then takes the largest"),
}


def _as_set(picks) -> set:
    return picks if isinstance(picks, set) else {picks}


@exercise
def my_fine_tune_lr(answer) -> str:
    """``answer(measured, before)`` must return the largest safe learning rate in ``measured`` (rule: notebook 05b)."""
    said = []
    for table, before, _ in _TABLES:
        measured = {lr: {"imagenet_kept": kept, "accuracy": acc} for lr, (kept, acc) in table.items()}
        said.append(answer({lr: dict(r) for lr, r in measured.items()}, before))
    for (table, before, right), got in zip(_TABLES, said):
        if got == right:
            continue
        if got not in table:
            if got is None and not _safe(table, before):
                raise Wrong("you returned None: when no learning rate is safe, return the smallest one measured")
            raise Wrong(f"return one of the measured learning rates {sorted(table)}; you returned {got!r} "
                        f"(for the table {table}, accuracy before {before})")
        for rule, message in _WRONG_RULES.values():
            if all(g in _as_set(rule(t, b)) for (t, b, _), g in zip(_TABLES, said)):
                raise Wrong(message)
        kept, acc = table[got]
        where = f"for the table {table} (accuracy before {before}): "
        if kept < _SAFE_KEPT:
            raise Wrong(f"{where}lr {got:g} kept only {kept:.0%} of the base's ImageNet answers: it overwrote what the "
                        f"network knew; a safe lr keeps at least {_SAFE_KEPT:.0%}")
        if acc < before:
            raise Wrong(f"{where}lr {got:g} lowered validation accuracy from {before:.2f} to {acc:.2f}: fine-tuning "
                        "must not make the door worse")
        if got < right:
            raise Wrong(f"{where}too cautious: lr {right:g} also kept at least {_SAFE_KEPT:.0%} of the ImageNet "
                        "answers and did not lower the accuracy; the largest safe lr adapts fastest")
        raise Wrong(f"{where}the rule picks {right:g}, you picked {got:g}: when no lr is safe, take the smallest")
    return ("the largest learning rate that keeps >= 90% of the base's knowledge and does not make the door worse "
            "(boundaries included, keys in any order): big enough to adapt, small enough not to erase pretraining")
