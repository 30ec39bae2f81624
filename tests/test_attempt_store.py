"""``ddp_faults.store_for_this_attempt`` (notebook 06's scripts): every rank of an attempt meets under
one fresh key prefix, whatever earlier attempts left in the store. It reads no restart count, so
machines whose agents count their restarts differently still agree.

The ranks run as threads on one in-memory store, as the workers of successive attempts would on
torchrun's store; the real jobs are in test_elastic.py and test_fault_tolerance.py.
"""
from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch.distributed as dist

SCRIPTS = Path(__file__).resolve().parent.parent / "notebooks" / "scripts"
sys.path.insert(0, str(SCRIPTS))
ddp_faults = __import__("ddp_faults")
sys.path.remove(str(SCRIPTS))
TIMEOUT = timedelta(seconds=20)


def run_attempt(store: dist.Store, number: int, world_size: int, order: list[int]) -> list[list[int]]:
    """Run an attempt's ranks as threads (started in ``order``); each says which attempt the others' keys
    came from. Rank 1 writes late: a rank reading an earlier attempt's keys would see that attempt's number."""
    heard: list[list[int] | None] = [None] * world_size

    def rank(r: int) -> None:
        prefixed = ddp_faults.store_for_this_attempt(store, r, world_size, TIMEOUT)
        if r == 1:
            time.sleep(0.3)
        prefixed.set(f"address-of-{r}", str(number))  # what gloo's rendezvous writes: where to reach rank r
        heard[r] = [int(prefixed.get(f"address-of-{s}")) for s in range(world_size) if s != r]

    threads = [threading.Thread(target=rank, args=(r,)) for r in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(h is not None for h in heard), "a rank never got through the handshake"
    return heard


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0]], ids=["rank 0 first", "rank 0 last"])
def test_every_attempt_reads_only_its_own_keys(order):
    store = dist.HashStore()
    store.set_timeout(TIMEOUT)
    for number in range(3):  # three attempts on one store: the keys of the earlier ones stay in it
        heard = run_attempt(store, number, 3, order)
        assert heard == [[number, number]] * 3, f"attempt {number}: ranks read another attempt's keys: {heard}"


def test_a_rank_that_never_comes_stops_rank_0_with_a_message():
    store = dist.HashStore()
    with pytest.raises(ddp_faults.JobError, match=r"ranks \[1\] did not join within 0.5 s"):
        ddp_faults.store_for_this_attempt(store, 0, 2, timedelta(seconds=0.5))
