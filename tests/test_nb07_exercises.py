"""Mutation tests of notebook 07's exercise checks: typical wrong answers get their own message, valid ones pass."""
import numpy as np
import pytest
import torch
from PIL import Image

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args):
    raise NotImplementedError()


# Exercise 1 · the epoch where overfitting starts ---------------------------------------------------

def right_epoch(history):
    best = min(history, key=lambda r: r["valid_loss"])
    return None if best is history[-1] else best["epoch"]


def loop_epoch(history):                      # valid: a loop, strict < keeps the first of a tie
    best, best_loss = None, float("inf")
    for row in history:
        if row["valid_loss"] < best_loss:
            best, best_loss = row["epoch"], row["valid_loss"]
    return None if best == history[-1]["epoch"] else best


def numpy_epoch(history):                     # valid: numpy's argmin (first of a tie), then the row's epoch
    i = int(np.argmin([r["valid_loss"] for r in history]))
    return None if i == len(history) - 1 else history[i]["epoch"]


def list_index(history):
    i = min(range(len(history)), key=lambda k: history[k]["valid_loss"])
    return None if i == len(history) - 1 else i


def index_plus_one(history):
    i = min(range(len(history)), key=lambda k: history[k]["valid_loss"])
    return None if i == len(history) - 1 else i + 1


def train_loss_min(history):
    return min(history, key=lambda r: r["train_loss"])["epoch"]


def valid_loss_max(history):
    return max(history, key=lambda r: r["valid_loss"])["epoch"]


def valid_accuracy_max(history):
    best = max(history, key=lambda r: r["valid_accuracy"])
    return None if best is history[-1] else best["epoch"]


def first_rise(history):
    for before, after in zip(history, history[1:]):
        if after["valid_loss"] > before["valid_loss"]:
            return before["epoch"]
    return None


def last_of_tie(history):
    best = min(reversed(history), key=lambda r: r["valid_loss"])
    return None if best is history[-1] else best["epoch"]


def never_none(history):
    return min(history, key=lambda r: r["valid_loss"])["epoch"]


def as_string(history):
    return str(right_epoch(history))


@pytest.mark.parametrize("answer, words", [
    (list_index, "off by one"),
    (index_plus_one, "training resumed"),
    (train_loss_min, "TRAINING loss"),
    (valid_loss_max, "HIGHEST validation loss"),
    (valid_accuracy_max, "validation ACCURACY peaks"),
    (first_rise, "first rise of the validation loss"),
    (last_of_tie, "take the FIRST"),
    (never_none, "return None there"),
    (as_string, "return an epoch number"),
], ids=["list_index", "index_plus_one", "train_loss", "max_loss", "accuracy", "first_rise", "last_tie", "never_none",
        "string"])
def test_overfitting_epoch_mistakes_get_their_message(answer, words):
    result = helpers.check.my_overfitting_epoch.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_epoch, loop_epoch, numpy_epoch])
def test_overfitting_epoch_accepts_valid_answers(answer):
    result = helpers.check.my_overfitting_epoch.outcome(answer)
    assert result.status == PASSED, result.line


def test_overfitting_epoch_stub_is_not_done():
    assert helpers.check.my_overfitting_epoch.outcome(stub).status == NOT_DONE


# Exercise 2 · predict a file with the deployed model -----------------------------------------------

def right_predict(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


def predict_inference_mode(make_model, preprocess, state_path, image_path):   # valid: other spellings
    model = make_model()
    model.load_state_dict(torch.load(str(state_path), map_location="cpu"))    # weights_only=True is the default
    model.train(False)
    with torch.inference_mode():
        scores = model(preprocess(Image.open(image_path).convert("RGB"))[None])
    return scores.argmax(dim=1).item()


def predict_numpy_index(make_model, preprocess, state_path, image_path):      # valid: a numpy integer
    model = make_model().eval()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    with torch.no_grad():
        return np.argmax(model(preprocess(Image.open(image_path)).unsqueeze(0)).numpy()[0])


def forgot_eval(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


def forgot_eval_seeded(make_model, preprocess, state_path, image_path):       # deterministic, still training mode
    torch.manual_seed(1234)
    return forgot_eval(make_model, preprocess, state_path, image_path)


def never_loaded(make_model, preprocess, state_path, image_path):
    model = make_model().eval()
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


def loaded_not_applied(make_model, preprocess, state_path, image_path):
    model = make_model().eval()
    torch.load(state_path, weights_only=True)                                 # read, never load_state_dict
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


def unsafe_load(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=False))
    model.eval()
    with torch.no_grad():
        return int(model(preprocess(Image.open(image_path)).unsqueeze(0)).argmax(1))


def no_preprocessing(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    grey = Image.open(image_path).convert("L").resize((8, 8))
    x = torch.from_numpy(np.asarray(grey, dtype=np.float32)).unsqueeze(0).unsqueeze(0)
    with torch.no_grad():
        return int(model(x).argmax(1))


def returns_scores(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    with torch.no_grad():
        return model(preprocess(Image.open(image_path)).unsqueeze(0))


def returns_probability(make_model, preprocess, state_path, image_path):
    model = make_model()
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model.eval()
    with torch.no_grad():
        return float(model(preprocess(Image.open(image_path)).unsqueeze(0)).softmax(1).max())


@pytest.mark.parametrize("answer, words", [
    (forgot_eval, "call model.eval()"),
    (forgot_eval_seeded, "call model.eval()"),
    (never_loaded, "the saved file was never read"),
    (loaded_not_applied, "an untrained model's"),
    (unsafe_load, "never torch.load(..., weights_only=False)"),
    (no_preprocessing, "without the training preprocessing"),
    (returns_scores, "return the class index, one int"),
    (returns_probability, "return the class index as an int"),
], ids=["no_eval", "no_eval_seeded", "never_loaded", "not_applied", "unsafe", "no_preprocessing", "scores",
        "probability"])
def test_predict_file_mistakes_get_their_message(answer, words):
    result = helpers.check.my_predict_file.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_predict, predict_inference_mode, predict_numpy_index])
def test_predict_file_accepts_valid_answers(answer):
    result = helpers.check.my_predict_file.outcome(answer)
    assert result.status == PASSED, result.line


def test_predict_file_stub_is_not_done():
    assert helpers.check.my_predict_file.outcome(stub).status == NOT_DONE


def test_predict_file_restores_torch_load_even_when_the_answer_fails():
    real = torch.load
    helpers.check.my_predict_file.outcome(lambda *a: 1 / 0)
    assert torch.load is real
