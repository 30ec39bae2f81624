"""Train the Fashion-MNIST classifier with the Hugging Face ``Trainer`` (notebook 06).
What ``train_ddp.py`` writes by hand is a Trainer argument here; a restart resumes from the last
complete checkpoint. The model: train_ddp's MLP, a plain ``nn.Module``; no downloads."""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach for the hub
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import signal
import time
from pathlib import Path

import ddp_faults
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset
from train_ddp import (
    Process,
    build_parser,
    evaluate_exactly,
    init_distributed,
    load_fashion_mnist,
    make_model,
    params_identical,
    report,
    shut_down,
)
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.utils import logging as hf_logging

CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json")


def trainer_parser() -> argparse.ArgumentParser:
    """Return the options of ``train_ddp.py`` (``train_ddp.build_parser``) plus where and how often to save."""
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="the Trainer's folder: checkpoint-STEP/ folders go here; resumed from when present")
    parser.add_argument("--save-steps", type=int, default=20, help="a checkpoint every N optimizer steps (default 20)")
    parser.add_argument("--fail-at-step", type=int, default=None, metavar="K",
                        help="crash (SIGKILL) before optimizer step K+1, i.e. after K steps, on the first attempt only")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the parsed options; refuse ``train_ddp.py``'s snapshot options, which the Trainer replaces."""
    parser = trainer_parser()
    args = parser.parse_args(argv)
    if args.snapshot is not None or args.fail_at_epoch is not None:
        parser.error("the Trainer keeps its checkpoints in --output-dir and crashes with --fail-at-step; "
                     "--snapshot and --fail-at-epoch are train_ddp.py's options")
    return args


class Classifier(nn.Module):
    """``train_ddp.py``'s MLP with the interface the Trainer calls: ``forward(pixel_values, labels)``
    returns a dict holding the ``loss`` (and the ``logits``)."""

    def __init__(self, hidden: int, seed: int):
        super().__init__()
        self.net = make_model(hidden, seed)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.net(pixel_values)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


class Items(Dataset):
    """A ``TensorDataset`` as the Trainer wants its items: dicts named like ``forward``'s arguments."""

    def __init__(self, data: TensorDataset):
        self.x, self.y = data.tensors

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.x[i], "labels": self.y[i]}


