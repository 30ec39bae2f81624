"""Train a small Fashion-MNIST classifier with DistributedDataParallel (notebook 06).

Launch it with torchrun, one process per GPU (nccl) or, without a GPU, 2 CPU processes (gloo):

    python -m torch.distributed.run --standalone --nproc-per-node=2 --max-restarts=1 \\
        notebooks/scripts/train_ddp.py --epochs 4 --snapshot snap.pt --fail-at-epoch 2 --fail-rank 1

Every process holds a full copy of the model and trains on its own share of each epoch
(``DistributedSampler``); after ``backward()`` DDP averages the gradients over all processes,
so every copy takes the same step and stays identical. Rank 0 writes a snapshot after every
epoch; a restarted job (``--max-restarts``) loads it and goes on at the next epoch.
"""
from __future__ import annotations

import time

import ddp_common
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler


def check_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Compare DDP's gradient (already in ``p.grad``) with the mean of every rank's own gradient.

    Each rank computes the gradient of its own batch with the bare model (no DDP hooks, so
    nothing is averaged), the ranks exchange these local gradients, and we average them by
    hand. DDP's all-reduced gradient must equal that mean on every rank.
    """
    params = list(model.parameters())
    local = torch.cat([g.reshape(-1) for g in torch.autograd.grad(F.cross_entropy(model(x), y), params)])
    everyone = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, local)
    by_hand = torch.stack(everyone).mean(dim=0)
    ddp = torch.cat([p.grad.reshape(-1) for p in params])
    spread = max(float((g - everyone[0]).abs().max()) for g in everyone)
    return {"grad_max_abs_diff": float((ddp - by_hand).abs().max()),
            "local_grads_max_abs_spread": spread,  # > 0: the ranks' own gradients really differ
            "grad_max_abs": float(ddp.abs().max())}


def main(argv: list[str] | None = None) -> dict:
    parser = ddp_common.build_parser(__doc__.splitlines()[0])
    parser.add_argument("--check-grad", action="store_true",
                        help="on the first step, compare DDP's gradient with the mean of the ranks' own")
    args = parser.parse_args(argv)
    proc = ddp_common.init_distributed(args.pg_timeout)
    ddp_common.check_fault_options(args, proc.world_size)
    train_data, test_data = ddp_common.load_fashion_mnist(args.data_dir, args.train_size, args.test_size, proc)

    model = ddp_common.make_model(args.hidden, args.seed).to(proc.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start_epoch, history = ddp_common.resume(args, proc, model, optimizer)
    ddp_common.log(proc, f"{proc.backend} on {proc.device}, starting at epoch {start_epoch}"
               + (" (from the snapshot)" if start_epoch else ""))
    ddp_model = DDP(model, device_ids=[proc.local_rank] if proc.device.type == "cuda" else None)

    sampler = DistributedSampler(train_data, num_replicas=proc.world_size, rank=proc.rank,
                                 shuffle=True, seed=args.seed)
    loader = DataLoader(train_data, batch_size=args.batch_size, sampler=sampler,
                        pin_memory=proc.device.type == "cuda")
    progress, extra = ddp_common.Progress(history), {}
    for epoch in range(start_epoch, args.epochs):
        ddp_common.inject_fault(args, proc, epoch)
        sampler.set_epoch(epoch)  # a new shuffle every epoch, the same one in a resumed run
        started = time.perf_counter()
        loss_sum, count = torch.zeros((), dtype=torch.float64, device=proc.device), 0
        for x, y in loader:
            x, y = x.to(proc.device, non_blocking=True), y.to(proc.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(ddp_model(x), y)
            loss.backward()  # DDP all-reduces (averages) the gradients here
            if args.check_grad and not extra:
                extra = check_gradient(model, x, y)
            optimizer.step()
            loss_sum += loss.detach() * len(y)  # no float(loss): that would wait for the GPU every step
            count += len(y)
        mean_loss = ddp_common.record_epoch(proc, loss_sum, count, progress, started)
        # rank 0 alone writes the snapshot (every rank holds the same model); the others wait at the
        # barrier, so that none starts the next epoch, and perhaps crashes, while the file is written
        if proc.rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: mean training loss {mean_loss:.4f}", flush=True)
            if args.snapshot is not None:
                ddp_common.save_snapshot(args.snapshot, model, optimizer, epoch + 1, progress.history)
        dist.barrier()
    result = ddp_common.finish(args, proc, model, test_data, start_epoch, progress, **extra)
    del ddp_model, optimizer, loader, model  # DDP's reducer holds the process group: release it first
    ddp_common.shut_down(proc)
    return result


if __name__ == "__main__":
    ddp_common.run(main)
