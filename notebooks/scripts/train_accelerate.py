"""Train the same Fashion-MNIST classifier with Hugging Face Accelerate (notebook 06).

The training loop is the one of ``train_ddp.py`` with three changes: ``Accelerator()`` picks
the device, ``accelerator.prepare(...)`` wraps the model in DDP and shards the data loader,
and ``accelerator.backward(loss)`` replaces ``loss.backward()``. Launch it like any script:

    python -m torch.distributed.run --standalone --nproc-per-node=2 notebooks/scripts/train_accelerate.py
    accelerate launch --multi_gpu --num_processes 2 notebooks/scripts/train_accelerate.py   # on 2 GPUs

or call :func:`main` through ``accelerate.notebook_launcher`` from a notebook. Without a GPU,
Accelerate needs ``Accelerator(cpu=True)``: otherwise every CPU process trains on its own,
silently, with no gradient averaging at all.
"""
from __future__ import annotations

import time

import ddp_common
import torch
import torch.distributed as dist
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration
from torch.utils.data import DataLoader


def main(argv: list[str] | None = None) -> dict:
    args = ddp_common.build_parser(__doc__.splitlines()[0]).parse_args(argv)
    # Our own process group first (its per-attempt store prefix keeps restarts reliable);
    # Accelerate sees it is already initialised and uses it.
    proc = ddp_common.init_distributed(args.pg_timeout)
    ddp_common.check_fault_options(args, proc.world_size)
    accelerator = Accelerator(
        cpu=proc.device.type == "cpu",
        # a sampler seeded by epoch, so that a resumed run sees the same shuffles (set_epoch below)
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True))
    train_data, test_data = ddp_common.load_fashion_mnist(args.data_dir, args.train_size, args.test_size, proc)

    model = ddp_common.make_model(args.hidden, args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start_epoch, history = ddp_common.resume(args, proc, model, optimizer)
    ddp_common.log(proc, f"Accelerate: {accelerator.distributed_type} on {accelerator.device}, "
               f"{accelerator.num_processes} processes, starting at epoch {start_epoch}")
    loader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

    progress = ddp_common.Progress(history)
    for epoch in range(start_epoch, args.epochs):
        ddp_common.inject_fault(args, proc, epoch)
        loader.set_epoch(epoch)  # a new shuffle every epoch, the same one in a resumed run
        started = time.perf_counter()
        loss_sum, count = torch.zeros((), dtype=torch.float64, device=proc.device), 0
        for x, y in loader:  # already on the device, already this rank's share
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            accelerator.backward(loss)  # DDP's all-reduce happens in here
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            count += len(y)
        mean_loss = ddp_common.record_epoch(proc, loss_sum, count, progress, started)
        # rank 0 alone writes the snapshot (every rank holds the same model); the others wait at the
        # barrier, so that none starts the next epoch, and perhaps crashes, while the file is written
        if proc.rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: mean training loss {mean_loss:.4f}", flush=True)
            if args.snapshot is not None:
                ddp_common.save_snapshot(args.snapshot, accelerator.unwrap_model(model), optimizer, epoch + 1,
                                         progress.history)
        dist.barrier()
    result = ddp_common.finish(args, proc, accelerator.unwrap_model(model), test_data, start_epoch, progress,
                               distributed_type=str(accelerator.distributed_type),
                               accelerate_processes=accelerator.num_processes)
    accelerator.free_memory()  # drops Accelerate's own references to the prepared (DDP) model and optimizer
    del model, optimizer, loader  # the DDP wrapper holds the process group: release it first
    ddp_common.shut_down(proc, destroy=accelerator.end_training)  # end_training destroys the group
    return result


if __name__ == "__main__":
    ddp_common.run(main)