class Watch(TrainerCallback):
    """Notes which sampler the Trainer used and injects the crash (the Trainer prints the losses itself)."""

    def __init__(self, proc: Process, fail_at_step: int | None, fail_rank: int):
        self.proc, self.fail_at_step, self.fail_rank = proc, fail_at_step, fail_rank
        self.sampler = None

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        batch_sampler = getattr(train_dataloader, "batch_sampler", None)
        inner = getattr(batch_sampler, "batch_sampler", batch_sampler)  # accelerate wraps it to shard it
        self.sampler = type(getattr(inner, "sampler", inner)).__name__
        self.proc.log(f"Trainer: {args.parallel_mode.name.lower()} on {args.device}, "
                   f"world size {args.world_size}, sampler {self.sampler}, starting after step {state.global_step}")

    def on_step_begin(self, args, state, control, **kwargs):
        if (self.proc.attempt == 0 and state.global_step == self.fail_at_step
                and self.proc.rank == self.fail_rank):
            print(f"[rank {self.proc.rank}] injecting a crash after step {state.global_step}: SIGKILL", flush=True)
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def complete_checkpoint(output_dir: Path, world_size: int) -> Path | None:
    """Return the newest ``checkpoint-STEP`` folder that holds every file a resume reads, or None.
    The Trainer writes checkpoints in place, not atomically, and its ``get_last_checkpoint``
    takes the highest step even if the job died while writing it."""
    folders = sorted((p for p in Path(output_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                     key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for folder in folders:
        needed = [*CHECKPOINT_FILES, *(f"rng_state_{r}.pth" if world_size > 1 else "rng_state.pth"
                                       for r in range(world_size))]
        if all((folder / name).is_file() for name in needed):
            return folder
        print(f"skipping {folder}: incomplete (a crash while it was written?)", flush=True)
    return None


def training_arguments(args: argparse.Namespace, proc: Process) -> TrainingArguments:
    """Return the Trainer's settings: the recipe of ``train_ddp.py`` (Adam, constant learning rate,
    no gradient clipping), a checkpoint every ``--save-steps`` steps, no hub, no progress bars."""
    return TrainingArguments(
        output_dir=str(args.output_dir),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,  # per process, like --batch-size of train_ddp.py
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0,
        optim="adamw_torch", weight_decay=0.0,        # AdamW without decay is Adam
        max_grad_norm=0.0,                            # the Trainer clips at 1.0 unless told otherwise
        seed=args.seed, data_seed=args.seed,          # the sampler's shuffle: seed + epoch
        save_strategy="steps", save_steps=args.save_steps,
        save_only_model=False,                        # keep optimizer, scheduler and RNG states: needed to resume
        logging_strategy="epoch", report_to="none", disable_tqdm=True,
        use_cpu=proc.device.type == "cpu",
        dataloader_num_workers=0, ddp_timeout=int(args.pg_timeout),
        ddp_find_unused_parameters=False,             # every parameter gets a gradient: skip DDP's extra graph walk
    )


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # train_ddp.py's process group first (a fresh store for every restart); the Trainer
    # (through Accelerate) sees it is initialised and uses it
    proc = init_distributed(args.pg_timeout)
    if args.fail_at_step is not None and not 0 <= args.fail_rank < proc.world_size:
        raise ValueError(f"--fail-rank {args.fail_rank} is outside ranks 0..{proc.world_size - 1}")
    hf_logging.set_verbosity_error()  # the Trainer's info lines; warnings that matter are errors here
    model = Classifier(args.hidden, args.seed)
    ddp_faults.check_before_training(args, proc, model.net)  # the data: all ranks stop on a bad file
    train_data, test_data = load_fashion_mnist(args.data_dir, args.train_size, args.test_size)
    watch = Watch(proc, args.fail_at_step, args.fail_rank)
    trainer = Trainer(model=model, args=training_arguments(args, proc), train_dataset=Items(train_data),
                      callbacks=[watch])
    checkpoint = complete_checkpoint(args.output_dir, proc.world_size) if args.output_dir.is_dir() else None
    proc.log(f"resuming from {checkpoint.name}" if checkpoint else "no checkpoint: starting from scratch")
    started = time.perf_counter()
    # resume_from_checkpoint=True would take the highest-numbered folder, complete or not
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - started

    inner = trainer.accelerator.unwrap_model(trainer.model)
    identical, max_diff, fingerprint = params_identical(inner)
    test = evaluate_exactly(inner.net, test_data, proc.device)
    last = complete_checkpoint(args.output_dir, proc.world_size)
    result = {
        "world_size": proc.world_size, "backend": proc.backend, "device": proc.device.type,
        "attempt": proc.attempt, "resumed_from": checkpoint.name if checkpoint else None,
        "global_step": trainer.state.global_step, "epochs": args.epochs,
        "final_loss": test["loss"], "final_accuracy": test["accuracy"],
        "params_identical": identical, "params_max_abs_diff": max_diff, "params_sha256": fingerprint,
        "sampler": watch.sampler, "parallel_mode": trainer.args.parallel_mode.name,
        "checkpoints": sorted(p.name for p in args.output_dir.glob("checkpoint-*")),
        "checkpoint_files": sorted(p.name for p in last.iterdir()) if last else [],
        "epoch_losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
        "trainer_train_loss": output.training_loss, "train_seconds": seconds,
    }
    report(proc, args.result, result)
    del trainer, inner, model, watch  # the DDP wrapper holds the process group: release it first
    shut_down(proc)
    return result


if __name__ == "__main__":
    ddp_faults.run(main)
