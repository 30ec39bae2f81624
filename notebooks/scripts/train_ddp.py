"""Train a small Fashion-MNIST classifier with DistributedDataParallel (notebook 06).
Lines marked ``# NEW:`` are what data parallelism adds to the loop of notebooks 02-04;
``ddp_faults`` stops a job before it trains on something wrong, and injects the crash."""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import ddp_faults  # first: it also puts the course's helpers on the path
import numpy as np
import torch
import torch.distributed as dist  # NEW: the processes of a job talk through torch.distributed
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP  # NEW: averages the gradients in backward()
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset  # NEW: DistributedSampler

from helpers.config import data_path
from helpers.files import atomic_write
from helpers.train import evaluate

IMAGE_PIXELS = 28 * 28
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training set, pixels in [0, 1]


def build_parser(description: str) -> argparse.ArgumentParser:
    """Return the options of the three training scripts (``train_accelerate``, ``train_trainer`` add theirs)."""
    parser = argparse.ArgumentParser(description=description)
    add = parser.add_argument
    add("--epochs", type=int, default=4, help="epochs to train in all (default 4)")
    add("--snapshot", type=_path, default=None,
        help="snapshot file: resume from it when it exists, rewrite it after every epoch")
    add("--fail-at-epoch", type=int, default=None, metavar="K",
        help="crash at the start of epoch K (0-based), on the first attempt only")
    add("--fail-rank", type=int, default=0, metavar="R", help="which rank crashes (default 0)")
    add("--result", type=_path, default=None, help="JSON file that rank 0 writes at the end")
    add("--train-size", type=int, default=4096, help="training images used (default 4096)")
    add("--test-size", type=int, default=1000, help="test images for the final loss (default 1000)")
    add("--batch-size", type=int, default=64, help="batch size per process (default 64)")
    add("--hidden", type=int, default=128, help="hidden units of the MLP (default 128)")
    add("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    add("--seed", type=int, default=0)
    add("--pg-timeout", type=float, default=60.0,
        help="seconds a collective may wait before failing (default 60, torch's is 30 min)")
    add("--data-dir", type=_path, default=data_path(),
        help="folder holding FashionMNIST/raw/ (default: $COURSE_DATA or the repository's data/)")
    return parser


def _path(text: str) -> Path:
    return Path(text).expanduser()  # the shell leaves `--data-dir=~/x` (and a quoted '~/x') as it is


@dataclass(frozen=True)
class Process:
    """Who this process is in the job."""

    rank: int
    world_size: int
    local_rank: int
    attempt: int  # this machine's agent: 0 on the first attempt, 1 after the first restart, ...
    backend: str
    device: torch.device

    def log(self, message: str) -> None:
        """Print a line prefixed with the rank (the output of all ranks is interleaved)."""
        print(f"[rank {self.rank}/{self.world_size} attempt {self.attempt}] {message}", flush=True)


def init_distributed(pg_timeout: float) -> Process:
    """Join the process group (gloo on CPU, nccl with one GPU per process); return who we are."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))  # NEW: torchrun says who we are
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)  # NEW: one GPU per process
    else:
        backend, device = "gloo", torch.device("cpu")
        if "OMP_NUM_THREADS" not in os.environ:  # torchrun sets it to 1; a forked launch does not
            share = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
            torch.set_num_threads(max(1, share))  # processes sharing the cores must not oversubscribe
    timeout = timedelta(seconds=pg_timeout)
    if "RANK" in os.environ:  # NEW: started by torchrun (or a launcher that sets the same variables)
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        store, rank, world_size = next(dist.rendezvous("env://", rank, world_size, timeout=timeout))
        store = ddp_faults.store_for_this_attempt(store, rank, world_size, timeout)  # restarts: a fresh store
    else:  # started as a plain script: a group of one
        store, rank, world_size = dist.HashStore(), 0, 1
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size,  # NEW
                            timeout=timeout)
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    return Process(rank, world_size, local_rank, attempt, backend, device)


def load_fashion_mnist(data_dir: Path, train_size: int, test_size: int) -> tuple[TensorDataset, TensorDataset]:
    """Return the first ``train_size`` training and ``test_size`` test images, standardised.
    Read straight from the idx files: every process of every attempt loads its data, so this is
    kept to a few milliseconds."""
    raw = Path(data_dir) / "FashionMNIST" / "raw"

    def read(name: str, header: int, count: int, item_size: int) -> np.ndarray:
        data = np.fromfile(raw / name, dtype=np.uint8, count=count * item_size, offset=header)
        if data.size != count * item_size:
            raise ValueError(f"{raw / name} holds fewer than {count} items; use a smaller --train-size/--test-size")
        return data

    def split(prefix: str, n: int) -> TensorDataset:
        pixels = read(f"{prefix}-images-idx3-ubyte", 16, n, IMAGE_PIXELS).astype(np.float32)
        labels = read(f"{prefix}-labels-idx1-ubyte", 8, n, 1).astype(np.int64)
        x = (torch.from_numpy(pixels).view(n, IMAGE_PIXELS) / 255.0 - MEAN) / STD
        return TensorDataset(x, torch.from_numpy(labels))

    return split("train", train_size), split("t10k", test_size)


def make_model(hidden: int, seed: int) -> nn.Module:
    """Return the same small MLP (784 → hidden → 10) on every process: seeded, so all start equal."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(IMAGE_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def save_snapshot(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, next_epoch: int,
                  history: list[float]) -> None:
    """Write model, optimizer, the next epoch to run and the loss history to ``path``, atomically.
    ``atomic_write`` fills a temporary file and renames it over ``path`` in one step, so a crash
    while writing leaves the previous snapshot whole."""
    snapshot = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "next_epoch": next_epoch, "history": list(history)}
    atomic_write(path, lambda tmp: torch.save(snapshot, tmp))


