"""What ``train_ddp.py`` and ``train_accelerate.py`` share (notebook 06).

Options, joining the process group, the data (a Fashion-MNIST subset), the model, the
snapshots that make a restarted job resume where it stopped, the injected fault, the final
checks and the JSON result. The two scripts differ only in how they wrap the model and
shard the data: by hand with ``DistributedDataParallel`` and ``DistributedSampler``, or
with Hugging Face Accelerate.

Every process of a job runs the same script; ``torchrun`` tells each one who it is through
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``TORCHELASTIC_RESTART_COUNT``).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from ddp_faults import JobError, check_data, read_snapshot, remove_stale_temporaries, run, stop_together, wrong_snapshot
from torch import nn
from torch.utils.data import TensorDataset

__all__ = ["JobError", "run"]  # used by the scripts through this module

REPO_ROOT = Path(__file__).resolve().parents[2]

IMAGE_PIXELS = 28 * 28
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training set, pixels in [0, 1]


def _path(text: str) -> Path:
    return Path(text).expanduser()  # the shell leaves `--data-dir=~/x` (and a quoted '~/x') as it is


def _default_data_dir() -> Path:
    override = os.environ.get("COURSE_DATA", "").strip()  # as helpers.config.data_path reads it
    return REPO_ROOT / Path(override).expanduser() if override else REPO_ROOT / "data"


def build_parser(description: str) -> argparse.ArgumentParser:
    """Return the options both training scripts understand."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=4, help="epochs to train in all (default 4)")
    parser.add_argument("--snapshot", type=_path, default=None,
                        help="snapshot file: resume from it when it exists, rewrite it after every epoch")
    parser.add_argument("--fail-at-epoch", type=int, default=None, metavar="K",
                        help="crash at the start of epoch K (0-based), on the first attempt only")
    parser.add_argument("--fail-rank", type=int, default=0, metavar="R", help="which rank crashes (default 0)")
    parser.add_argument("--result", type=_path, default=None, help="JSON file that rank 0 writes at the end")
    parser.add_argument("--train-size", type=int, default=4096, help="training images used (default 4096)")
    parser.add_argument("--test-size", type=int, default=1000, help="test images for the final loss (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size per process (default 64)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units of the MLP (default 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pg-timeout", type=float, default=60.0,
                        help="seconds a collective may wait before failing (default 60, torch's is 30 min)")
    parser.add_argument("--data-dir", type=_path, default=_default_data_dir(),
                        help="folder holding FashionMNIST/raw/ (default: $COURSE_DATA or the repository's data/)")
    return parser


@dataclass(frozen=True)
class Process:
    """Who this process is in the job."""

    rank: int
    world_size: int
    local_rank: int
    attempt: int  # 0 on the first attempt, 1 after the first restart, ...
    backend: str
    device: torch.device


def attempt_number() -> int:
    """Return how many times torchrun has restarted this job so far (0 on the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def init_distributed(pg_timeout: float) -> Process:
    """Join the process group (gloo on CPU, nccl with one GPU per process); return who we are.

    torchrun keeps ONE key-value store for the whole job, across restarts. A restarted worker
    could read the crashed attempt's addresses from it and fail ("Gloo connectFullMesh
    failed ... Connection refused") or hang (pytorch/pytorch issue 135712). Giving every
    attempt its own key prefix (``attempt0/``, ``attempt1/``, ...) keeps the attempts apart.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    attempt = attempt_number()
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)  # one GPU per process
    else:
        backend, device = "gloo", torch.device("cpu")
        if "OMP_NUM_THREADS" not in os.environ:  # torchrun sets it to 1; a forked launch does not
            share = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
            torch.set_num_threads(max(1, share))  # processes sharing the cores must not oversubscribe them
    timeout = timedelta(seconds=pg_timeout)
    if "RANK" in os.environ:  # started by torchrun (or a launcher that sets the same variables)
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        store, rank, world_size = next(dist.rendezvous("env://", rank, world_size, timeout=timeout))
    else:  # started as a plain script: a group of one
        store, rank, world_size = dist.HashStore(), 0, 1
    store = dist.PrefixStore(f"attempt{attempt}", store)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=timeout)
    return Process(rank, world_size, local_rank, attempt, backend, device)


