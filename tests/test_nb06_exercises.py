"""Mutation tests of notebook 06's exercise checks: the right answer passes, the stub is "not done
yet", and each typical wrong answer gets its own message (docs/exercises.md)."""
from __future__ import annotations

import copy

import pytest
import torch

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG

# --- exercise 1: the order DistributedSampler deals a rank after set_epoch -------------------

def _perm(n, epoch, seed):
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def right_order(n_items, rank, world_size, epoch, seed=0):
    order = _perm(n_items, epoch, seed)
    total = -(-n_items // world_size) * world_size
    order += order[: total - n_items]
    return order[rank:total:world_size]


def forgot_set_epoch(n_items, rank, world_size, epoch, seed=0):
    return right_order(n_items, rank, world_size, 0, seed)  # every epoch the first epoch's shuffle


def blocks(n_items, rank, world_size, epoch, seed=0):
    order, share = _perm(n_items, epoch, seed), n_items // world_size
    return order[rank * share:(rank + 1) * share]


def no_padding(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)[rank::world_size]


def unshuffled(n_items, rank, world_size, epoch, seed=0):
    return list(range(n_items))[rank::world_size]


def every_item(n_items, rank, world_size, epoch, seed=0):
    return _perm(n_items, epoch, seed)


def stub(*args):
    raise NotImplementedError()


def test_the_right_epoch_order_passes_and_the_stub_is_not_done():
    assert helpers.check.epoch_order.outcome(right_order).status == PASSED
    assert helpers.check.epoch_order.outcome(stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (forgot_set_epoch, "forgot set_epoch"),
    (blocks, "like cards"),
    (no_padding, "pads the order by repeating"),
    (unshuffled, "unshuffled"),
    (every_item, "only ITS share"),
])
def test_epoch_order_mistakes_get_their_message(answer, words):
    result = helpers.check.epoch_order.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# --- exercise 2: the snapshot that resumes at epoch + 1 ---------------------------------------

def right_snapshot(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1,
            "history": list(history)}


def stores_epoch(model, optimizer, epoch, history):
    return {**right_snapshot(model, optimizer, epoch, history), "next_epoch": epoch}  # the tutorial's slip


def no_optimizer(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "next_epoch": epoch + 1, "history": list(history)}


_first = {}


def stale_model(model, optimizer, epoch, history):
    _first.setdefault(id(model), copy.deepcopy(model.state_dict()))  # the weights of the first epoch, every time
    return {**right_snapshot(model, optimizer, epoch, history), "model": _first[id(model)]}


def no_history(model, optimizer, epoch, history):
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "next_epoch": epoch + 1}


def test_the_right_snapshot_passes_and_the_stub_is_not_done():
    assert helpers.check.snapshot_for_resume.outcome(right_snapshot).status == PASSED
    assert helpers.check.snapshot_for_resume.outcome(stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (stores_epoch, "train that epoch a second time"),
    (no_optimizer, "no 'optimizer' entry"),
    (stale_model, "does not end with the clean run's weights"),
    (no_history, "keep the loss history"),
])
def test_snapshot_mistakes_get_their_message(answer, words):
    _first.clear()
    result = helpers.check.snapshot_for_resume.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line
