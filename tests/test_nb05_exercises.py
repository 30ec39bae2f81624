"""Mutation tests of notebooks 05a's and 05b's exercise checks: typical wrong answers get their own message."""
import pytest
import torch
from torch import nn

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args):
    raise NotImplementedError()


def outcome(check, answer):
    return check.outcome(answer)


# 05a · the course's decision -------------------------------------------------------------------

def right_door(idx):
    if 151 <= idx <= 268:
        return "Doggy come on in!"
    elif 281 <= idx <= 285:
        return "Kitty stay inside!"
    return "You're not a dog! Stay outside!"


def door_without_268(idx):
    return right_door(idx) if idx != 268 else "You're not a dog! Stay outside!"  # range(151, 268)


def door_without_cats(idx):
    return "Doggy come on in!" if 151 <= idx <= 268 else "You're not a dog! Stay outside!"


def door_from_150(idx):
    return "Doggy come on in!" if 150 <= idx <= 268 else right_door(idx)


def on_top1(rule):
    """The exercise's shape: 1000 probabilities in, the rule applied to the top-1 class."""
    return lambda probs: rule(int(probs.argmax()))


@pytest.mark.parametrize("answer, words", [
    (door_without_268, "includes both ends"),
    (door_without_cats, "is a cat (281–285)"),
    (door_from_150, "class 150 (sea lion) is not a dog"),
    (lambda idx: "come in" if 151 <= idx <= 268 else "out", "three messages exactly"),
], ids=["range_end_excluded", "no_cats", "starts_at_150", "own_messages"])
def test_door_decision_mistakes_get_their_message(answer, words):
    result = helpers.check.door_decision.outcome(on_top1(answer))
    assert result.status == WRONG and words in result.message, result.line


# 05a · the summed dog probability --------------------------------------------------------------

def right_p_dog(logits):
    return logits.softmax(dim=1)[:, 151:269].sum(dim=1)


@pytest.mark.parametrize("answer, words", [
    (lambda lg: lg[:, 151:269].sum(dim=1), "summed the logits"),
    (lambda lg: lg.softmax(dim=0)[:, 151:269].sum(dim=1), "softmax ran over the batch (dim=0)"),
    (lambda lg: lg.softmax(dim=1)[:, 151:268].sum(dim=1), "class 268 is missing"),
    (lambda lg: lg.softmax(dim=1)[:, 151:269].sum(dim=1, keepdim=True), "one number per photo"),
    (lambda lg: lg.softmax(dim=1).max(dim=1).values, "top-1 probability"),
], ids=["logits_summed", "softmax_dim0", "slice_151_268", "keepdim", "top1"])
def test_dog_probability_mistakes_get_their_message(answer, words):
    result = helpers.check.dog_probability.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# 05b · freeze the base, add the head -----------------------------------------------------------

def right_door_model(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def base_not_frozen(base):
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def everything_frozen(base):
    model = nn.Sequential(base, nn.Linear(1000, 1))
    model.requires_grad_(False)
    return model, nn.BCEWithLogitsLoss()


def two_outputs(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 2)), nn.CrossEntropyLoss()


def bce_on_logits(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCELoss()


def sigmoid_then_ce(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.CrossEntropyLoss()


def new_base(base):
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(12, 1000)).requires_grad_(False)
    return nn.Sequential(fresh, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


@pytest.mark.parametrize("answer, words", [
    (base_not_frozen, "the base still trains"),
    (everything_frozen, "nothing trains: the head is frozen too"),
    (two_outputs, "one logit per photo"),
    (bce_on_logits, "nn.BCELoss expects probabilities"),
    (sigmoid_then_ce, "CrossEntropyLoss wants one score per class"),
    (new_base, "does not contain the base you were given"),
], ids=["base_not_frozen", "everything_frozen", "two_outputs", "bce_loss", "cross_entropy", "new_base"])
def test_door_model_mistakes_get_their_message(answer, words):
    result = helpers.check.door_model.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# 05b · the fine-tuning learning rate -----------------------------------------------------------

def right_lr(measured, before):
    safe = [lr for lr, r in measured.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= before]
    return max(safe) if safe else min(measured)


@pytest.mark.parametrize("answer, words", [
    (lambda m, b: min(m), "too cautious"),
    (lambda m, b: max(m), "kept only 0% of the base's ImageNet answers"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9] or [min(m)]),
     "lowered validation accuracy"),
    (lambda m, b: max([lr for lr, r in m.items() if r["accuracy"] >= b] or [min(m)]), "kept only 30%"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= b], default=None),
     "return the smallest one measured"),
    (lambda m, b: 3e-6, "return one of the measured learning rates"),
], ids=["always_smallest", "always_largest", "ignores_accuracy", "ignores_imagenet", "none_when_unsafe", "constant"])
def test_fine_tune_lr_mistakes_get_their_message(answer, words):
    result = helpers.check.fine_tune_lr.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("check, right", [(helpers.check.door_decision, on_top1(right_door)),
                                          (helpers.check.dog_probability, right_p_dog),
                                          (helpers.check.door_model, right_door_model),
                                          (helpers.check.fine_tune_lr, right_lr)])
def test_right_answers_pass_and_stubs_are_not_done(check, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line
    assert check.outcome(stub).status == NOT_DONE


def test_the_run_s_own_measurement_picks_1e_6():
    """On notebook 05b's measured table (1e-3 erased the base, 1e-6 kept it) the rule picks the course's 1e-6."""
    measured = {1e-3: {"imagenet_kept": 0.0, "accuracy": 0.815}, 1e-6: {"imagenet_kept": 1.0, "accuracy": 1.0}}
    assert right_lr(measured, 1.0) == 1e-6
    assert torch.is_tensor(right_p_dog(torch.zeros(2, 1000)))