def check_fault_options(args: argparse.Namespace, world_size: int) -> None:
    """Raise ``ValueError`` when the requested fault could never happen."""
    if args.fail_at_epoch is None:
        return
    if not 0 <= args.fail_at_epoch < args.epochs:
        raise ValueError(f"--fail-at-epoch {args.fail_at_epoch} is outside epochs 0..{args.epochs - 1}")
    if not 0 <= args.fail_rank < world_size:
        raise ValueError(f"--fail-rank {args.fail_rank} is outside ranks 0..{world_size - 1}")


def inject_fault(args: argparse.Namespace, proc: Process, epoch: int) -> None:
    """Kill this process on the spot when asked to: rank ``--fail-rank``, epoch ``--fail-at-epoch``, first attempt only.

    SIGKILL, as the out-of-memory killer or a lost machine would: no exception, no clean-up.
    """
    if proc.attempt == 0 and args.fail_at_epoch == epoch and proc.rank == args.fail_rank:
        print(f"[rank {proc.rank}] injecting a crash at the start of epoch {epoch}: SIGKILL", flush=True)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows has no SIGKILL


def _read_idx(path: Path, header: int, count: int, item_size: int) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8, count=count * item_size, offset=header)
    if data.size != count * item_size:
        raise ValueError(f"{path} holds fewer than {count} items; use a smaller --train-size/--test-size")
    return data


def load_fashion_mnist(data_dir: Path, train_size: int, test_size: int,
                       proc: Process | None = None) -> tuple[TensorDataset, TensorDataset]:
    """Return the first ``train_size`` training and ``test_size`` test images, standardised, as tensors.

    Rank 0 first checks the files (:func:`check_data`, a quarter of a second) and every rank
    stops when they are bad (:func:`stop_together`). Then each reads the unpacked idx files
    straight away (16-byte header for images, 8 for labels): every process of every attempt
    loads its data, so this is kept to a few milliseconds.
    """
    raw = Path(data_dir) / "FashionMNIST" / "raw"
    if proc is not None:
        stop_together(proc, check_data(data_dir) if proc.rank == 0 else None)

    def split(prefix: str, n: int) -> TensorDataset:
        pixels = _read_idx(raw / f"{prefix}-images-idx3-ubyte", 16, n, IMAGE_PIXELS)
        labels = _read_idx(raw / f"{prefix}-labels-idx1-ubyte", 8, n, 1)
        x = (torch.from_numpy(pixels.astype(np.float32)).view(n, IMAGE_PIXELS) / 255.0 - MEAN) / STD
        return TensorDataset(x, torch.from_numpy(labels.astype(np.int64)))

    return split("train", train_size), split("t10k", test_size)


