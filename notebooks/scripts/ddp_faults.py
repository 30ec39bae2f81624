"""What stops notebook 06's jobs before they train on something wrong, and the injected crash.
``check_before_training`` (one message, printed once, no rank left waiting), ``crash_if_asked``,
``store_for_this_attempt``; :func:`run` turns a :class:`JobError` into its message, exit 1."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run by hand from a checkout: find the course's helpers beside the scripts
    sys.path.append(str(REPO_ROOT))
from helpers.data import REGISTRY  # noqa: E402 (the data's checksums, as the notebooks check them)
from helpers.files import ChecksumMismatch, stale_partials, verify  # noqa: E402


class JobError(RuntimeError):
    """A problem that stops every rank: rank 0's message names the file and the fix, the others say one line."""

    def __init__(self, message: str, *, shown: bool = False):
        super().__init__(message)
        self.shown = shown  # already printed (by stop_together): run() does not print it again


def run(main: Callable[[], object]) -> None:
    """Run a script's ``main()``, then end the process at once: exit code 0, or 1 after a :class:`JobError`'s
    message or another exception's traceback. ``os._exit`` skips the interpreter's teardown of torch (about
    a second per process, several in a gloo worker whose peer died); files are written atomically before."""
    try:
        main()
        code = 0
    except JobError as exc:
        if not exc.shown:
            print(f"error: {exc}", file=sys.stderr)
        code = 1
    except SystemExit as exc:  # argparse: --help, or a bad option (already explained)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 (a worker's error, a lost peer, an interrupt: shown, and exit code 1)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def store_for_this_attempt(store: dist.Store, rank: int, world_size: int, timeout: timedelta) -> dist.Store:
    """Return ``store`` under a key prefix all ranks of this attempt share and no earlier one used.
    torchrun keeps one store across restarts (pytorch/pytorch issue 135712), each machine counts
    its own restarts: rank 0 gives each rank's nonce a fresh token (ARCHITECTURE.md, "Restarts")."""
    deadline = time.monotonic() + timeout.total_seconds()
    if rank != 0:
        nonce = uuid.uuid4().hex
        store.set(f"course06/ask/{rank}", nonce)
        token = store.get(f"course06/answer/{nonce}").decode()  # waits (store timeout) for rank 0
        store.set(f"course06/ack/{token}/{rank}", "1")
        return dist.PrefixStore(f"course06/{token}", store)
    token, waiting = uuid.uuid4().hex, set(range(1, world_size))
    while waiting:  # a rank's ask may still be the crashed attempt's: answer every nonce until it acks
        for r in sorted(waiting):
            if store.check([f"course06/ack/{token}/{r}"]):
                waiting.discard(r)
            elif store.check([f"course06/ask/{r}"]):
                store.set(f"course06/answer/{store.get(f'course06/ask/{r}').decode()}", token)
        if waiting and time.monotonic() > deadline:
            raise JobError(f"rank 0: ranks {sorted(waiting)} did not join within {timeout.total_seconds():g} s")
        time.sleep(0.01 if waiting else 0)  # a store round trip or two per rank: no busy wait
    return dist.PrefixStore(f"course06/{token}", store)


def crash_if_asked(args: argparse.Namespace, proc, epoch: int) -> None:
    """Kill this process (SIGKILL: no exception, no clean-up, as the out-of-memory killer would) when
    it is rank ``--fail-rank`` at the start of epoch ``--fail-at-epoch`` on the first attempt."""
    if proc.attempt == 0 and args.fail_at_epoch == epoch and proc.rank == args.fail_rank:
        print(f"[rank {proc.rank}] injecting a crash at the start of epoch {epoch}: SIGKILL", flush=True)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows has no SIGKILL


