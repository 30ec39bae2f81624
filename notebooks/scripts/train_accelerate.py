"""Train the same Fashion-MNIST classifier with Hugging Face Accelerate (notebook 06).
``train_ddp.py``'s loop with three changes marked ``# ACCELERATE:``; ``init_distributed`` stays
(a fresh store each restart). No GPU: ``Accelerator(cpu=True)``, else no gradient averaging."""
from __future__ import annotations

import time

import ddp_faults
import torch
import torch.distributed as dist
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration
from torch.utils.data import DataLoader
from train_ddp import (
    Progress,
    build_parser,
    finish,
    init_distributed,
    load_fashion_mnist,
    load_snapshot,
    make_model,
    save_snapshot,
    shut_down,
)


def main(argv: list[str] | None = None) -> dict:
    args = build_parser(__doc__.splitlines()[0]).parse_args(argv)
    proc = init_distributed(args.pg_timeout)  # kept from train_ddp.py: a fresh store for every restart
    accelerator = Accelerator(  # ACCELERATE: finds the process group and the device
        cpu=proc.device.type == "cpu",
        # a sampler seeded by the epoch, so that a resumed run sees the same shuffles (set_epoch below)
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True))
    model = make_model(args.hidden, args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    resume = ddp_faults.check_before_training(args, proc, model)  # data, snapshot, options: all ranks stop
    train_data, test_data = load_fashion_mnist(args.data_dir, args.train_size, args.test_size)
    start_epoch, history = load_snapshot(args.snapshot, model, optimizer, proc.device) if resume else (0, [])
    proc.log(f"Accelerate: {accelerator.distributed_type} on {accelerator.device}, "
             f"{accelerator.num_processes} processes, starting at epoch {start_epoch}")
    loader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)  # ACCELERATE: DDP, sharding

    progress = Progress(history)
    for epoch in range(start_epoch, args.epochs):
        ddp_faults.crash_if_asked(args, proc, epoch)
        loader.set_epoch(epoch)  # a new shuffle every epoch, the same one in a resumed run
        started = time.perf_counter()
        loss_sum, count = torch.zeros((), dtype=torch.float64, device=proc.device), 0
        for x, y in loader:  # already on the device, already this rank's share
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            accelerator.backward(loss)  # ACCELERATE: DDP's all-reduce happens in here
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            count += len(y)
        mean_loss = progress.end_epoch(loss_sum, count, started)
        if proc.rank == 0:  # one writer, as in train_ddp.py
            print(f"epoch {epoch + 1}/{args.epochs}: mean training loss {mean_loss:.4f}", flush=True)
            if args.snapshot is not None:
                save_snapshot(args.snapshot, accelerator.unwrap_model(model), optimizer, epoch + 1,
                              progress.history)
        dist.barrier()
    result = finish(args, proc, accelerator.unwrap_model(model), test_data, start_epoch, progress,
                    distributed_type=str(accelerator.distributed_type),
                    accelerate_processes=accelerator.num_processes)
    accelerator.free_memory()  # drops Accelerate's own references to the prepared (DDP) model and optimizer
    del model, optimizer, loader  # the DDP wrapper holds the process group: release it first
    shut_down(proc, destroy=accelerator.end_training)  # end_training destroys the group
    return result


if __name__ == "__main__":
    ddp_faults.run(main)