def make_model(hidden: int, seed: int) -> nn.Module:
    """Return the same small MLP (784 → hidden → 10) on every process: seeded, so all start equal."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(IMAGE_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Fill a temporary file beside ``path`` with ``write(fh)``, flush it to disk, rename it over ``path``.

    Readers (a restarted job) see the old file or the whole new one, never half of one. The
    same idea as ``helpers.files.atomic_write``, with a file handle and an ``fsync``; on an
    error the temporary file is removed and the error propagates (a kill leaves it:
    :func:`remove_stale_temporaries` cleans up on the next start).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_snapshot(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, next_epoch: int,
                  history: list[float]) -> None:
    """Write model, optimizer, the NEXT epoch to run and the loss history, atomically.

    A crash while writing leaves the previous snapshot intact: the file is written beside
    the old one and renamed over it in one step (``os.replace``, in :func:`atomic_write`).
    """
    snapshot = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "next_epoch": next_epoch, "history": list(history)}
    atomic_write(path, lambda fh: torch.save(snapshot, fh))


def resume(args: argparse.Namespace, proc: Process, model: nn.Module,
           optimizer: torch.optim.Optimizer) -> tuple[int, list[float]]:
    """Restore model and optimizer from ``--snapshot`` if it exists; return (epoch to start at, history).

    Rank 0 first removes temporary files of a snapshot or result whose writer was killed, and
    checks the snapshot: an empty, truncated or foreign file, another ``--hidden``, or more
    finished epochs than ``--epochs`` stop every rank (:func:`stop_together`) with a message
    naming the file and the fix. Then every rank loads it (``weights_only=True``).
    """
    path = args.snapshot
    problem, snapshot = None, None
    if proc.rank == 0:
        for target in (args.snapshot, args.result):
            removed = remove_stale_temporaries(target) if target is not None else []
            if removed:
                log(proc, f"removed {len(removed)} temporary file(s) of a killed writer: "
                          + ", ".join(p.name for p in removed))
        if path is not None and path.is_file():
            snapshot, problem = read_snapshot(path, proc.device)
            problem = problem or wrong_snapshot(path, snapshot, model, args)
    stop_together(proc, problem)
    found = [path is not None and path.is_file()]
    dist.broadcast_object_list(found, src=0)  # rank 0's answer counts: all ranks resume, or none
    if not found[0]:
        return 0, []
    if snapshot is None:  # ranks other than 0 read it themselves (on another machine it is their copy)
        if not path.is_file():
            raise JobError(f"rank {proc.rank}: rank 0 resumes from {path}, which is not on this machine. Fix: keep "
                           "the snapshot on storage every machine reads (or copy it to each), or start afresh.")
        snapshot, problem = read_snapshot(path, proc.device)
        if problem:
            raise JobError(f"rank {proc.rank}: {problem}")
    model.load_state_dict(snapshot["model"])
    optimizer.load_state_dict(snapshot["optimizer"])
    start = int(snapshot["next_epoch"])
    if start == args.epochs and proc.rank == 0:
        log(proc, f"the snapshot {path} already holds all {start} epochs: nothing left to train "
                  "(delete it to train again)")
    return start, [float(v) for v in snapshot["history"]]


def mean_over_ranks(loss_sum: torch.Tensor, count: int, device: torch.device) -> float:
    """Return the mean loss over every item that every rank saw this epoch."""
    totals = torch.stack([loss_sum.to(device, torch.float64),
                          torch.tensor(float(count), dtype=torch.float64, device=device)])
    dist.all_reduce(totals)
    return float(totals[0] / totals[1])


def params_identical(model: nn.Module) -> tuple[bool, float, str]:
    """Gather every rank's parameters; return (all equal to rank 0's bit for bit, largest difference,
    sha256 of this rank's parameters: equal fingerprints mean bit-identical models)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    identical = all(torch.equal(g, gathered[0]) for g in gathered)
    fingerprint = hashlib.sha256(flat.cpu().numpy().tobytes()).hexdigest()
    return identical, max(float((g - gathered[0]).abs().max()) for g in gathered), fingerprint


@torch.no_grad()
def evaluate(model: nn.Module, data: TensorDataset, device: torch.device) -> dict[str, float]:
    """Return ``{"loss": cross-entropy, "accuracy": fraction correct, "n": items}`` on the whole of ``data``.

    The same shape as ``helpers.evaluate`` returns in the notebooks.
    """
    model.eval()
    x, y = (t.to(device) for t in data.tensors)
    logits = model(x)
    model.train()
    # float64 for the loss: 16 digits, so that "equal" really means the same model
    return {"loss": float(F.cross_entropy(logits.double(), y)),
            "accuracy": float((logits.argmax(1) == y).double().mean()), "n": len(y)}


