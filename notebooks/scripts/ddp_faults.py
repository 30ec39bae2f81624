"""What stops a training job before it trains on something wrong (notebook 06's scripts, issue 13).

Rank 0 checks (the data against helpers' registry, the snapshot against this run's model and
``--epochs``) and tells every rank (:func:`stop_together`): the message, naming the file and
the fix, is printed once, and no rank waits for ever at a collective another rank never
reaches. :func:`run` turns the resulting :class:`JobError` into that message and exit code 1.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run by hand from a checkout: find the course's helpers beside the scripts
    sys.path.append(str(REPO_ROOT))
from helpers.data import REGISTRY  # noqa: E402 (all the scripts take from helpers: the data's checksums)
from helpers.files import ChecksumMismatch, verify  # noqa: E402


class JobError(RuntimeError):
    """A problem that stops every rank: rank 0's message names the file and the fix, the others say one line."""

    def __init__(self, message: str, *, shown: bool = False):
        super().__init__(message)
        self.shown = shown  # already printed (by stop_together): run() does not print it again


def stop_together(proc, problem: str | None) -> None:
    """Raise :class:`JobError` on every rank when rank 0 found ``problem`` (the others pass None); else return.

    Rank 0 alone checks, and tells the others (a broadcast), so that the message is printed
    once and no rank waits for ever at a collective that another rank never reaches. Rank 0
    prints it before the others may exit: torchrun stops every worker once one has ended.
    """
    box = [problem]
    dist.broadcast_object_list(box, src=0)
    if box[0] is None:
        return
    if proc.rank == 0:
        print(f"error: {box[0]}", file=sys.stderr, flush=True)
    dist.barrier()
    dist.destroy_process_group()
    raise JobError(box[0] if proc.rank == 0 else
                   f"rank {proc.rank}: stopped, because rank 0 found a problem (its message says what and the fix)",
                   shown=proc.rank == 0)


def _fix(path: Path) -> str:
    return f"Fix: delete it (`rm '{path}'`) to start afresh, or pass another --snapshot."


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that :func:`atomic_write` left beside ``path`` when killed mid-write; return them."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.\d+\.tmp")
    stale = [p for p in path.parent.glob(f".{path.name}.*.tmp") if pattern.fullmatch(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def read_snapshot(path: Path, device: torch.device) -> tuple[dict | None, str | None]:
    """Return (snapshot, None), or (None, what is wrong with the file and the fix)."""
    if path.stat().st_size == 0:
        return None, f"The snapshot {path} is empty (0 bytes): it was never written completely. {_fix(path)}"
    try:
        snapshot = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 (EOFError, torch's "corrupted" RuntimeError, UnpicklingError, ...)
        why = (str(exc).strip().splitlines() or [""])[0][:200]
        return None, (f"The snapshot {path} is truncated or corrupt and cannot be resumed from "
                      f"({type(exc).__name__}: {why}). {_fix(path)}")
    missing = [k for k in ("model", "optimizer", "next_epoch", "history") if not isinstance(snapshot, dict)
               or k not in snapshot or (k == "model" and not isinstance(snapshot[k], dict))]
    if missing:
        return None, (f"{path} is not a snapshot of this script (it has no {', '.join(missing)}). {_fix(path)}")
    return snapshot, None


def wrong_snapshot(path: Path, snapshot: dict, model: nn.Module, args: argparse.Namespace) -> str | None:
    """Return None when ``snapshot`` fits this run's model and ``--epochs``, else what is wrong and the fix."""
    ours = model.state_dict()
    theirs = snapshot["model"]
    if set(theirs) != set(ours) or any(theirs[k].shape != v.shape for k, v in ours.items()):
        hidden = theirs.get("0.weight")
        was = f"--hidden {hidden.shape[0]}" if hidden is not None and hidden.ndim == 2 else "another model"
        return (f"The snapshot {path} was written for {was}, this run has --hidden {args.hidden}. Fix: run with "
                f"the snapshot's settings to resume it, or delete it (`rm '{path}'`) to start afresh.")
    done = int(snapshot["next_epoch"])
    if done > args.epochs:
        return (f"The snapshot {path} holds {done} finished epochs, more than --epochs {args.epochs}: this run "
                f"would train nothing and report that model as its own. Fix: pass --epochs {done} or more to go "
                f"on from it, or delete it (`rm '{path}'`) to train {args.epochs} epochs afresh.")
    return None


def check_data(data_dir: Path) -> str | None:
    """Return None when the four Fashion-MNIST files match helpers' registry (sha256), else what is wrong and the fix.

    The same check as the notebooks' ``helpers.prepare_fashion_mnist`` (``helpers.files.verify``):
    a truncated file or a bad label byte is found here, before any process trains on it.
    """
    raw = Path(data_dir) / "FashionMNIST" / "raw"
    for name, digest in REGISTRY["fashion-mnist"].files.items():
        if not (raw / name).is_file():
            return (f"{raw / name} is missing: Fashion-MNIST is not unpacked in {raw}. Fix: run `make data` "
                    "(or `python -m helpers.prepare`) in the repository, or pass --data-dir with the folder "
                    "that holds FashionMNIST/raw/.")
        try:
            verify(raw / name, digest, remove_bad=False)
        except ChecksumMismatch as exc:
            return str(exc)
    return None


def run(main: Callable[[], object]) -> None:
    """Run a script's ``main()``; a :class:`JobError` becomes its message on stderr and exit code 1, no traceback."""
    try:
        main()
    except JobError as exc:
        if not exc.shown:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
