"""Mutation tests of notebooks 05a's and 05b's exercise checks: typical wrong answers get their own message."""
import operator

import pytest
import torch
from mutation import Answers, course_model
from torch import nn
from torch.nn import functional as F

import helpers

# 05a · the course's decision -------------------------------------------------------------------

DECISION = Answers(helpers.check.my_doggy_door_decision)


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


DECISION.wrong("includes both ends", range_end_excluded=on_top1(door_without_268))
DECISION.wrong("cats get 'Kitty stay inside!'", no_cats=on_top1(door_without_cats))
DECISION.wrong("class 150 (sea lion) is not a dog", starts_at_150=on_top1(door_from_150))
DECISION.wrong("the cat range 281–285 includes both ends", cats_from_282=on_top1(cats_from_282))
DECISION.wrong("class 280 (grey fox) is not a cat", cats_from_280=on_top1(cats_from_280))
DECISION.wrong("three messages exactly",
               own_messages=on_top1(lambda idx: "come in" if 151 <= idx <= 268 else "out"))
DECISION.wrong("you decided by the summed group probability", summed_rule=by_summed_probability)
DECISION.wrong("the largest summed probability", largest_group=by_largest_group)
DECISION.wrong("only when its probability is above 0.5", threshold=only_when_sure)
DECISION.wrong("class 151 (Chihuahua) on top with probability 0.90 should get", max_value_not_index=by_top_value)


DECISION.right(chained_comparison=on_top1(right_door),
               helpers_ranges=lambda probs: ("Doggy come on in!" if int(probs.argmax()) in helpers.DOG_CLASSES
                                             else "Kitty stay inside!" if int(probs.argmax()) in helpers.CAT_CLASSES
                                             else "You're not a dog! Stay outside!"),
               topk=lambda probs: right_door(torch.topk(probs, 1).indices.item()))


# 05a · the summed dog probability --------------------------------------------------------------

P_DOG = Answers(helpers.check.my_dog_probability)


def right_p_dog(logits):
    return logits.softmax(dim=1)[:, 151:269].sum(dim=1)


def four_photos_written_in(logits):
    return torch.stack([logits[i].softmax(dim=0)[151:269].sum() for i in range(4)])


@P_DOG.wrong("exp overflows")
def naive_exp(logits):
    e = logits.exp()
    return e[:, 151:269].sum(dim=1) / e.sum(dim=1)


P_DOG.wrong("summed the logits", logits_summed=lambda lg: lg[:, 151:269].sum(dim=1))
P_DOG.wrong("softmax ran over the batch (dim=0)", softmax_dim0=lambda lg: lg.softmax(dim=0)[:, 151:269].sum(dim=1))
P_DOG.wrong("class 268 is missing", slice_151_268=lambda lg: lg.softmax(dim=1)[:, 151:268].sum(dim=1))
P_DOG.wrong("class 151 is missing", slice_152_269=lambda lg: lg.softmax(dim=1)[:, 152:269].sum(dim=1))
P_DOG.wrong("dogs AND cats", cats_too=lambda lg: lg.softmax(dim=1)[:, 151:286].sum(dim=1))
P_DOG.wrong("no keepdim", keepdim=lambda lg: lg.softmax(dim=1)[:, 151:269].sum(dim=1, keepdim=True))
P_DOG.wrong("top-1 probability", top1=lambda lg: lg.softmax(dim=1).max(dim=1).values)
P_DOG.wrong("P(dog) is their SUM", mean=lambda lg: lg.softmax(dim=1)[:, 151:269].mean(dim=1))
P_DOG.wrong("the most likely dog breed's probability",
            best_breed=lambda lg: lg.softmax(dim=1)[:, 151:269].max(dim=1).values)
P_DOG.wrong("you applied a sigmoid", sigmoid=lambda lg: lg.sigmoid()[:, 151:269].sum(dim=1))
P_DOG.wrong("summed log-probabilities", log_probs=lambda lg: lg.log_softmax(dim=1)[:, 151:269].sum(dim=1))
P_DOG.wrong("softmax over the dog columns alone",
            dog_only_softmax=lambda lg: lg[:, 151:269].softmax(dim=1).sum(dim=1))