def write_result(path: Path | None, result: dict) -> None:
    """Write ``result`` as JSON to ``path`` atomically (nothing when ``path`` is None)."""
    if path is None:
        return
    text = json.dumps(result, indent=2) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def log(proc: Process, message: str) -> None:
    """Print a line prefixed with the rank (the output of all ranks is interleaved)."""
    print(f"[rank {proc.rank}/{proc.world_size} attempt {proc.attempt}] {message}", flush=True)


@dataclass
class Progress:
    """What a run has done so far."""

    history: list[float]  # mean training loss of every epoch, those of earlier attempts included
    epoch_seconds: list[float] = field(default_factory=list)  # this attempt's epochs
    samples: int = 0  # items this rank trained on in this attempt


def record_epoch(proc: Process, loss_sum: torch.Tensor, count: int, progress: Progress, started: float) -> float:
    """Record the epoch in ``progress`` (mean loss over all ranks, seconds, items); return that mean loss.

    The scripts' loops then let rank 0 write the snapshot and make every rank wait for it.
    """
    progress.history.append(mean_over_ranks(loss_sum, count, proc.device))  # waits for the GPU too
    progress.epoch_seconds.append(time.perf_counter() - started)
    progress.samples += count
    return progress.history[-1]


def finish(args: argparse.Namespace, proc: Process, model: nn.Module, test_data: TensorDataset,
           start_epoch: int, progress: Progress, **extra: object) -> dict:
    """Compare every rank's parameters, evaluate, and (rank 0) write the JSON result; return it."""
    identical, max_diff, fingerprint = params_identical(model)
    count = torch.tensor([float(progress.samples)], device=proc.device)
    dist.all_reduce(count)  # items trained on by all ranks together in this attempt
    seconds = sum(progress.epoch_seconds)
    test = evaluate(model, test_data, proc.device)
    loss, accuracy = test["loss"], test["accuracy"]
    result = {
        "world_size": proc.world_size, "backend": proc.backend, "device": proc.device.type,
        "attempt": proc.attempt, "start_epoch": start_epoch, "epochs": args.epochs,
        "final_loss": loss, "final_accuracy": accuracy, "history": progress.history,
        "params_identical": identical, "params_max_abs_diff": max_diff, "params_sha256": fingerprint,
        "train_seconds": seconds, "epoch_seconds": progress.epoch_seconds,
        "samples_per_s": float(count) / seconds if seconds > 0 else None,
        # every epoch trains on the same number of items: throughput of each epoch, all ranks together
        "epoch_samples_per_s": [float(count) / len(progress.epoch_seconds) / s for s in progress.epoch_seconds],
        **extra,
    }
    if proc.rank == 0:
        write_result(args.result, result)
        print(f"final test loss {loss:.6f}, accuracy {accuracy:.3f}, "
              f"parameters identical on all {proc.world_size} ranks: {identical}", flush=True)
    return result


def shut_down(proc: Process, destroy: Callable[[], object] | None = None) -> None:
    """Leave the process group cleanly; call it after dropping every DDP/Accelerate reference.

    A finished gloo job could die at exit with "terminate called without an active exception"
    (SIGABRT): the DDP wrapper (its reducer) still held the process group, so a gloo worker
    thread was still releasing the last all-reduce's tensors while the interpreter shut down.
    So: the caller deletes the wrapped model and optimizer first; here every rank waits for the
    others and for the device, unreferenced wrappers are collected, and only then is the group
    destroyed (``destroy``, default ``dist.destroy_process_group``; Accelerate's
    ``end_training`` does it there) and collected once more, before the interpreter exits.
    """
    if dist.is_initialized():
        dist.barrier()
    if proc.device.type == "cuda":
        torch.cuda.synchronize(proc.device)
    gc.collect()
    if dist.is_initialized():
        (destroy or dist.destroy_process_group)()
    gc.collect()
