"""Mutation tests of notebook 08's exercise checks: typical wrong answers get their own message, valid ones pass."""
import pickle
from collections import OrderedDict

import pytest
import torch
from mutation import Answers, course_model
from torch import nn

import helpers

# Exercise 1 · the model -----------------------------------------------------------------------

MODEL = Answers(helpers.check.my_assessment_model)
assessment = course_model(nn.Linear(1000, 6), nn.CrossEntropyLoss())  # the right answer but for what arguments change

MODEL.right(right_model=assessment())


@MODEL.right
def model_freeze_loop_smoothing(base):       # valid: a loop to freeze, label smoothing in the loss
    model = nn.Sequential(base, nn.Linear(1000, 6))
    for p in model[0].parameters():
        p.requires_grad = False
    return model, nn.CrossEntropyLoss(label_smoothing=0.1)


@MODEL.right
def model_freeze_after_bias_free(base):      # valid: freeze after building, a head without bias is also a head
    model = nn.Sequential(base, nn.Linear(1000, 6))
    model[0].requires_grad_(False)
    return model, nn.CrossEntropyLoss(reduction="mean")


@MODEL.wrong("does not contain the base")
def head_only(base):
    base.requires_grad_(False)
    return nn.Linear(1000, 6), nn.CrossEntropyLoss()


@MODEL.wrong("its keys must be '0.…'")
def named_layers(base):
    base.requires_grad_(False)
    return nn.Sequential(OrderedDict(base=base, head=nn.Linear(1000, 6))), nn.CrossEntropyLoss()


MODEL.wrong("this task has six classes", one_output_bce=assessment(nn.Linear(1000, 1), loss=nn.BCEWithLogitsLoss()))
MODEL.wrong("shape (3, 6); yours gives (3, 2)", two_outputs=assessment(nn.Linear(1000, 2)))
MODEL.wrong("ends in a softmax", with_softmax=assessment(nn.Linear(1000, 6), nn.Softmax(dim=1)))
MODEL.wrong("the base still trains", not_frozen=assessment(freeze="none"))
MODEL.wrong("nothing trains", everything_frozen=assessment(freeze="all"))
MODEL.wrong("NLLLoss expects log-probabilities", nll_on_logits=assessment(loss=nn.NLLLoss()))
MODEL.wrong("is for yes/no targets", bce_six=assessment(loss=nn.BCEWithLogitsLoss()))


# Exercise 2 · saving ------------------------------------------------------------------------------

SAVE = Answers(helpers.check.my_save_model)


@SAVE.right
def right_save(model, path):
    torch.save(model.state_dict(), path)


@SAVE.right
def save_through_handle(model, path):        # valid: an open file
    with open(path, "wb") as fh:
        torch.save(model.state_dict(), fh)


@SAVE.right
def save_copied_dict(model, path):           # valid: a plain dict copy of the state dict, path as a string
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, str(path))


@SAVE.wrong("pickles the whole model")
def save_whole_model(model, path):
    torch.save(model, path)


@SAVE.wrong("a list of tensors")
def save_parameters(model, path):
    torch.save(list(model.parameters()), path)


@SAVE.wrong("only the head was saved")
def save_head_only(model, path):
    torch.save(model[1].state_dict(), path)


@SAVE.wrong("not the model's state dict keys")
def save_with_optimizer(model, path):
    torch.save({"model": model.state_dict(), "epoch": 3}, path)


@SAVE.wrong("not the model's state dict keys")
def save_named_parameters_only(model, path):
    torch.save(dict(model.named_parameters()), path)   # the BatchNorm running statistics are lost


@SAVE.wrong("does not load with torch.load")
def save_with_pickle(model, path):
    with open(path, "wb") as fh:
        pickle.dump(model, fh)


@SAVE.wrong("nothing was written")
def save_nothing(model, path):
    return model.state_dict()


@SAVE.wrong("the saved tensors differ")
def save_untrained_copy(model, path):
    fresh = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(12, 1000), nn.BatchNorm1d(1000)), nn.Linear(1000, 6))
    torch.save(fresh.state_dict(), path)


# every answer gets its verdict ---------------------------------------------------------------------

CASES = MODEL.cases + SAVE.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()