P_DOG.wrong("it must work for any number of rows", four_written_in=four_photos_written_in)


def stable_by_hand(logits):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    e = shifted.exp()
    return e[:, list(helpers.DOG_CLASSES)].sum(dim=1) / e.sum(dim=1)


P_DOG.right(slice=right_p_dog,
            functional_dog_classes=lambda lg: F.softmax(lg, dim=-1)[:, list(helpers.DOG_CLASSES)].sum(-1),
            logsumexp=lambda lg: (lg[:, 151:269].logsumexp(dim=1) - lg.logsumexp(dim=1)).exp(),
            by_hand_with_max=stable_by_hand)


# 05b · freeze the base, add the head -----------------------------------------------------------

DOOR = Answers(helpers.check.my_door_model)
door = course_model(nn.Linear(1000, 1), nn.BCEWithLogitsLoss())  # the right answer but for what arguments change

DOOR.right(right_door_model=door())


@DOOR.right
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


@DOOR.right
def own_module_sum_loss(base):
    return DoorModel(base), nn.BCEWithLogitsLoss(reduction="sum")


@DOOR.right
def freeze_after_building(base):
    model = nn.Sequential(base, nn.Linear(1000, 1))
    model[0].requires_grad_(False)
    return model, nn.BCEWithLogitsLoss()


@DOOR.right
def unpacked_base_as_list(base):
    base.requires_grad_(False)
    return [nn.Sequential(*base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()]  # the base's own layers, a list


@DOOR.wrong("does not contain the base you were given")
def new_base(base):
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(12, 1000)).requires_grad_(False)
    return nn.Sequential(fresh, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


@DOOR.wrong("base.requires_grad = False only sets a new attribute")
def attribute_not_method(base):
    base.requires_grad = False  # sets an attribute; the parameters still train
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


@DOOR.wrong("eval() changes what BatchNorm and Dropout do, it does not freeze")
def eval_is_not_freezing(base):
    base.eval()
    return nn.Sequential(base, nn.Linear(1000, 1)), nn.BCEWithLogitsLoss()


DOOR.right(pos_weight_and_dropout=door(nn.Dropout(0.2), nn.Linear(1000, 1),
                                       loss=nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))))
DOOR.wrong("the base still trains", base_not_frozen=door(freeze="none"))
DOOR.wrong("nothing trains: the head is frozen too", everything_frozen=door(freeze="all"))
DOOR.wrong("one logit per photo", two_outputs=door(nn.Linear(1000, 2), loss=nn.CrossEntropyLoss()))
DOOR.wrong("nn.BCELoss expects probabilities", bce_on_logits=door(loss=nn.BCELoss()))
DOOR.wrong("CrossEntropyLoss wants one score per class", one_logit_cross_entropy=door(loss=nn.CrossEntropyLoss()))
DOOR.wrong("the sigmoid is applied twice", sigmoid_then_bce_with_logits=door(nn.Linear(1000, 1), nn.Sigmoid()))
DOOR.wrong("it ends in a sigmoid and outputs probabilities",
           sigmoid_then_bce=door(nn.Linear(1000, 1), nn.Sigmoid(), loss=nn.BCELoss()))
DOOR.wrong("you returned the class nn.BCEWithLogitsLoss", loss_class_not_instance=door(loss=nn.BCEWithLogitsLoss))
DOOR.wrong("64,129 parameters train: the course's head is one layer",
           hidden_layer_head=door(nn.Linear(1000, 64), nn.ReLU(), nn.Linear(64, 1)))
