"""Checks for notebook 06's exercises: the order ``DistributedSampler`` deals each rank after
``set_epoch``, and the snapshot that resumes a crashed run at the next epoch.

Both run in this process in a fraction of a second: the first against ``DistributedSampler``
itself, the second with a tiny seeded model trained, "crashed" and resumed from the learner's
snapshot, compared with an uninterrupted run.
"""
from __future__ import annotations

import io

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from ..exercises import exercise, expect

__all__ = ["my_epoch_order", "my_snapshot"]


def _reference_order(n_items: int, rank: int, world_size: int, epoch: int, seed: int) -> list[int]:
    sampler = DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


@exercise
def my_epoch_order(answer) -> str:
    """``answer(n_items, rank, world_size, epoch, seed)`` must return the item indices that
    ``DistributedSampler(shuffle=True, seed=seed)`` gives ``rank`` after ``set_epoch(epoch)``."""
    n, world, seed = 10, 2, 0
    mine = {(r, e): [int(i) for i in answer(n, r, world, e, seed)] for r in range(world) for e in range(2)}
    ref = {(r, e): _reference_order(n, r, world, e, seed) for r in range(world) for e in range(2)}
    expect(all(len(v) == n // world for v in mine.values()),
           f"each of {world} ranks should get {n // world} of the {n} items; yours got "
           f"{sorted({len(v) for v in mine.values()})}: every rank reads only ITS share")
    unshuffled = [list(range(n))[r::world] for r in range(world)]
    expect([mine[r, 0] for r in range(world)] != unshuffled,
           "your ranks get items 0, 2, 4, ... and 1, 3, 5, ... unshuffled: draw the order with "
           "torch.randperm(n_items, generator=g) first")
    expect(mine[0, 0] != mine[0, 1] or ref[0, 0] == ref[0, 1],
           "your order is the same in epoch 0 and epoch 1: that is a run that forgot set_epoch. "
           "DistributedSampler seeds its shuffle with seed + epoch: torch.Generator().manual_seed(seed + epoch)")
    flat0 = sorted(i for r in range(world) for i in mine[r, 0])
    expect(flat0 == list(range(n)),
           "together the ranks should cover every item exactly once in an epoch; yours give "
           f"{flat0}: shuffle one permutation of all items, then share it out")
    perm, k = _perm(n, 0, seed), n // world
    expect([mine[r, 0] for r in range(world)] != [perm[r * k:(r + 1) * k] for r in range(world)],
           "you gave rank 0 the first half of the shuffled order and rank 1 the second: DistributedSampler "
           "deals the shuffled items out like cards, rank r takes items r, r + world_size, r + 2 * world_size, ...")
    expect(mine == ref,
           "the shares differ from DistributedSampler's: shuffle with torch.randperm(n_items, generator=g), "
           "g seeded with seed + epoch, then take order[rank::world_size]")
    odd = {(r, e): [int(i) for i in answer(11, r, 2, e, 3)] for r in range(2) for e in range(2)}
    expect(all(len(v) == 6 for v in odd.values()),
           "with 11 items and 2 ranks DistributedSampler gives each rank 6: it pads the order by repeating "
           "its first items until the length divides evenly (so every rank takes the same number of steps)")
    expect(odd == {(r, e): _reference_order(11, r, 2, e, 3) for r in range(2) for e in range(2)},
           "with 11 items the padding differs: append order[:padding] (the first items again) before dealing")
    return ("your shares equal DistributedSampler's in every epoch, padding included: a new shuffle per epoch "
            "(seed + epoch), the same on every rank, dealt like cards")


def _perm(n: int, epoch: int, seed: int) -> list[int]:
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


EPOCHS, CRASH_AFTER = 4, 1  # train epochs 0..3; the "crash" comes after epoch 1 has been snapshotted


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, epochs: range, data, snapshot=None):
    """Train ``epochs`` (one pass over ``data`` each); after each, call ``snapshot(epoch)`` if given."""
    for epoch in epochs:
        g = torch.Generator()
        g.manual_seed(epoch)
        for i in torch.randperm(len(data[0]), generator=g).split(4):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(data[0][i]), data[1][i]).backward()
            optimizer.step()
        if snapshot is not None:
            snapshot(epoch)


def _fresh():
    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    return model, torch.optim.Adam(model.parameters(), lr=0.05)


@exercise
def my_snapshot(answer) -> str:
    """``answer(model, optimizer, epoch, history)``, called after epoch ``epoch`` has finished, must return
    the snapshot dict (``model``, ``optimizer``, ``next_epoch``, ``history``) from which a restarted run
    continues exactly like one that never crashed."""
    gen = torch.Generator().manual_seed(1)
    data = (torch.randn(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen))
    model, optimizer = _fresh()
    _train(model, optimizer, range(EPOCHS), data)
    clean = [p.detach().clone() for p in model.parameters()]

    model, optimizer = _fresh()
    saved = {}

    def snapshot(epoch):
        snap = answer(model, optimizer, epoch, [float(epoch)] * (epoch + 1))
        expect(isinstance(snap, dict), f"return a dict; your function returned {type(snap).__name__}")
        buffer = io.BytesIO()
        torch.save(snap, buffer)  # as the script does: written at once, so later steps cannot change it
        saved["bytes"] = buffer.getvalue()

    _train(model, optimizer, range(CRASH_AFTER + 1), data, snapshot)  # then the crash
    snap = torch.load(io.BytesIO(saved["bytes"]), weights_only=True)
    missing = [k for k in ("model", "optimizer", "next_epoch") if k not in snap]
    if "optimizer" in missing:
        expect(False, "the snapshot has no 'optimizer' entry: without optimizer.state_dict() a restarted Adam "
                      "starts again from zero moments and the resumed run drifts away from the clean one")
    expect(not missing, f"the snapshot lacks {missing}: store 'model' (model.state_dict()), 'optimizer' "
                        "(optimizer.state_dict()) and 'next_epoch'")
    expect(snap["next_epoch"] != CRASH_AFTER,
           f"after epoch {CRASH_AFTER} your snapshot says next_epoch={snap['next_epoch']}: the resumed run would "
           "train that epoch a second time. Store epoch + 1, the NEXT epoch to run (the PyTorch tutorial's slip)")
    expect(snap["next_epoch"] == CRASH_AFTER + 1,
           f"after epoch {CRASH_AFTER} the next epoch is {CRASH_AFTER + 1}; your snapshot says {snap['next_epoch']}")
    expect("history" in snap and len(snap["history"]) == CRASH_AFTER + 1,
           "keep the loss history in the snapshot ('history': list(history)), so the resumed run's curve is whole")

    model, optimizer = _fresh()
    model.load_state_dict(snap["model"])
    optimizer.load_state_dict(snap["optimizer"])
    _train(model, optimizer, range(snap["next_epoch"], EPOCHS), data)
    same = all(torch.equal(a, b.detach()) for a, b in zip(clean, model.parameters()))
    expect(same, "the resumed run does not end with the clean run's weights: save model.state_dict() and "
                 "optimizer.state_dict() as they are after the epoch (no copy of an earlier model)")
    return ("resumed from your snapshot, the run ends with exactly the weights of a run that never crashed: "
            "model, Adam's moments and the NEXT epoch are all a restart needs")
