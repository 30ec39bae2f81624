"""Checks for notebook 08's exercises: the six-class transfer model and saving it as the assessment loads it."""
from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import torch
from torch import nn

from ..exercises import Wrong, exercise, expect

__all__ = ["my_assessment_model", "my_save_model"]

N_CLASSES = 6


def _fake_base() -> nn.Module:
    """A stand-in for the pretrained base: any image batch -> 1000 scores, with a BatchNorm buffer like the real one."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 1000), nn.BatchNorm1d(1000))


@exercise
def my_assessment_model(answer) -> str:
    """``answer(base)`` must return ``(model, loss_fn)``: nn.Sequential(frozen base, nn.Linear(1000, 6)), CE loss."""
    base = _fake_base()
    result = answer(base)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"return the pair (model, loss_function); your function returned {type(result).__name__}")
    model, loss_fn = result
    expect(isinstance(model, nn.Module), "return the model first, then the loss function")
    expect(any(m is base for m in model.modules()),
           "your model does not contain the base you were given: nn.Sequential(base, nn.Linear(1000, 6))")
    still = sum(p.numel() for p in base.parameters() if p.requires_grad)
    expect(still == 0, f"the base still trains: {still:,} of its parameters require a gradient; freeze it with "
                       "base.requires_grad_(False)")
    trainable = [p for p in model.parameters() if p.requires_grad]
    expect(trainable, "nothing trains: the head is frozen too; freeze only the base")
    model.eval()
    out = model(torch.randn(3, 3, 2, 2))
    expect(out.shape[1:] != (1,), "one output per photo is a yes/no door (05b); this task has six classes, so "
                                  "the head is nn.Linear(1000, 6): one score per class")
    expect(tuple(out.shape) == (3, N_CLASSES), f"the model should give 6 scores per photo, shape (3, 6); yours gives "
                                               f"{tuple(out.shape)}: the head is nn.Linear(1000, 6)")
    probabilities = torch.allclose(out.sum(1), torch.ones(3), atol=1e-4) and bool((out >= 0).all())
    expect(not probabilities, "your model ends in a softmax: CrossEntropyLoss applies log-softmax itself, so give it "
                              "the raw scores (logits); drop the nn.Softmax")
    n = sum(p.numel() for p in trainable)
    expect(n == 1000 * N_CLASSES + N_CLASSES, f"{n:,} parameters train; only the head's 6000 weights and 6 biases "
                                              "should")
    if isinstance(loss_fn, (nn.BCEWithLogitsLoss, nn.BCELoss)):
        raise Wrong(f"{type(loss_fn).__name__} is for yes/no targets; with six classes and one label per photo use "
                    "nn.CrossEntropyLoss()")
    if isinstance(loss_fn, nn.NLLLoss):
        raise Wrong("nn.NLLLoss expects log-probabilities, and the model outputs raw scores: use "
                    "nn.CrossEntropyLoss(), which is log-softmax followed by NLLLoss")
    expect(isinstance(loss_fn, nn.CrossEntropyLoss),
           f"the loss is {type(loss_fn).__name__}; for one class label per photo use nn.CrossEntropyLoss()")
    keys = set(model.state_dict())
    wanted = {f"0.{k}" for k in base.state_dict()} | {"1.weight", "1.bias"}
    expect(keys == wanted, "the assessment loads your saved state dict into nn.Sequential(base, nn.Linear(1000, 6)), "
                           f"so its keys must be '0.…' for the base and '1.weight', '1.bias'; yours has "
                           f"{sorted(keys - wanted)[:3] or sorted(wanted - keys)[:3]}")
    loss = loss_fn(out, torch.tensor([0, 3, 5]))
    loss.backward()
    expect(all(p.grad is None for p in base.parameters()), "a gradient reached the base: freeze it")
    return ("the base is frozen, the head turns 1000 scores into 6 logits, CrossEntropyLoss takes them, and the "
            "state dict has the layout the assessment loads")


def _model() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(_fake_base(), nn.Linear(1000, N_CLASSES))
    model[0].requires_grad_(False)
    model.train()
    with torch.no_grad():   # move the BatchNorm buffers away from their defaults, as training does
        model(torch.randn(8, 3, 2, 2))
    return model.eval()


@exercise
def my_save_model(answer) -> str:
    """``answer(model, path)`` must write ``model.state_dict()`` to ``path`` with ``torch.save``."""
    model = _model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        answer(model, path)
        expect(path.is_file(), f"nothing was written to the path you were given ({path.name})")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise Wrong("the file does not load with torch.load(path, weights_only=True): torch.save(model, path) "
                        "pickles the whole model (its classes and code); save torch.save(model.state_dict(), path)"
                        ) from None
        except Exception as exc:   # noqa: BLE001 - any other way the file is not torch.save's
            raise Wrong(f"torch.load cannot read the file ({type(exc).__name__}); write it with torch.save") from None
    if isinstance(saved, (list, tuple)):
        raise Wrong("the file holds a list of tensors (model.parameters()?): without their names, and without the "
                    "BatchNorm buffers, nobody can load them into a model; save model.state_dict()")
    expect(isinstance(saved, dict), f"the file holds a {type(saved).__name__}, not a state dict; save "
                                    "model.state_dict()")
    expected = model.state_dict()
    if set(saved) == {f"1.{k}" for k in ("weight", "bias")} or set(saved) == {"weight", "bias"}:
        raise Wrong("only the head was saved: the assessment rebuilds the whole model from the file, base included "
                    "(a fine-tuned base must travel too); save model.state_dict()")
    expect(set(saved) == set(expected), "the keys are not the model's state dict keys (an optimizer's state, or "
                                        f"extra entries?): {sorted(set(saved) ^ set(expected))[:3]}; save "
                                        "model.state_dict() and nothing else")
    expect(all(torch.equal(saved[k], v) for k, v in expected.items()),
           "the saved tensors differ from the model's: save the trained model's own state_dict()")
    return "the file is the model's state dict, every tensor exact, and it loads with weights_only=True"