DOOR.wrong("your head has no bias", head_without_bias=door(nn.Linear(1000, 1, bias=False)))
DOOR.wrong("your model's outputs are never negative", relu_after_head=door(nn.Linear(1000, 1), nn.ReLU()))
DOOR.wrong("your model's outputs all lie in [-1, 1]", tanh_after_head=door(nn.Linear(1000, 1), nn.Tanh()))
DOOR.wrong("binary cross-entropy on logits gives", mse_loss=door(loss=nn.MSELoss()))
DOOR.wrong("your loss takes sigmoid(logit) and then binary cross-entropy",
           sigmoid_inside_own_loss=door(loss=lambda logits, y: F.binary_cross_entropy(torch.sigmoid(logits), y)))


# 05b · the fine-tuning learning rate -----------------------------------------------------------

FINE_LR = Answers(helpers.check.my_fine_tune_lr)


def make_rule(*, kept=operator.ge, accuracy=operator.ge, pick=max, fallback=min):
    """Return a rule (measured, before) -> lr, right unless one option makes a typical slip (None: not compared)."""
    def rule(measured, before):
        safe = [lr for lr, r in measured.items() if (kept is None or kept(r["imagenet_kept"], 0.9))
                and (accuracy is None or accuracy(r["accuracy"], before))]
        return pick(safe) if safe else fallback(measured)
    return rule


def right_lr(measured, before):
    safe = [lr for lr, r in measured.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= before]
    return max(safe) if safe else min(measured)


@FINE_LR.right
def sorted_descending(measured, before):
    for lr in sorted(measured, reverse=True):
        if measured[lr]["imagenet_kept"] >= 0.9 and not measured[lr]["accuracy"] < before:
            return lr
    return min(measured)


@FINE_LR.wrong("the first safe learning rate in the dict's order")
def first_safe(measured, before):
    return next((lr for lr, r in measured.items() if r["imagenet_kept"] >= 0.9 and r["accuracy"] >= before),
                min(measured))


@FINE_LR.wrong("compare it with 0.9, not 90")
def percent(measured, before):
    safe = [lr for lr, r in measured.items() if r["imagenet_kept"] >= 90 and r["accuracy"] >= before]
    return max(safe) if safe else min(measured)


FINE_LR.wrong("you return the smallest learning rate measured on every table", always_smallest=lambda m, b: min(m))
FINE_LR.wrong("you return the largest learning rate measured on every table", always_largest=lambda m, b: max(m))
FINE_LR.wrong("lowered validation accuracy", ignores_accuracy=make_rule(accuracy=None))
FINE_LR.wrong("kept only 30%", ignores_imagenet=make_rule(kept=None))
FINE_LR.wrong("return the smallest one measured", none_when_unsafe=make_rule(fallback=lambda measured: None))
FINE_LR.wrong("return one of the measured learning rates", constant=lambda m, b: 3e-6)
FINE_LR.wrong("includes 90% (>= 0.9, not > 0.9)", strict_kept=make_rule(kept=operator.gt))
FINE_LR.wrong("keep accuracy >= before, not > before", strict_accuracy=make_rule(accuracy=operator.gt))
FINE_LR.wrong("you return the SMALLEST safe learning rate", smallest_safe=make_rule(pick=min))
FINE_LR.wrong("the rule falls back to the smallest", fallback_largest=make_rule(fallback=max))
FINE_LR.wrong("the learning rate with the best accuracy",
              best_accuracy=lambda m, b: max(m, key=lambda lr: m[lr]["accuracy"]))


FINE_LR.right(filter_max=right_lr,
              generator_default=lambda m, b: max((lr for lr in m if m[lr]["imagenet_kept"] >= 0.9
                                                  and m[lr]["accuracy"] >= b), default=min(m)))


# every answer gets its verdict -----------------------------------------------------------------

CASES = DECISION.cases + P_DOG.cases + DOOR.cases + FINE_LR.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()


def test_the_run_s_own_measurement_picks_1e_6():
    """On notebook 05b's measured table (1e-3 erased the base, 1e-6 kept it) the rule picks the course's 1e-6."""
    measured = {1e-3: {"imagenet_kept": 0.0, "accuracy": 0.815}, 1e-6: {"imagenet_kept": 1.0, "accuracy": 1.0}}
    assert right_lr(measured, 1.0) == 1e-6
