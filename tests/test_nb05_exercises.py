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
    (lambda lg: lg.softmax(dim=1)[:, 151:269].mean(dim=1), "P(dog) is their SUM"),
    (lambda lg: lg.softmax(dim=1)[:, 151:269].max(dim=1).values, "the most likely dog breed's probability"),
    (lambda lg: lg.sigmoid()[:, 151:269].sum(dim=1), "you applied a sigmoid"),
    (lambda lg: lg.log_softmax(dim=1)[:, 151:269].sum(dim=1), "summed log-probabilities"),
    (lambda lg: lg[:, 151:269].softmax(dim=1).sum(dim=1), "softmax over the dog columns alone"),
    (four_photos_written_in, "it must work for any number of rows"),
    (naive_exp, "exp overflows"),
], ids=["logits_summed", "softmax_dim0", "slice_151_268", "slice_152_269", "cats_too", "keepdim", "top1",
        "mean", "best_breed", "sigmoid", "log_probs", "dog_only_softmax", "four_written_in", "naive_exp"])
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


def loop_freeze_functional_loss(base):
    for p in base.parameters():
        p.requires_grad = False
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.functional.binary_cross_entropy_with_logits


class DoorModel(nn.Module):
    def __init__(self, base):
        super().__init__()
        self.base, self.head = base.requires_grad_(False), nn.Linear(1000, 1)

    def forward(self, x):
        return self.head(self.base(x))


def own_module_sum_loss(base):
    return DoorModel(base), nn.BCEWithLogitsLoss(reduction="sum")


def freeze_after_building(base):
    model = nn.Sequential(base, nn.Linear(1000, 1))
    model[0].requires_grad_(False)
    return model, nn.BCEWithLogitsLoss()


def unpacked_base_as_list(base):
    base.requires_grad_(False)
    return [nn.Sequential(*base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()]  # the base's own layers, a list


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


def one_logit_cross_entropy(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.CrossEntropyLoss()


def new_base(base):
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(12, 1000)).requires_grad_(False)
    return nn.Sequential(fresh, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def sigmoid_then_bce_with_logits(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1), nn.Sigmoid()), nn.BCEWithLogitsLoss()


def sigmoid_then_bce(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1), nn.Sigmoid()), nn.BCELoss()


def attribute_not_method(base):
    base.requires_grad = False  # sets an attribute; the parameters still train
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def eval_is_not_freezing(base):
    base.eval()
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


def loss_class_not_instance(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss


def hidden_layer_head(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 64), nn.ReLU(), nn.Linear(64, 1)), nn.BCEWithLogitsLoss()


def head_without_bias(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1, bias=False)), nn.BCEWithLogitsLoss()


def relu_after_head(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1), nn.ReLU()), nn.BCEWithLogitsLoss()


def tanh_after_head(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1), nn.Tanh()), nn.BCEWithLogitsLoss()


def pos_weight_and_dropout(base):
    base.requires_grad_(False)
    return (nn.Sequential(base, nn.Dropout(0.2), nn.Linear(1000, 1)),
            nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0])))


def mse_loss(base):
    base.requires_grad_(False)
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.MSELoss()


def sigmoid_inside_own_loss(base):
    base.requires_grad_(False)
    return (nn.Sequential(base, nn.Linear(1000, 1)),
            lambda logits, y: nn.functional.binary_cross_entropy(torch.sigmoid(logits), y))


@pytest.mark.parametrize("answer, words", [
    (base_not_frozen, "the base still trains"),
    (everything_frozen, "nothing trains: the head is frozen too"),
    (two_outputs, "one logit per photo"),
    (bce_on_logits, "nn.BCELoss expects probabilities"),
    (one_logit_cross_entropy, "CrossEntropyLoss wants one score per class"),
    (new_base, "does not contain the base you were given"),
    (sigmoid_then_bce_with_logits, "the sigmoid is applied twice"),
    (sigmoid_then_bce, "it ends in a sigmoid and outputs probabilities"),
    (attribute_not_method, "base.requires_grad = False only sets a new attribute"),
    (eval_is_not_freezing, "eval() changes what BatchNorm and Dropout do, it does not freeze"),
    (loss_class_not_instance, "you returned the class nn.BCEWithLogitsLoss"),
    (hidden_layer_head, "64,129 parameters train: the course's head is one layer"),
    (head_without_bias, "your head has no bias"),
    (mse_loss, "binary cross-entropy on logits gives"),
    (relu_after_head, "your model's outputs are never negative"),
    (tanh_after_head, "your model's outputs all lie in [-1, 1]"),
    (sigmoid_inside_own_loss, "your loss takes sigmoid(logit) and then binary cross-entropy"),
], ids=lambda x: x.__name__ if callable(x) else "")
def test_door_model_mistakes_get_their_message(answer, words):
    result = helpers.check.my_door_model.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_door_model, loop_freeze_functional_loss, own_module_sum_loss,
                                    freeze_after_building, pos_weight_and_dropout, unpacked_base_as_list],
                         ids=lambda f: f.__name__)
