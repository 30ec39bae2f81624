"""Mutation tests of notebook 07's exercise checks: typical wrong answers get their own message, valid ones pass."""
import numpy as np
import pytest
import torch
from mutation import Answers
from PIL import Image

import helpers

# Exercise 1 · the epoch where overfitting starts ---------------------------------------------------

OVERFIT = Answers(helpers.check.my_overfitting_epoch)


@OVERFIT.right
def right_epoch(history):
    best = min(history, key=lambda r: r["valid_loss"])
    return None if best is history[-1] else best["epoch"]


@OVERFIT.right
def loop_epoch(history):                      # valid: a loop, strict < keeps the first of a tie
    best, best_loss = None, float("inf")
    for row in history:
        if row["valid_loss"] < best_loss:
            best, best_loss = row["epoch"], row["valid_loss"]
    return None if best == history[-1]["epoch"] else best


@OVERFIT.right
def numpy_epoch(history):                     # valid: numpy's argmin (first of a tie), then the row's epoch
    i = int(np.argmin([r["valid_loss"] for r in history]))
    return None if i == len(history) - 1 else history[i]["epoch"]


@OVERFIT.wrong("off by one")
def list_index(history):
    i = min(range(len(history)), key=lambda k: history[k]["valid_loss"])
    return None if i == len(history) - 1 else i


@OVERFIT.wrong("training resumed")
def index_plus_one(history):
    i = min(range(len(history)), key=lambda k: history[k]["valid_loss"])
    return None if i == len(history) - 1 else i + 1


@OVERFIT.wrong("TRAINING loss")
def train_loss_min(history):
    return min(history, key=lambda r: r["train_loss"])["epoch"]


@OVERFIT.wrong("HIGHEST validation loss")
def valid_loss_max(history):
    return max(history, key=lambda r: r["valid_loss"])["epoch"]


@OVERFIT.wrong("validation ACCURACY peaks")
def valid_accuracy_max(history):
    best = max(history, key=lambda r: r["valid_accuracy"])
    return None if best is history[-1] else best["epoch"]


@OVERFIT.wrong("first rise of the validation loss")
def first_rise(history):
    for before, after in zip(history, history[1:]):
        if after["valid_loss"] > before["valid_loss"]:
            return before["epoch"]
    return None


@OVERFIT.wrong("take the FIRST")
def last_of_tie(history):
    best = min(reversed(history), key=lambda r: r["valid_loss"])
    return None if best is history[-1] else best["epoch"]


@OVERFIT.wrong("return None there")
def never_none(history):
    return min(history, key=lambda r: r["valid_loss"])["epoch"]


@OVERFIT.wrong("return an epoch number")
def as_string(history):
    return str(right_epoch(history))


# Exercise 2 · predict a file with the deployed model -----------------------------------------------

PREDICT = Answers(helpers.check.my_predict_file)


@PREDICT.right
def right_predict(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


@PREDICT.right
def predict_inference_mode(make_model, preprocess, state_path, image_path):   # valid: other spellings
    model = make_model()
    model.load_state_dict(torch.load(str(state_path), map_location="cpu"))    # weights_only=True is the default
    model.train(False)
    with torch.inference_mode():
        scores = model(preprocess(Image.open(image_path).convert("RGB"))[None])
    return scores.argmax(dim=1).item()


@PREDICT.right
def predict_numpy_index(make_model, preprocess, state_path, image_path):      # valid: a numpy integer
    model = make_model().eval()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    with torch.no_grad():
        return np.argmax(model(preprocess(Image.open(image_path)).unsqueeze(0)).numpy()[0])


def make_predict(*, load="applied", weights_only=True, evaluate=True, result=lambda scores: int(scores.argmax(1))):
    """Return predict(make_model, preprocess, state_path, image_path), right unless one option makes a typical slip.

    load: "applied" (load_state_dict of what torch.load read), "read" (read, never applied) or "never".
    """
    def predict(make_model, preprocess, state_path, image_path):
        model = make_model()
        if load != "never":
            state = torch.load(state_path, weights_only=weights_only)
            if load == "applied":
                model.load_state_dict(state)
        if evaluate:
            model.eval()
        with torch.no_grad():
            return result(model(preprocess(Image.open(image_path)).unsqueeze(0)))
    return predict


forgot_eval = make_predict(evaluate=False)
PREDICT.wrong("call model.eval()", forgot_eval=forgot_eval)


@PREDICT.wrong("call model.eval()")
def forgot_eval_seeded(make_model, preprocess, state_path, image_path):       # deterministic, still training mode
    torch.manual_seed(1234)
    return forgot_eval(make_model, preprocess, state_path, image_path)


PREDICT.wrong("the saved file was never read", never_loaded=make_predict(load="never"))
PREDICT.wrong("an untrained model's", loaded_not_applied=make_predict(load="read"))
PREDICT.wrong("never torch.load(..., weights_only=False)", unsafe_load=make_predict(weights_only=False))
PREDICT.wrong("return the class index, one int", returns_scores=make_predict(result=lambda scores: scores))
PREDICT.wrong("return the class index as an int",
              returns_probability=make_predict(result=lambda scores: float(scores.softmax(1).max())))


@PREDICT.wrong("without the training preprocessing")
def no_preprocessing(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    grey = Image.open(image_path).convert("L").resize((8, 8))
    x = torch.from_numpy(np.asarray(grey, dtype=np.float32)).unsqueeze(0).unsqueeze(0)
    with torch.no_grad():
        return int(model(x).argmax(1))


def test_predict_file_restores_torch_load_even_when_the_answer_fails():
    real = torch.load
    helpers.check.my_predict_file.outcome(lambda *a: 1 / 0)
    assert torch.load is real


# every answer gets its verdict ---------------------------------------------------------------------

CASES = OVERFIT.cases + PREDICT.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()
