"""Mutation tests of notebook 06's exercise checks: valid answers pass, the stub is "not done
yet", and each plausible wrong answer gets its own message (docs/exercises.md)."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.utils.data import DistributedSampler

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG

# --- the order DistributedSampler deals a rank after set_epoch ---------------------------------

def _perm(n, epoch, seed):
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def right_order(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = math.ceil(n_items / world_size) * world_size
    order = (order * math.ceil(total / n_items))[:total]
    return order[rank:total:world_size]


def global_generator(n_items, rank, world_size, epoch, seed=0):
    torch.manual_seed(seed + epoch)                    # the global generator, seeded the same way
    order = torch.randperm(n_items)
    total = -(-n_items // world_size) * world_size
    while len(order) < total:
        order = torch.cat([order, order[: total - len(order)]])
    return order[rank::world_size]                     # a tensor: any sequence of ints will do


def short_padding(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = -(-n_items // world_size) * world_size
    return (order + order[: total - n_items])[rank:total:world_size]


def world_written_as_two(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = -(-n_items // 2) * 2
    order = (order * 2)[:total]
    return order[rank::2]


def world_two_when_dealing(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = math.ceil(n_items / world_size) * world_size
    order = (order * math.ceil(total / n_items))[:total]
    return order[rank:total:2]                          # world_size in the padding, 2 in the dealing


def forgot_set_epoch(n_items, rank, world_size, epoch, seed=0):
    return right_order(n_items, rank, world_size, 0, seed)  # every epoch the first epoch's shuffle


def ignores_seed(n_items, rank, world_size, epoch, seed=0):
    return right_order(n_items, rank, world_size, epoch, 0)


def blocks(n_items, rank, world_size, epoch, seed=0):
    order, share = _perm(n_items, epoch, seed), n_items // world_size
    return order[rank * share:(rank + 1) * share]


def no_padding(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)[rank::world_size]


def pad_with_last(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    pad = -(-n_items // world_size) * world_size - n_items
    return (order + order[n_items - pad:] if pad else order)[rank::world_size]


def drop_last(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    return order[: n_items // world_size * world_size][rank::world_size]


def unshuffled(n_items, rank, world_size, epoch, seed=0):
    return list(range(n_items))[rank::world_size]


def every_item(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)


def uses_the_sampler(n_items, rank, world_size, epoch, seed=0):
    sampler = DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


_SAMPLER = DistributedSampler(range(10), num_replicas=2, rank=0, shuffle=True, seed=0)


def sampler_built_outside(n_items, rank, world_size, epoch, seed=0):
    # a sampler made before the answer runs, reconfigured and iterated inside it: the spy still sees it used
    s = copy.copy(_SAMPLER)
    s.dataset, s.num_replicas, s.rank, s.seed = range(n_items), world_size, rank, seed
    s.num_samples = -(-n_items // world_size)
    s.total_size = s.num_samples * world_size
    s.set_epoch(epoch)
    return list(s)


def stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("answer", [right_order, global_generator], ids=lambda f: f.__name__)
def test_valid_epoch_orders_pass(answer):
    result = helpers.check.my_epoch_order.outcome(answer)
    assert result.status == PASSED, result.line


def test_the_epoch_order_stub_is_not_done():
    assert helpers.check.my_epoch_order.outcome(stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (forgot_set_epoch, "forgot set_epoch"),
    (ignores_seed, "your order ignores seed"),
    (blocks, "like cards"),
    (no_padding, "pads the order by repeating"),
    (pad_with_last, "you padded with the LAST items"),
    (drop_last, "you dropped the items that do not divide evenly"),
    (short_padding, "repeats the whole order as often as needed"),
    (world_written_as_two, "not the number 2"),
    (world_two_when_dealing, "right for world_size 2, wrong for world_size 3"),
    (unshuffled, "unshuffled"),
    (every_item, "only ITS share"),
    (uses_the_sampler, "your function uses DistributedSampler"),
    (sampler_built_outside, "your function uses DistributedSampler"),
], ids=lambda x: x.__name__ if callable(x) else "")
def test_epoch_order_mistakes_get_their_message(answer, words):
    result = helpers.check.my_epoch_order.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def test_the_sampler_spy_is_removed_again():
    before = DistributedSampler.__init__
    helpers.check.my_epoch_order.outcome(uses_the_sampler)
    assert DistributedSampler.__init__ is before


# --- the snapshot that resumes at epoch + 1 ----------------------------------------------------

def right_snapshot(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1,
            "history": list(history)}


def deep_copied_snapshot(model, optimizer, epoch, history):
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "next_epoch": epoch + 1, "history": history, "note": "extra keys are fine"})


def stores_epoch(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "next_epoch": epoch}  # the tutorial's slip


def next_epoch_written_in(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "next_epoch": 2}


def no_optimizer(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "next_epoch": epoch + 1, "history": list(history)}


def module_objects(model, optimizer, epoch, history):
    return {"model": model, "optimizer": optimizer, "next_epoch": epoch + 1, "history": list(history)}


def parameters_list(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "model": [p.detach() for p in model.parameters()]}


_first = {}


def stale_model(model, optimizer, epoch, history):
    _first.setdefault(id(model), copy.deepcopy(model.state_dict()))  # the weights of the first epoch, every time
    return {**right_snapshot(model, optimizer, epoch, history), "model": _first[id(model)]}


def no_history(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1}


def last_loss_only(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "history": history[-1:]}


def wrong_key(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
            "history": list(history)}


@pytest.mark.parametrize("answer", [right_snapshot, deep_copied_snapshot], ids=lambda f: f.__name__)
def test_valid_snapshots_pass(answer):
    result = helpers.check.my_snapshot.outcome(answer)
    assert result.status == PASSED, result.line


def test_the_snapshot_stub_is_not_done():
    assert helpers.check.my_snapshot.outcome(stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (stores_epoch, "train that epoch a second time"),
    (next_epoch_written_in, "after epoch 1 it said 2 as well: a number written in?"),
    (no_optimizer, "no 'optimizer' entry"),
    (module_objects, "not the model or optimizer objects themselves"),
    (parameters_list, "model.load_state_dict cannot read your 'model' entry"),
    (stale_model, "does not end with the clean run's weights"),
    (no_history, "keep the loss history"),
    (last_loss_only, "store the whole list"),
    (wrong_key, "the snapshot lacks ['next_epoch']"),
], ids=lambda x: x.__name__ if callable(x) else "")
def test_snapshot_mistakes_get_their_message(answer, words):
    _first.clear()
    result = helpers.check.my_snapshot.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line