def test_door_model_valid_answers_pass(answer):
    result = helpers.check.my_door_model.outcome(answer)
    assert result.status == PASSED, result.line


# 05b · the fine-tuning learning rate -----------------------------------------------------------

def right_lr(measured, before):
    safe = [lr for lr, r in measured.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= before]
    return max(safe) if safe else min(measured)


def sorted_descending(measured, before):
    for lr in sorted(measured, reverse=True):
        if measured[lr]["imagenet_kept"] >= 0.9 and not measured[lr]["accuracy"] < before:
            return lr
    return min(measured)


def first_safe(measured, before):
    return next((lr for lr, r in measured.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= before),
                min(measured))


def percent(measured, before):
    safe = [lr for lr, r in measured.items() if r["imagenet_kept"] >= 90 and r["accuracy"] >= before]
    return max(safe) if safe else min(measured)


@pytest.mark.parametrize("answer, words", [
    (lambda m, b: min(m), "you return the smallest learning rate measured on every table"),
    (percent, "compare it with 0.9, not 90"),
    (lambda m, b: max(m), "you return the largest learning rate measured on every table"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9] or [min(m)]),
     "lowered validation accuracy"),
    (lambda m, b: max([lr for lr, r in m.items() if r["accuracy"] >= b] or [min(m)]), "kept only 30%"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= b], default=None),
     "return the smallest one measured"),
    (lambda m, b: 3e-6, "return one of the measured learning rates"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] > 0.9 and r["accuracy"] >= b] or [min(m)]),
     "includes 90% (>= 0.9, not > 0.9)"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] > b] or [min(m)]),
     "keep accuracy >= before, not > before"),
    (lambda m, b: min([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= b] or [min(m)]),
     "you return the SMALLEST safe learning rate"),
    (first_safe, "the first safe learning rate in the dict's order"),
    (lambda m, b: max([lr for lr, r in m.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= b] or [max(m)]),
     "the rule falls back to the smallest"),
    (lambda m, b: max(m, key=lambda lr: m[lr]["accuracy"]), "the learning rate with the best accuracy"),
], ids=["always_smallest", "percent", "always_largest", "ignores_accuracy", "ignores_imagenet", "none_when_unsafe",
        "constant", "strict_kept", "strict_accuracy", "smallest_safe", "first_safe", "fallback_largest",
        "best_accuracy"])
def test_fine_tune_lr_mistakes_get_their_message(answer, words):
    result = helpers.check.my_fine_tune_lr.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("answer", [right_lr, sorted_descending,
                                    lambda m, b: max((lr for lr in m if m[lr]["imagenet_kept"] >= 0.9
                                                      and m[lr]["accuracy"] >= b), default=min(m))],
                         ids=["filter_max", "sorted_descending", "generator_default"])
def test_fine_tune_lr_valid_answers_pass(answer):
    result = helpers.check.my_fine_tune_lr.outcome(answer)
    assert result.status == PASSED, result.line


@pytest.mark.parametrize("check", [helpers.check.my_doggy_door_decision, helpers.check.my_dog_probability,
                                   helpers.check.my_door_model, helpers.check.my_fine_tune_lr])
def test_stubs_are_not_done(check):
    assert check.outcome(stub).status == NOT_DONE


def test_the_run_s_own_measurement_picks_1e_6():
    """On notebook 05b's measured table (1e-3 erased the base, 1e-6 kept it) the rule picks the course's 1e-6."""
    measured = {1e-3: {"imagenet_kept": 0.0, "accuracy": 0.815}, 1e-6: {"imagenet_kept": 1.0, "accuracy": 1.0}}
    assert right_lr(measured, 1.0) == 1e-6
