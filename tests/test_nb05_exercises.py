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


def on_top1(rule):
    """The exercise's shape: 1000 probabilities in, the rule applied to the top-1 class."""
    return lambda probs: rule(int(probs.argmax()))


def door_without_268(idx):
    return right_door(idx) if idx != 268 else "You're not a dog! Stay outside!"  # range(151, 268)


def door_without_cats(idx):
    return "Doggy come on in!" if 151 <= idx <= 268 else "You're not a dog! Stay outside!"


def door_from_150(idx):
    return "Doggy come on in!" if 150 <= idx <= 268 else right_door(idx)


def cats_from_282(idx):
    return "Kitty stay inside!" if 282 <= idx <= 285 else right_door(idx) if idx != 281 else right_door(0)


def cats_from_280(idx):
    return "Kitty stay inside!" if 280 <= idx <= 285 else right_door(idx)


def by_summed_probability(probs):
    dog, cat = probs[151:269].sum(), probs[281:286].sum()
    if dog > 0.5:
        return "Doggy come on in!"
    return "Kitty stay inside!" if cat > 0.5 else "You're not a dog! Stay outside!"


def by_largest_group(probs):
    dog, cat = float(probs[151:269].sum()), float(probs[281:286].sum())
    other = 1 - dog - cat
    return ["Doggy come on in!", "Kitty stay inside!", "You're not a dog! Stay outside!"][
        max(range(3), key=[dog, cat, other].__getitem__)]


def only_when_sure(probs):
    idx = int(probs.argmax())
    return right_door(idx) if probs[idx] > 0.5 else "You're not a dog! Stay outside!"


def by_top_value(probs):
    return right_door(int(probs.max()))  # the probability, not its index


@pytest.mark.parametrize("answer, words", [
    (on_top1(door_without_268), "includes both ends"),
    (on_top1(door_without_cats), "cats get 'Kitty stay inside!'"),
    (on_top1(door_from_150), "class 150 (sea lion) is not a dog"),
    (on_top1(cats_from_282), "the cat range 281–285 includes both ends"),
    (on_top1(cats_from_280), "class 280 (grey fox) is not a cat"),
    (on_top1(lambda idx: "come in" if 151 <= idx <= 268 else "out"), "three messages exactly"),
    (by_summed_probability, "you decided by the summed group probability"),
    (by_largest_group, "the largest summed probability"),
    (only_when_sure, "only when its probability is above 0.5"),
    (by_top_value, "class 151 (Chihuahua) on top with probability 0.90 should get"),
], ids=["range_end_excluded", "no_cats", "starts_at_150", "cats_from_282", "cats_from_280", "own_messages",
        "summed_rule", "largest_group", "threshold", "max_value_not_index"])
def test_door_decision_mistakes_get_their_message(answer, words):
    result = helpers.check.my_doggy_door_decision.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [
    on_top1(right_door),
    lambda probs: ("Doggy come on in!" if int(probs.argmax()) in helpers.DOG_CLASSES else "Kitty stay inside!"
                   if int(probs.argmax()) in helpers.CAT_CLASSES else "You're not a dog! Stay outside!"),
    lambda probs: right_door(torch.topk(probs, 1).indices.item()),
], ids=["chained_comparison", "helpers_ranges", "topk"])
def test_door_decision_valid_answers_pass(answer):
    result = helpers.check.my_doggy_door_decision.outcome(answer)
    assert result.status == PASSED, result.line


# 05a · the summed dog probability --------------------------------------------------------------

def right_p_dog(logits):
    return logits.softmax(dim=1)[:, 151:269].sum(dim=1)


def four_photos_written_in(logits):
    return torch.stack([logits[i].softmax(dim=0)[151:269].sum() for i in range(4)])


def naive_exp(logits):
    e = logits.exp()
    return e[:, 151:269].sum(dim=1) / e.sum(dim=1)


@pytest.mark.parametrize("answer, words", [
    (lambda lg: lg[:, 151:269].sum(dim=1), "summed the logits"),
    (lambda lg: lg.softmax(dim=0)[:, 151:269].sum(dim=1), "softmax ran over the batch (dim=0)"),
    (lambda lg: lg.softmax(dim=1)[:, 151:268].sum(dim=1), "class 268 is missing"),
    (lambda lg: lg.softmax(dim=1)[:, 152:269].sum(dim=1), "class 151 is missing"),
    (lambda lg: lg.softmax(dim=1)[:, 151:286].sum(dim=1), "dogs AND cats"),
    (lambda lg: lg.softmax(dim=1)[:, 151:269].sum(dim=1, keepdim=True), "no keepdim"),
    (lambda lg: lg.softmax(dim=1).max(dim=1).values, "top-1 probability"),
    (lambda lg: lg.softmax(dim=1)[:, 151:269].max(dim=1).values, "the most likely dog breed's probability"),
    (lambda lg: lg.sigmoid()[:, 151:269].sum(dim=1), "you applied a sigmoid"),
    (lambda lg: lg.log_softmax(dim=1)[:, 151:269].sum(dim=1), "summed log-probabilities"),
    (lambda lg: lg[:, 151:269].softmax(dim=1).sum(dim=1), "softmax over the dog columns alone"),
    (four_photos_written_in, "it must work for any number of rows"),
    (naive_exp, "exp overflows"),
], ids=["logits_summed", "softmax_dim0", "slice_151_268", "slice_152_269", "cats_too", "keepdim", "top1",
        "best_breed", "sigmoid", "log_probs", "dog_only_softmax", "four_written_in", "naive_exp"])
def test_dog_probability_mistakes_get_their_message(answer, words):
    result = helpers.check.my_dog_probability.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def stable_by_hand(logits):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    e = shifted.exp()
    return e[:, list(helpers.DOG_CLASSES)].sum(dim=1) / e.sum(dim=1)


@pytest.mark.parametrize("answer", [
    right_p_dog,
    lambda lg: torch.nn.functional.softmax(lg, dim=-1)[:, list(helpers.DOG_CLASSES)].sum(-1),
    lambda lg: (lg[:, 151:269].logsumexp(dim=1) - lg.logsumexp(dim=1)).exp(),
    stable_by_hand,
], ids=["slice", "functional_dog_classes", "logsumexp", "by_hand_with_max"])
def test_dog_probability_valid_answers_pass(answer):
    result = helpers.check.my_dog_probability.outcome(answer)
    assert result.status == PASSED, result.line


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
    result = helpers.check.my_door_model.outcome(answer)
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
    result = helpers.check.my_fine_tune_lr.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("check, right", [(helpers.check.my_doggy_door_decision, on_top1(right_door)),
                                          (helpers.check.my_dog_probability, right_p_dog),
                                          (helpers.check.my_door_model, right_door_model),
                                          (helpers.check.my_fine_tune_lr, right_lr)])
def test_right_answers_pass_and_stubs_are_not_done(check, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line
    assert check.outcome(stub).status == NOT_DONE


def test_the_run_s_own_measurement_picks_1e_6():
    """On notebook 05b's measured table (1e-3 erased the base, 1e-6 kept it) the rule picks the course's 1e-6."""
    measured = {1e-3: {"imagenet_kept": 0.0, "accuracy": 0.815}, 1e-6: {"imagenet_kept": 1.0, "accuracy": 1.0}}
    assert right_lr(measured, 1.0) == 1e-6
    assert torch.is_tensor(right_p_dog(torch.zeros(2, 1000)))
