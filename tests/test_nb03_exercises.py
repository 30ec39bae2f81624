"""Mutation tests of notebook 03's exercise checks: right answers in several styles pass, the stub is
"not done", and each typical wrong answer gets its own message."""
from __future__ import annotations

import math
import statistics
import time
from fractions import Fraction

import numpy as np
import pytest
import torch
from mutation import Answers

import helpers
import helpers.check

# --- honest_timing(fn, sync, clock, warmup, repeats) -> median seconds per call -----------------


def make_timing(*, warm_up=True, sync_after_warmup=True, sync_each=True, reduce=statistics.median,
                single_call=False, own_clock=False, counts=None, block=False, one_start=False, scale=1.0):
    """Return honest_timing(fn, sync, clock, warmup, repeats), right unless one option makes a typical slip."""
    def honest_timing(fn, sync, clock, warmup, repeats):
        if counts:
            warmup, repeats = counts                 # slip: fixed numbers instead of the arguments
        read = time.perf_counter if own_clock else clock
        if warm_up:
            for _ in range(warmup):
                fn()
            if sync_after_warmup:
                sync()
        else:
            repeats += warmup                        # slip: the cold calls are timed too
        if block:                                    # slip: one block, divided
            start = read()
            for _ in range(repeats):
                fn()
            sync()
            return (read() - start) / repeats
        times = []
        first = read()
        for _ in range(1 if single_call else repeats):
            start = first if one_start else read()
            fn()
            if sync_each:
                sync()
            times.append(read() - start)
        return reduce(times) * scale if scale != 1.0 else reduce(times)
    return honest_timing


def timing_stub(fn, sync, clock, warmup, repeats):
    raise NotImplementedError()


TIMING = Answers(helpers.check.honest_timing, stub=timing_stub)


@TIMING.right
def torch_median(fn, sync, clock, warmup, repeats):  # torch's median of an even count is the lower one
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return torch.tensor(times, dtype=torch.float64).median().item()


def numpy_median_while_loop(fn, sync, clock, warmup, repeats):
    done = 0
    while done < warmup:
        fn()
        done += 1
    sync()
    times = np.empty(repeats)
    for i in range(repeats):
        t0 = clock()
        fn()
        sync()
        times[i] = clock() - t0
    return np.median(times)


@TIMING.wrong("calls helpers.benchmark")
def calls_benchmark(fn, sync, clock, warmup, repeats):
    return helpers.benchmark(fn, warmup=warmup, repeats=repeats).median


TIMING.right(statistics_median=make_timing(), numpy_median=numpy_median_while_loop,
             median_low=make_timing(reduce=statistics.median_low))

TIMING.wrong("no synchronisation", no_sync=make_timing(sync_each=False, sync_after_warmup=False))
TIMING.wrong("no warm-up", no_warmup=make_timing(warm_up=False))
TIMING.wrong("you returned the mean", mean=make_timing(reduce=statistics.fmean))
TIMING.wrong("you returned the fastest call", min=make_timing(reduce=min))
TIMING.wrong("you returned the total", total=make_timing(reduce=sum))
TIMING.wrong("you timed a single call", single_call=make_timing(single_call=True))
TIMING.wrong("call sync() after the warm-up", no_sync_after_warmup=make_timing(sync_after_warmup=False))
TIMING.wrong("never called `clock()`", own_clock=make_timing(own_clock=True))
TIMING.wrong("use the `warmup` and `repeats` arguments", fixed_counts=make_timing(counts=(3, 9)))
TIMING.wrong("as one block", one_block=make_timing(block=True))
TIMING.wrong("timed from the same start", one_start=make_timing(one_start=True))
TIMING.wrong("milliseconds", milliseconds=make_timing(scale=1000.0))
TIMING.wrong("return one number", returns_list=make_timing(reduce=list))


def test_benchmark_is_restored_after_a_check():
    before = helpers.benchmark, helpers.timing.benchmark
    helpers.check.honest_timing.outcome(calls_benchmark)
    assert (helpers.benchmark, helpers.timing.benchmark) == before


# --- scaled_learning_rate(base_lr, base_batch, batch) -> the linear rule ------------------------

LR = Answers(helpers.check.scaled_learning_rate)


def lr_right(base_lr, base_batch, batch):
    return base_lr * batch / base_batch


LR.right(multiply_then_divide=lr_right,
         factor_first=lambda base_lr, base_batch, batch: base_lr * (batch / base_batch),
         fraction=lambda base_lr, base_batch, batch: base_lr * Fraction(batch, base_batch),
         numpy=lambda base_lr, base_batch, batch: np.float64(base_lr) / base_batch * batch,
         powers_of_two=lambda base_lr, base_batch, batch: base_lr * 2 ** math.log2(batch / base_batch))

LR.wrong("scaled the wrong way", wrong_way=lambda base_lr, base_batch, batch: base_lr * base_batch / batch)
LR.wrong("square-root rule", square_root=lambda base_lr, base_batch, batch: base_lr * math.sqrt(batch / base_batch))
LR.wrong("integer division",
         integer_factor=lambda base_lr, base_batch, batch: base_lr * (batch // base_batch) or base_lr)
LR.wrong("unchanged", unchanged=lambda base_lr, base_batch, batch: base_lr)
LR.wrong("multiply the base learning rate", factor_only=lambda base_lr, base_batch, batch: batch / base_batch)
LR.wrong("floor division", floor_division=lambda base_lr, base_batch, batch: base_lr * batch // base_batch)
LR.wrong("use the arguments", notebook_constants=lambda base_lr, base_batch, batch: 1e-3 * batch / 32)
LR.wrong("don't round", rounded=lambda base_lr, base_batch, batch: round(base_lr * batch / base_batch, 3))
LR.wrong("return a number", tensor=lambda base_lr, base_batch, batch: torch.tensor(base_lr * batch / base_batch))
LR.wrong("expected 0.004", additive=lambda base_lr, base_batch, batch: base_lr + (batch - base_batch) * 1e-5)



# --- every answer gets its verdict --------------------------------------------------------------

CASES = TIMING.cases + LR.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()
