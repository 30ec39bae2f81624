"""Mutation tests of notebook 06's exercise checks: valid answers pass, the stub is "not done
yet", and each plausible wrong answer gets its own message (docs/exercises.md)."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from mutation import Answers
from torch.utils.data import DistributedSampler

import helpers

# --- the order DistributedSampler deals a rank after set_epoch ---------------------------------

ORDER = Answers(helpers.check.my_epoch_order)


def _perm(n, epoch, seed):
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


@ORDER.right
def right_order(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = math.ceil(n_items / world_size) * world_size
    order = (order * math.ceil(total / n_items))[:total]
    return order[rank:total:world_size]


@ORDER.right
def global_generator(n_items, rank, world_size, epoch, seed=0):
    torch.manual_seed(seed + epoch)                    # the global generator, seeded the same way
    order = torch.randperm(n_items)
    total = -(-n_items // world_size) * world_size
    while len(order) < total:
        order = torch.cat([order, order[: total - len(order)]])
    return order[rank::world_size]                     # a tensor: any sequence of ints will do


@ORDER.wrong("repeats the whole order as often as needed")
def short_padding(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = -(-n_items // world_size) * world_size
    return (order + order[: total - n_items])[rank:total:world_size]


@ORDER.wrong("not the number 2")
def world_written_as_two(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = -(-n_items // 2) * 2
    order = (order * 2)[:total]
    return order[rank::2]


@ORDER.wrong("right for world_size 2, wrong for world_size 3")
def world_two_when_dealing(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = math.ceil(n_items / world_size) * world_size
    order = (order * math.ceil(total / n_items))[:total]
    return order[rank:total:2]                          # world_size in the padding, 2 in the dealing


@ORDER.wrong("forgot set_epoch")
def forgot_set_epoch(n_items, rank, world_size, epoch, seed=0):
    return right_order(n_items, rank, world_size, 0, seed)  # every epoch the first epoch's shuffle


@ORDER.wrong("your order ignores seed")
def ignores_seed(n_items, rank, world_size, epoch, seed=0):
    return right_order(n_items, rank, world_size, epoch, 0)


@ORDER.wrong("like cards")
def blocks(n_items, rank, world_size, epoch, seed=0):
    order, share = _perm(n_items, epoch, seed), n_items // world_size
    return order[rank * share:(rank + 1) * share]


@ORDER.wrong("pads the order by repeating")
def no_padding(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)[rank::world_size]


@ORDER.wrong("you padded with the LAST items")
def pad_with_last(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    pad = -(-n_items // world_size) * world_size - n_items
    return (order + order[n_items - pad:] if pad else order)[rank::world_size]


@ORDER.wrong("you dropped the items that do not divide evenly")
def drop_last(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    return order[: n_items // world_size * world_size][rank::world_size]


@ORDER.wrong("unshuffled")
def unshuffled(n_items, rank, world_size, epoch, seed=0):
    return list(range(n_items))[rank::world_size]


@ORDER.wrong("only ITS share")
def every_item(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)


@ORDER.wrong("your function uses DistributedSampler")
def uses_the_sampler(n_items, rank, world_size, epoch, seed=0):
    sampler = DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


_SAMPLER = DistributedSampler(range(10), num_replicas=2, rank=0, shuffle=True, seed=0)


@ORDER.wrong("your function uses DistributedSampler")
def sampler_built_outside(n_items, rank, world_size, epoch, seed=0):
    # a sampler made before the answer runs, reconfigured and iterated inside it: the spy still sees it used
    s = copy.copy(_SAMPLER)
    s.dataset, s.num_replicas, s.rank, s.seed = range(n_items), world_size, rank, seed
    s.num_samples = -(-n_items // world_size)
    s.total_size = s.num_samples * world_size
    s.set_epoch(epoch)
    return list(s)


def test_the_sampler_spy_is_removed_again():
    before = DistributedSampler.__init__
    helpers.check.my_epoch_order.outcome(uses_the_sampler)
    assert DistributedSampler.__init__ is before


# --- the snapshot that resumes at epoch + 1 ----------------------------------------------------

SNAPSHOT = Answers(helpers.check.my_snapshot)


@SNAPSHOT.right
def right_snapshot(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1,
            "history": list(history)}


@SNAPSHOT.right
def deep_copied_snapshot(model, optimizer, epoch, history):
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "next_epoch": epoch + 1, "history": history, "note": "extra keys are fine"})


@SNAPSHOT.wrong("train that epoch a second time")
def stores_epoch(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "next_epoch": epoch}  # the tutorial's slip


@SNAPSHOT.wrong("after epoch 1 it said 2 as well: a number written in?")
def next_epoch_written_in(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "next_epoch": 2}


@SNAPSHOT.wrong("no 'optimizer' entry")
def no_optimizer(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "next_epoch": epoch + 1, "history": list(history)}


@SNAPSHOT.wrong("not the model or optimizer objects themselves")
def module_objects(model, optimizer, epoch, history):
    return {"model": model, "optimizer": optimizer, "next_epoch": epoch + 1, "history": list(history)}


@SNAPSHOT.wrong("model.load_state_dict cannot read your 'model' entry")
def parameters_list(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "model": [p.detach() for p in model.parameters()]}


_first = {}


@SNAPSHOT.wrong("does not end with the clean run's weights")
def stale_model(model, optimizer, epoch, history):
    _first.setdefault(id(model), copy.deepcopy(model.state_dict()))  # the weights of the first epoch, every time
    return {**right_snapshot(model, optimizer, epoch, history), "model": _first[id(model)]}


@SNAPSHOT.wrong("keep the loss history")
def no_history(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1}


@SNAPSHOT.wrong("store the whole list")
def last_loss_only(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "history": history[-1:]}


@SNAPSHOT.wrong("the snapshot lacks ['next_epoch']")
def wrong_key(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
            "history": list(history)}


# every answer gets its verdict ---------------------------------------------------------------------

CASES = ORDER.cases + SNAPSHOT.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    _first.clear()  # stale_model's memory of the first weights, from an earlier case
    case.verify()