def load_snapshot(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                  device: torch.device) -> tuple[int, list[float]]:
    """Restore model and optimizer from ``path``; return (the epoch to start at, the loss history)."""
    snapshot = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(snapshot["model"])
    optimizer.load_state_dict(snapshot["optimizer"])
    return int(snapshot["next_epoch"]), [float(v) for v in snapshot["history"]]


def check_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Compare DDP's gradient (already in ``p.grad``) with the mean of every rank's own gradient.
    Each rank computes its batch's gradient with the bare model (no DDP hooks: nothing averaged),
    the ranks exchange them, and DDP's gradient must equal their mean on every rank."""
    params = list(model.parameters())
    own = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    local = torch.cat([g.reshape(-1) for g in own])
    everyone = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, local)
    by_hand = torch.stack(everyone).mean(dim=0)
    ddp = torch.cat([p.grad.reshape(-1) for p in params])
    spread = max(float((g - everyone[0]).abs().max()) for g in everyone)
    return {"grad_max_abs_diff": float((ddp - by_hand).abs().max()),
            "local_grads_max_abs_spread": spread,  # > 0: the ranks' own gradients really differ
            "grad_max_abs": float(ddp.abs().max())}


@dataclass
class Progress:
    """What a run has done so far."""

    history: list[float]  # mean training loss of every epoch, those of earlier attempts included
    epoch_seconds: list[float] = field(default_factory=list)  # this attempt's epochs
    samples: int = 0  # items this rank trained on in this attempt

    def end_epoch(self, loss_sum: torch.Tensor, count: int, started: float) -> float:
        """Record the epoch (its mean loss over every rank's items); return that mean loss."""
        totals = torch.stack([loss_sum.double(), torch.tensor(float(count), dtype=torch.float64,
                                                              device=loss_sum.device)])
        dist.all_reduce(totals)  # NEW: sum over the ranks (waits for the GPU too)
        self.history.append(float(totals[0] / totals[1]))
        self.epoch_seconds.append(time.perf_counter() - started)
        self.samples += count
        return self.history[-1]


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--check-grad", action="store_true",
                        help="on the first step, compare DDP's gradient with the mean of the ranks' own")
    args = parser.parse_args(argv)
    proc = init_distributed(args.pg_timeout)  # NEW
    model = make_model(args.hidden, args.seed).to(proc.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    resume = ddp_faults.check_before_training(args, proc, model)  # data, snapshot, options: all ranks stop
    train_data, test_data = load_fashion_mnist(args.data_dir, args.train_size, args.test_size)
    start_epoch, history = load_snapshot(args.snapshot, model, optimizer, proc.device) if resume else (0, [])
    proc.log(f"{proc.backend} on {proc.device}, starting at epoch {start_epoch}"
             + (" (from the snapshot)" if resume else ""))
    ddp_model = DDP(model, device_ids=[proc.local_rank] if proc.device.type == "cuda" else None)  # NEW

    sampler = DistributedSampler(train_data, num_replicas=proc.world_size, rank=proc.rank,  # NEW
                                 shuffle=True, seed=args.seed)
    loader = DataLoader(train_data, batch_size=args.batch_size, sampler=sampler,  # NEW: sampler=
                        pin_memory=proc.device.type == "cuda")
    progress, extra = Progress(history), {}
    for epoch in range(start_epoch, args.epochs):
        ddp_faults.crash_if_asked(args, proc, epoch)  # --fail-at-epoch: SIGKILL, as a lost machine
        sampler.set_epoch(epoch)  # NEW: a new shuffle every epoch, the same one in a resumed run
        started = time.perf_counter()
        loss_sum, count = torch.zeros((), dtype=torch.float64, device=proc.device), 0
        for x, y in loader:
            x, y = x.to(proc.device, non_blocking=True), y.to(proc.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(ddp_model(x), y)  # NEW: ddp_model, not model
            loss.backward()  # NEW: DDP all-reduces (averages) the gradients in here
            if args.check_grad and not extra:
                extra = check_gradient(model, x, y)
            optimizer.step()
            loss_sum += loss.detach() * len(y)  # no float(loss): that would wait for the GPU every step
            count += len(y)
        mean_loss = progress.end_epoch(loss_sum, count, started)
        if proc.rank == 0:  # NEW: one writer; every rank holds the same model
            print(f"epoch {epoch + 1}/{args.epochs}: mean training loss {mean_loss:.4f}", flush=True)
            if args.snapshot is not None:
                save_snapshot(args.snapshot, model, optimizer, epoch + 1, progress.history)
        dist.barrier()  # NEW: nobody starts the next epoch (and perhaps crashes) while the file is written
    result = finish(args, proc, model, test_data, start_epoch, progress, **extra)
    del ddp_model, optimizer, loader, model  # DDP's reducer holds the process group: release it first
    shut_down(proc)
    return result


def params_identical(model: nn.Module) -> tuple[bool, float, str]:
    """Return (every rank's parameters equal rank 0's bit for bit, the largest difference, the sha256
    of this rank's parameters: equal fingerprints mean bit-identical models)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    identical = all(torch.equal(g, gathered[0]) for g in gathered)
    fingerprint = hashlib.sha256(flat.cpu().numpy().tobytes()).hexdigest()
    return identical, max(float((g - gathered[0]).abs().max()) for g in gathered), fingerprint


def finish(args: argparse.Namespace, proc: Process, model: nn.Module, test_data: TensorDataset,
           start_epoch: int, progress: Progress, **extra: object) -> dict:
    """Compare every rank's parameters, evaluate, and (rank 0) write the JSON result; return it."""
    identical, max_diff, fingerprint = params_identical(model)
    count = torch.tensor([float(progress.samples)], device=proc.device)
    dist.all_reduce(count)  # items trained on by all ranks together in this attempt
    seconds, test = sum(progress.epoch_seconds), evaluate_exactly(model, test_data, proc.device)
    result = {
        "world_size": proc.world_size, "backend": proc.backend, "device": proc.device.type,
        "attempt": proc.attempt, "start_epoch": start_epoch, "epochs": args.epochs,
        "final_loss": test["loss"], "final_accuracy": test["accuracy"], "history": progress.history,
        "params_identical": identical, "params_max_abs_diff": max_diff, "params_sha256": fingerprint,
        "train_seconds": seconds, "epoch_seconds": progress.epoch_seconds,
        "samples_per_s": float(count) / seconds if seconds > 0 else None,
        # every epoch trains on the same number of items: throughput of each epoch, all ranks together
        "epoch_samples_per_s": [float(count) / len(progress.epoch_seconds) / s for s in progress.epoch_seconds],
        **extra,
    }
    report(proc, args.result, result)
    return result


def evaluate_exactly(model: nn.Module, data: TensorDataset, device: torch.device) -> dict[str, float]:
    """Return ``helpers.evaluate``'s loss and accuracy, the loss in float64: 16 digits, so that "equal"
    means the same model."""
    return evaluate(model, data, device=device, loss_fn=lambda out, y: F.cross_entropy(out.double(), y))


def report(proc: Process, path: Path | None, result: dict) -> None:
    """On rank 0, write ``result`` as JSON to ``path`` (atomically; nothing when None) and print its last line."""
    if proc.rank != 0:
        return
    if path is not None:
        text = json.dumps(result, indent=2) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"final test loss {result['final_loss']:.6f}, accuracy {result['final_accuracy']:.3f}, "
          f"parameters identical on all {proc.world_size} ranks: {result['params_identical']}", flush=True)


def shut_down(proc: Process, destroy=None) -> None:
    """Leave the process group cleanly, after the caller dropped every DDP/Accelerate reference.
    Destroying a gloo group a wrapper still held could abort the exit ("terminate called without
    an active exception"): wait for everyone, collect the wrappers, then destroy."""
    if dist.is_initialized():
        dist.barrier()
    if proc.device.type == "cuda":
        torch.cuda.synchronize(proc.device)
    gc.collect()
    if dist.is_initialized():
        (destroy or dist.destroy_process_group)()  # Accelerate's end_training destroys it too
    gc.collect()


if __name__ == "__main__":
    ddp_faults.run(main)
