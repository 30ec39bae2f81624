"""Checks for notebook 07's exercises: the epoch where overfitting starts, and the deployed prediction of a file."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..exercises import Wrong, exercise, expect

if TYPE_CHECKING:   # PIL is imported where it is used: `import helpers` (notebooks 00, 01) must not load it
    from PIL import Image

__all__ = ["my_overfitting_epoch", "my_predict_file"]


def _history(valid_loss, *, train_loss=None, valid_accuracy=None, first_epoch=1) -> list[dict]:
    n = len(valid_loss)
    train_loss = train_loss or [2.0 * 0.8 ** i for i in range(n)]           # always falling
    valid_accuracy = valid_accuracy or [round(1 - v / 2, 3) for v in valid_loss]   # usually best where the loss is
    return [{"epoch": first_epoch + i, "train_loss": t, "train_accuracy": min(1.0, 0.5 + 0.06 * i),
             "valid_loss": v, "valid_accuracy": a, "seconds": 0.1} for i, (t, v, a) in
            enumerate(zip(train_loss, valid_loss, valid_accuracy))]


# (history, expected epoch, what a wrong answer here most likely did)
_CASES = [
    (_history([1.0, 0.8, 0.7, 0.65, 0.7, 0.75, 0.8, 0.9]), 4, "basic"),
    (_history([1.0, 0.8, 0.85, 0.7, 0.6, 0.62, 0.7, 0.8, 0.9]), 5, "bump"),
    (_history([0.9, 0.5, 0.6, 0.5, 0.7, 0.8]), 2, "tie"),
    (_history([1.0, 0.8, 0.7, 0.65, 0.7, 0.75, 0.8, 0.9], first_epoch=11), 14, "resumed"),
    (_history([1.0, 0.8, 0.7, 0.6, 0.7, 0.8, 0.9],
              valid_accuracy=[0.5, 0.6, 0.65, 0.66, 0.67, 0.7, 0.66]), 4, "accuracy"),
    (_history([1.0, 0.9, 0.8, 0.7, 0.65, 0.6]), None, "improving"),
]


@exercise
def my_overfitting_epoch(answer) -> str:
    """``answer(history)`` must return the epoch of the lowest validation loss (first on a tie), None at the end."""
    for history, expected, kind in _CASES:
        got = answer([dict(row) for row in history])
        if got == expected:
            continue
        v = [r["valid_loss"] for r in history]
        epochs = [r["epoch"] for r in history]
        if kind == "improving":
            raise Wrong("the validation loss was still falling at the last epoch, so overfitting has not started: "
                        f"return None there (you returned {got!r})")
        if got is None:
            raise Wrong(f"you returned None, but the validation loss bottomed out at epoch {expected} and rose after")
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            raise Wrong(f"return an epoch number (an int, as in history[i]['epoch']); you returned {got!r}")
        got = int(got)
        if kind == "resumed" and got == expected - epochs[0] + 1:
            raise Wrong("this history starts at epoch 11 (training resumed): return the row's 'epoch' value, not "
                        "its position in the list")
        if got == expected - 1 and kind != "resumed":
            raise Wrong(f"off by one: epochs are numbered from {epochs[0]} (history[i]['epoch']), and you returned the "
                        "list index")
        if got == epochs[-1] and expected is not None and kind != "improving":
            lowest_train = min(history, key=lambda r: r["train_loss"])["epoch"]
            if got == lowest_train:
                raise Wrong("that is where the TRAINING loss is lowest: it keeps falling as the network memorises; "
                            "overfitting shows in the VALIDATION loss")
        if got == max(history, key=lambda r: r["valid_loss"])["epoch"]:
            raise Wrong("that is the epoch with the HIGHEST validation loss; look for the lowest")
        if kind == "accuracy" and got == max(history, key=lambda r: r["valid_accuracy"])["epoch"]:
            raise Wrong("that is where the validation ACCURACY peaks; the exercise asks for the lowest validation "
                        "LOSS, which reacts first when the model grows overconfident")
        if kind == "bump" and got == 2:
            raise Wrong("the first rise of the validation loss (epoch 3 here) is noise: it fell lower afterwards. "
                        "Take the epoch of the lowest validation loss over the whole history")
        if kind == "tie" and got == 4:
            raise Wrong("two epochs share the lowest validation loss; take the FIRST (epoch 2): training after it did "
                        "not improve validation")
        raise Wrong(f"for a history whose validation losses are {v} (epochs {epochs[0]}..{epochs[-1]}), the answer "
                    f"is epoch {expected}; you returned {got}")
    return ("you find the epoch of the lowest validation loss (by the 'epoch' field, the first on a tie, over the "
            "whole history) and None while it is still falling")


# ------------------------------------------------------------------------------------------------
# my_predict_file: a saved state dict, a fresh model, eval mode, the same preprocessing
# ------------------------------------------------------------------------------------------------

def _make_model() -> nn.Module:
    """The check's stand-in network: a convolution, BatchNorm, dropout; 8x8 grey images, 10 classes.
    Initial weights from a private generator: the same untrained copy on every call, and the
    global random state (which dropout draws from) left alone."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5),
                          nn.Linear(4 * 6 * 6, 10))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return model