def check_before_training(args: argparse.Namespace, proc, model: nn.Module) -> bool:
    """Return whether to resume from ``--snapshot``, after rank 0 checked what this run reads.
    Rank 0 removes a killed writer's temporary files, checks the options, data and snapshot; a
    problem stops every rank (:func:`stop_together`); all resume, or none."""
    problem = None
    if proc.rank == 0:
        remove_stale_partials(proc, args.snapshot, args.result)
        problem = bad_options(args, proc.world_size) or check_data(args.data_dir)
        if problem is None and args.snapshot is not None and args.snapshot.is_file():
            problem = check_snapshot(args.snapshot, model, args.epochs, args.hidden)
    stop_together(proc, problem)
    found = [args.snapshot is not None and args.snapshot.is_file()]
    dist.broadcast_object_list(found, src=0)
    if found[0] and not args.snapshot.is_file():  # on another machine, each rank reads its own copy
        raise JobError(f"rank {proc.rank}: rank 0 resumes from {args.snapshot}, which is not on this machine. "
                       "Fix: keep the snapshot on storage every machine reads (or copy it to each), or start afresh.")
    return found[0]


def remove_stale_partials(proc, *targets: Path | None) -> None:
    """Remove the temporary files that writers of ``targets`` killed mid-write left beside them."""
    removed = [p for t in targets if t is not None for p in stale_partials(t)]
    for p in removed:
        p.unlink(missing_ok=True)
    if removed:
        proc.log(f"removed {len(removed)} temporary file(s) of a killed writer: " + ", ".join(p.name for p in removed))


def bad_options(args: argparse.Namespace, world_size: int) -> str | None:
    """Return why the requested crash could never happen, or None."""
    if args.fail_at_epoch is not None and not 0 <= args.fail_at_epoch < args.epochs:
        return f"--fail-at-epoch {args.fail_at_epoch} is outside epochs 0..{args.epochs - 1}"
    if args.fail_at_epoch is not None and not 0 <= args.fail_rank < world_size:
        return f"--fail-rank {args.fail_rank} is outside ranks 0..{world_size - 1}"
    return None


def stop_together(proc, problem: str | None) -> None:
    """Raise :class:`JobError` on every rank when rank 0 found ``problem`` (the others pass None); else return.

    Rank 0 prints the message before the others may exit: torchrun stops every worker once one has ended.
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


def check_snapshot(path: Path, model: nn.Module, epochs: int, hidden: int) -> str | None:
    """Return None when ``path`` is a whole snapshot of this model with at most ``epochs`` done, else
    what is wrong and the fix (an empty, truncated or foreign file, another ``--hidden``, too many epochs)."""
    if path.stat().st_size == 0:
        return f"The snapshot {path} is empty (0 bytes): it was never written completely. {_fix(path)}"
    try:
        snapshot = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (EOFError, torch's "corrupted" RuntimeError, UnpicklingError, ...)
        why = (str(exc).strip().splitlines() or [""])[0][:200]
        return (f"The snapshot {path} is truncated or corrupt and cannot be resumed from "
                f"({type(exc).__name__}: {why}). {_fix(path)}")
    missing = [k for k in ("model", "optimizer", "next_epoch", "history") if not isinstance(snapshot, dict)
               or k not in snapshot or (k == "model" and not isinstance(snapshot[k], dict))]
    if missing:
        return f"{path} is not a snapshot of this script (it has no {', '.join(missing)}). {_fix(path)}"
    ours, theirs = model.state_dict(), snapshot["model"]
    if set(theirs) != set(ours) or any(theirs[k].shape != v.shape for k, v in ours.items()):
        was = theirs.get("0.weight")
        was = f"--hidden {was.shape[0]}" if was is not None and was.ndim == 2 else "another model"
        return (f"The snapshot {path} was written for {was}, this run has --hidden {hidden}. Fix: run with "
                f"the snapshot's settings to resume it, or delete it (`rm '{path}'`) to start afresh.")
    done = int(snapshot["next_epoch"])
    if done > epochs:
        return (f"The snapshot {path} holds {done} finished epochs, more than --epochs {epochs}: this run "
                f"would train nothing and report that model as its own. Fix: pass --epochs {done} or more to go "
                f"on from it, or delete it (`rm '{path}'`) to train {epochs} epochs afresh.")
    if done == epochs:
        print(f"the snapshot {path} already holds all {done} epochs: nothing left to train "
              "(delete it to train again)", flush=True)
    return None


def check_data(data_dir: Path) -> str | None:
    """Return None when the four Fashion-MNIST files match helpers' registry (sha256), else what is
    wrong and the fix: a truncated file or a bad label byte is found before any process trains on it."""
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
