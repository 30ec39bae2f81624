"""Mutation tests of notebook 08's exercise checks: typical wrong answers get their own message, valid ones pass."""
import pickle
from collections import OrderedDict

import pytest
import torch
from torch import nn

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args):
    raise NotImplementedError()


# Exercise 1 · the model -----------------------------------------------------------------------

def right_model(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 6)), nn.CrossEntropyLoss()


def model_freeze_loop_smoothing(base):       # valid: a loop to freeze, label smoothing in the loss
    model = nn.Sequential(base, nn.Linear(1000, 6))
    for p in model[0].parameters():
        p.requires_grad = False
    return model, nn.CrossEntropyLoss(label_smoothing=0.1)


def model_freeze_after_bias_free(base):      # valid: freeze after building, a head without bias is also a head
    model = nn.Sequential(base, nn.Linear(1000, 6))
    model[0].requires_grad_(False)
    return model, nn.CrossEntropyLoss(reduction="mean")


def one_output_bce(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def two_outputs(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 2)), nn.CrossEntropyLoss()


def with_softmax(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 6), nn.Softmax(dim=1)), nn.CrossEntropyLoss()


def not_frozen(base):
    return nn.Sequential(base, nn.Linear(1000, 6)), nn.CrossEntropyLoss()


def everything_frozen(base):
    model = nn.Sequential(base, nn.Linear(1000, 6))
    model.requires_grad_(False)
    return model, nn.CrossEntropyLoss()


def nll_on_logits(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 6)), nn.NLLLoss()


def bce_six(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 6)), nn.BCEWithLogitsLoss()


def head_only(base):
    base.requires_grad_(False)
    return nn.Linear(1000, 6), nn.CrossEntropyLoss()


def named_layers(base):
    base.requires_grad_(False)
    return nn.Sequential(OrderedDict(base=base, head=nn.Linear(1000, 6))), nn.CrossEntropyLoss()


@pytest.mark.parametrize("answer, words", [
    (one_output_bce, "this task has six classes"),
    (two_outputs, "shape (3, 6); yours gives (3, 2)"),
    (with_softmax, "ends in a softmax"),
    (not_frozen, "the base still trains"),
    (everything_frozen, "nothing trains"),
    (nll_on_logits, "NLLLoss expects log-probabilities"),
    (bce_six, "is for yes/no targets"),
    (head_only, "does not contain the base"),
    (named_layers, "its keys must be '0.…'"),
], ids=["one_output", "two_outputs", "softmax", "not_frozen", "all_frozen", "nll", "bce", "head_only", "named"])
def test_assessment_model_mistakes_get_their_message(answer, words):
    result = helpers.check.my_assessment_model.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_model, model_freeze_loop_smoothing, model_freeze_after_bias_free])
def test_assessment_model_accepts_valid_answers(answer):
    result = helpers.check.my_assessment_model.outcome(answer)
    assert result.status == PASSED, result.line


def test_assessment_model_stub_is_not_done():
    assert helpers.check.my_assessment_model.outcome(stub).status == NOT_DONE


# Exercise 2 · saving ------------------------------------------------------------------------------

def right_save(model, path):
    torch.save(model.state_dict(), path)


def save_through_handle(model, path):        # valid: an open file
    with open(path, "wb") as fh:
        torch.save(model.state_dict(), fh)


def save_copied_dict(model, path):           # valid: a plain dict copy of the state dict, path as a string
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, str(path))


def save_whole_model(model, path):
    torch.save(model, path)


def save_parameters(model, path):
    torch.save(list(model.parameters()), path)


def save_head_only(model, path):
    torch.save(model[1].state_dict(), path)


def save_with_optimizer(model, path):
    torch.save({"model": model.state_dict(), "epoch": 3}, path)


def save_named_parameters_only(model, path):
    torch.save(dict(model.named_parameters()), path)   # the BatchNorm running statistics are lost


def save_with_pickle(model, path):
    with open(path, "wb") as fh:
        pickle.dump(model, fh)


def save_nothing(model, path):
    return model.state_dict()


def save_untrained_copy(model, path):
    fresh = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(12, 1000), nn.BatchNorm1d(1000)), nn.Linear(1000, 6))
    torch.save(fresh.state_dict(), path)


@pytest.mark.parametrize("answer, words", [
    (save_whole_model, "pickles the whole model"),
    (save_parameters, "a list of tensors"),
    (save_head_only, "only the head was saved"),
    (save_with_optimizer, "not the model's state dict keys"),
    (save_named_parameters_only, "not the model's state dict keys"),
    (save_with_pickle, "does not load with torch.load"),
    (save_nothing, "nothing was written"),
    (save_untrained_copy, "the saved tensors differ"),
], ids=["whole_model", "parameters", "head_only", "checkpoint_dict", "no_buffers", "pickle", "nothing", "other_model"])
def test_save_mistakes_get_their_message(answer, words):
    result = helpers.check.my_save_model.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_save, save_through_handle, save_copied_dict])
def test_save_accepts_valid_answers(answer):
    result = helpers.check.my_save_model.outcome(answer)
    assert result.status == PASSED, result.line


def test_save_stub_is_not_done():
    assert helpers.check.my_save_model.outcome(stub).status == NOT_DONE