def _preprocess(image: Image.Image) -> torch.Tensor:
    """The check's preprocessing: grey, 8x8, inverted (dark objects become bright), scaled to [0, 1]."""
    from PIL import Image

    grey = image.convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    return 1 - torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255).unsqueeze(0)


_PROBE_SEED = 1  # chosen so that every mistake below gives its own answers on the six images
_IMAGES = 6


def _probe(folder: Path, seed: int = _PROBE_SEED) -> tuple[Path, list[Path], dict]:
    """Write a trained-looking state dict and six images; return their paths and the answers each mistake gives."""
    from PIL import Image

    model = _make_model()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():   # "trained" weights, and BatchNorm statistics as training leaves them
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.3)
        model[1].running_mean.copy_(torch.tensor([0.3, -0.2, 0.1, -0.3]))
        model[1].running_var.copy_(torch.tensor([0.02, 0.05, 0.03, 0.04]))
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    patterns = [xx, yy, (xx + yy) / 2, ((xx * 4).astype(int) + (yy * 4).astype(int)) % 2,
                ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1), np.sin(xx * 9) * np.cos(yy * 7) / 2 + 0.5]
    state_path = folder / "model.pt"
    torch.save(model.state_dict(), state_path)
    paths, images = [], []
    for i, pattern in enumerate(patterns):
        image = Image.fromarray((np.asarray(pattern, dtype=np.float64) * 255).astype(np.uint8)).convert("RGB")
        paths.append(folder / f"photo{i}.png")
        image.save(paths[-1])
        images.append(image)
    x = torch.stack([_preprocess(im) for im in images])
    raw = torch.stack([torch.from_numpy(np.asarray(im.convert("L").resize((8, 8)), dtype=np.float32)).unsqueeze(0)
                       for im in images])
    answers: dict = {}
    with torch.no_grad():
        model.eval()
        answers["right"] = tuple(model(x).argmax(1).tolist())
        answers["untrained"] = tuple(_make_model().eval()(x).argmax(1).tolist())
        answers["raw"] = tuple(model(raw).argmax(1).tolist())
        answers["not_inverted"] = tuple(model(1 - x).argmax(1).tolist())
        model.train()
        answers["train"] = [{int(model(x[i:i + 1]).argmax(1)) for _ in range(50)} for i in range(_IMAGES)]
    return state_path, paths, answers


@exercise
def my_predict_file(answer) -> str:
    """``answer(make_model, preprocess, state_path, image_path)`` must return the class the saved model predicts."""
    with tempfile.TemporaryDirectory() as tmp:
        state_path, image_paths, answers = _probe(Path(tmp))
        calls = []
        real_load = torch.load

        def spy(*args, **kwargs):
            calls.append(kwargs.get("weights_only", True))
            return real_load(*args, **kwargs)

        torch.load = spy
        try:
            results = [[answer(_make_model, _preprocess, state_path, path) for path in image_paths] for _ in range(3)]
        finally:
            torch.load = real_load
    expect(calls, "the saved file was never read: load it with torch.load(state_path, weights_only=True) and "
                  "model.load_state_dict(...)")
    expect(all(c is not False for c in calls), "never torch.load(..., weights_only=False) for a model file: a file "
                                                "can run code when unpickled; weights_only=True reads only tensors")
    for got in (r for row in results for r in row):
        if isinstance(got, torch.Tensor) and got.numel() > 1:
            raise Wrong(f"return the class index, one int; you returned a tensor of shape {tuple(got.shape)} "
                        "(scores?): take .argmax(1) and int(...)")
        expect(isinstance(got, (int, np.integer, torch.Tensor)) and not isinstance(got, bool),
               f"return the class index as an int; you returned {got!r}")
    results = [tuple(int(r) for r in row) for row in results]
    right = answers["right"]
    mistakes = {key: answers[key] for key in ("untrained", "raw", "not_inverted")}
    in_train_mode = all(r in answers["train"][i] for i, r in enumerate(results[0]))
    if len(set(results)) > 1 or (results[0] != right and in_train_mode and results[0] not in mistakes.values()):
        raise Wrong("the answer changes from call to call, as in training mode: call model.eval() before predicting, "
                    "or dropout stays on and BatchNorm normalises with the one image's own statistics")
    got = results[0]
    if got != right:
        for key, why in (("untrained", "the predictions are an untrained model's: load the weights into the fresh "
                                       "model with model.load_state_dict(torch.load(state_path, weights_only=True))"),
                         ("raw", "the image went in without the training preprocessing: use preprocess(image), the "
                                 "same transform the model was trained with"),
                         ("not_inverted", "the preprocessing differs from training's: use preprocess(image) as given")):
            if got == mistakes[key]:
                raise Wrong(why)
        raise Wrong(f"the saved model predicts classes {list(right)} for six test files; your function returned "
                    f"{list(got)}")
    return ("you load the state dict with weights_only=True into a fresh model, switch it to eval mode, preprocess "
            "the file as in training and return the predicted class")
