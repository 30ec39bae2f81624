"""Checks for notebook 06's exercises: the order ``DistributedSampler`` deals each rank
(``my_epoch_order``) and the snapshot that resumes a crashed run (``my_snapshot``); both in this
process, in a fraction of a second (docs/exercises.md, "What each check probes")."""
from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from ..exercises import Wrong, exercise, expect

__all__ = ["my_epoch_order", "my_snapshot"]


def _reference_order(n_items: int, rank: int, world_size: int, epoch: int, seed: int) -> list[int]:
    sampler = DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


def _perm(n: int, epoch: int, seed: int) -> list[int]:
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def _dealt(order: list[int], rank: int, world: int, pad: str = "first") -> list[int]:
    n = len(order)
    total = math.ceil(n / world) * world
    if pad == "first":
        order = (order * math.ceil(total / n))[:total]
    elif pad == "short":
        order = order + order[: total - n]
    elif pad == "last":
        order = order + order[n - (total - n):] if total > n else order
    elif pad == "drop":
        order = order[: n // world * world]
    return order[rank::world]


# (n_items, world_size, seed, epochs): every argument varied; 11 and 13 items do not divide evenly, 2 items
# among 5 ranks need the order repeated more than once, one rank takes everything
_PROBES = [(10, 2, 0, (0, 1)), (11, 2, 3, (0, 1)), (10, 3, 7, (0, 5)), (13, 4, 1, (2,)), (8, 1, 2, (0, 1)),
           (2, 5, 0, (0,))]

# plausible wrong answers, as functions of (n, rank, world, epoch, seed), each with its message
_WRONG_ORDERS = {
    "unshuffled": (lambda n, r, w, e, s: list(range(n))[r::w],
                   "your ranks get items 0, w, 2w, ... unshuffled: draw the order with "
                   "torch.randperm(n_items, generator=g) first"),
    "every_item": (lambda n, r, w, e, s: _perm(n, e, s),
                   "every rank gets every item: each rank reads only ITS share, order[rank::world_size]"),
    "forgot_set_epoch": (lambda n, r, w, e, s: _dealt(_perm(n, 0, s), r, w),
                         "your order is the same in every epoch: that is a run that forgot set_epoch. "
                         "DistributedSampler seeds its shuffle with seed + epoch: torch.Generator().manual_seed(seed + "
                         "epoch)"),
    "ignores_seed": (lambda n, r, w, e, s: _dealt(_perm(n, e, 0), r, w),
                     "your order ignores seed: DistributedSampler seeds its generator with seed + epoch, and the "
                     "check passes seeds other than 0"),
    "blocks": (lambda n, r, w, e, s: _perm(n, e, s)[r * (n // w):(r + 1) * (n // w)],
               "you gave each rank a contiguous block of the shuffled order: DistributedSampler deals the shuffled "
               "items out like cards, rank r takes items r, r + world_size, r + 2 * world_size, ..."),
    "world_two": (lambda n, r, w, e, s: _dealt(_perm(n, e, s), r, 2),
                  "with world_size other than 2 your ranks still share the order as if there were 2: use the "
                  "world_size argument, not the number 2"),
    "no_padding": (lambda n, r, w, e, s: _perm(n, e, s)[r::w],
                   "when the items do not divide evenly DistributedSampler pads the order by repeating its first "
                   "items until the length divides (so every rank gets the same number and takes the same number "
                   "of steps); yours gives some ranks fewer"),
    "pad_last": (lambda n, r, w, e, s: _dealt(_perm(n, e, s), r, w, pad="last"),
                 "you padded with the LAST items of the order: DistributedSampler repeats its FIRST items, "
                 "order + order[:padding]"),
    "drop_last": (lambda n, r, w, e, s: _dealt(_perm(n, e, s), r, w, pad="drop"),
                  "you dropped the items that do not divide evenly (drop_last=True); by default DistributedSampler "
                  "pads instead, repeating the first items of the order"),
    "short_padding": (lambda n, r, w, e, s: _dealt(_perm(n, e, s), r, w, pad="short"),
                      "with more ranks than items (2 items, 5 ranks) the padding (3) is longer than the order: "
                      "DistributedSampler repeats the whole order as often as needed, "
                      "(order * math.ceil(total / n_items))[:total]"),
}


@contextlib.contextmanager
def _spy_on_sampler() -> Iterator[list[str]]:
    """Record any use of DistributedSampler (built, iterated or given an epoch) while the learner's function runs."""
    used: list[str] = []
    originals = {name: getattr(DistributedSampler, name) for name in ("__init__", "__iter__", "set_epoch")}

    def spy(name, original):
        def wrapper(self, *args, **kwargs):
            used.append(f"DistributedSampler.{name}")
            return original(self, *args, **kwargs)
        return wrapper

    try:
        for name, original in originals.items():
            setattr(DistributedSampler, name, spy(name, original))
        yield used
    finally:
        for name, original in originals.items():
            setattr(DistributedSampler, name, original)


@exercise
def my_epoch_order(answer) -> str:
    """``answer(n_items, rank, world_size, epoch, seed)`` must return the item indices that
    ``DistributedSampler(shuffle=True, seed=seed)`` gives ``rank`` after ``set_epoch(epoch)``."""
    calls = [(n, r, w, e, s) for n, w, s, epochs in _PROBES for e in epochs for r in range(w)]
    mine = {}
    with _spy_on_sampler() as used:
        for call in calls:
            mine[call] = [int(i) for i in answer(*call)]
    if used:
        raise Wrong("your function uses DistributedSampler: the exercise rebuilds its order without it (the check "
                    "compares yours with DistributedSampler's)")
    for call in calls:
        n, r, w, e, s = call
        right = _reference_order(n, r, w, e, s)
        if mine[call] == right:
            continue
        for rule, message in _WRONG_ORDERS.values():
            if all(mine[c] == rule(*c) for c in calls):
                raise Wrong(message)
        if w != 2 and all(mine[c] == _reference_order(*c) for c in calls if c[2] == 2):
            raise Wrong(f"right for world_size 2, wrong for world_size {w} (n_items={n}, seed={s}, epoch={e}, rank "
                        f"{r}: DistributedSampler gives {right}, yours {mine[call]}): use the world_size argument "
                        "everywhere, not the number 2")
        where = f"n_items={n}, world_size={w}, seed={s}, epoch={e}, rank {r}"
        if len(mine[call]) != len(right):
            raise Wrong(f"with {where} DistributedSampler gives {len(right)} items (the items padded to a multiple "
                        f"of world_size, shared out); yours gives {len(mine[call])}: {mine[call]}")
        raise Wrong(f"with {where} DistributedSampler gives {right}; yours {mine[call]}: shuffle with "
                    "torch.randperm(n_items, generator=g), g seeded with seed + epoch, pad with the first items, "
                    "then take order[rank::world_size]")
    return ("your shares equal DistributedSampler's for 1 to 5 ranks, several seeds and epochs, padding included: "
            "a new shuffle per epoch (seed + epoch), the same on every rank, dealt like cards")


EPOCHS, CRASHES = 4, (1, 2)  # train epochs 0..3; the "crash" comes after epoch 1 (then, again, after epoch 2)


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _crash_and_resume(answer, data, clean, crash_after: int, said: dict) -> None:
    model, optimizer = _fresh()
    saved = {}

    def snapshot(epoch):
        history = [round(1.5 - 0.1 * k, 3) for k in range(epoch + 1)]
        snap = answer(model, optimizer, epoch, list(history))
        expect(isinstance(snap, dict), f"return a dict; your function returned {type(snap).__name__}")
        buffer = io.BytesIO()
        torch.save(snap, buffer)  # as the script does: written at once, so later steps cannot change it
        saved["bytes"], saved["history"] = buffer.getvalue(), history

    _train(model, optimizer, range(crash_after + 1), data, snapshot)  # then the crash
    try:
        snap = torch.load(io.BytesIO(saved["bytes"]), weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the check's reload failed: say why, in the learner's terms
        raise Wrong("torch.load(..., weights_only=True), as the scripts load a snapshot, cannot read yours back ("
                    f"{_first_line(exc)[:160]}): store model.state_dict() and optimizer.state_dict() (tensors in "
                    "plain dicts and lists), not the model or optimizer objects themselves") from exc
    missing = [k for k in ("model", "optimizer", "next_epoch") if k not in snap]
    if "optimizer" in missing:
        expect(False, "the snapshot has no 'optimizer' entry: without optimizer.state_dict() a restarted Adam "
                      "starts again from zero moments and the resumed run drifts away from the clean one")
    expect(not missing, f"the snapshot lacks {missing}: store 'model' (model.state_dict()), 'optimizer' "
                        "(optimizer.state_dict()) and 'next_epoch'")
    nxt = snap["next_epoch"]
    same_as_before = [e for e, n in said.items() if n == nxt and e != crash_after]
    written_in = (f" (after epoch {same_as_before[0]} it said {nxt} as well: a number written in? use epoch + 1)"
                  if same_as_before else "")
    said[crash_after] = nxt
    expect(nxt != crash_after,
           f"after epoch {crash_after} your snapshot says next_epoch={nxt}: the resumed run would "
           "train that epoch a second time. Store epoch + 1, the NEXT epoch to run (the PyTorch tutorial's slip)"
           + written_in)
    expect(nxt == crash_after + 1,
           f"after epoch {crash_after} the next epoch is {crash_after + 1}; your snapshot says next_epoch={nxt}"
           + written_in)
    expect("history" in snap, "keep the loss history in the snapshot ('history': list(history)), so the resumed "
                              "run's curve is whole")
    expect(list(snap["history"]) == saved["history"],
           f"after epoch {crash_after} the history passed in was {saved['history']}; your snapshot keeps "
           f"{snap['history']}: store the whole list, list(history)")

    model, optimizer = _fresh()
    for what, target in (("model", model), ("optimizer", optimizer)):
        try:
            target.load_state_dict(snap[what])
        except Exception as exc:  # noqa: BLE001 - the check's reload failed: say why
            raise Wrong(f"{what}.load_state_dict cannot read your '{what}' entry ({_first_line(exc)[:160]}): store "
                        f"{what}.state_dict()") from exc
    _train(model, optimizer, range(nxt, EPOCHS), data)
    same = all(torch.equal(a, b.detach()) for a, b in zip(clean, model.parameters()))
    expect(same, f"resumed after epoch {crash_after}, the run does not end with the clean run's weights: save "
                 "model.state_dict() and optimizer.state_dict() as they are after the epoch (no copy of an earlier "
                 "model)")


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
    said: dict[int, object] = {}
    for crash_after in CRASHES:
        _crash_and_resume(answer, data, clean, crash_after, said)
    return ("resumed from your snapshot after epoch 1 and after epoch 2, the run ends with exactly the weights of "
            "a run that never crashed: model, Adam's moments and the NEXT epoch are all a restart needs")
