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

import helpers
import helpers.check
from helpers.exercises import NOT_DONE, PASSED, WRONG

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


def calls_benchmark(fn, sync, clock, warmup, repeats):
    return helpers.benchmark(fn, warmup=warmup, repeats=repeats).median


TIMING_RIGHT = {"statistics_median": make_timing(), "torch_median": torch_median,
                "numpy_median": numpy_median_while_loop, "median_low": make_timing(reduce=statistics.median_low)}

TIMING_WRONG = {
    "no_sync": (make_timing(sync_each=False, sync_after_warmup=False), "no synchronisation"),
    "no_warmup": (make_timing(warm_up=False), "no warm-up"),
    "mean": (make_timing(reduce=statistics.fmean), "you returned the mean"),
    "min": (make_timing(reduce=min), "you returned the fastest call"),
    "total": (make_timing(reduce=sum), "you returned the total"),
    "single_call": (make_timing(single_call=True), "you timed a single call"),
    "no_sync_after_warmup": (make_timing(sync_after_warmup=False), "call sync() after the warm-up"),
    "own_clock": (make_timing(own_clock=True), "never called `clock()`"),
    "fixed_counts": (make_timing(counts=(3, 9)), "use the `warmup` and `repeats` arguments"),
    "one_block": (make_timing(block=True), "as one block"),
    "one_start": (make_timing(one_start=True), "timed from the same start"),
    "milliseconds": (make_timing(scale=1000.0), "milliseconds"),
    "calls_benchmark": (calls_benchmark, "calls helpers.benchmark"),
    "returns_list": (make_timing(reduce=list), "return one number"),
}


@pytest.mark.parametrize("name", TIMING_WRONG)
def test_honest_timing_mistakes_get_their_message(name):
    answer, words = TIMING_WRONG[name]
    result = helpers.check.honest_timing.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def test_benchmark_is_restored_after_a_check():
    before = helpers.benchmark, helpers.timing.benchmark
    helpers.check.honest_timing.outcome(calls_benchmark)
    assert (helpers.benchmark, helpers.timing.benchmark) == before


# --- scaled_learning_rate(base_lr, base_batch, batch) -> the linear rule ------------------------

def lr_right(base_lr, base_batch, batch):
    return base_lr * batch / base_batch


LR_RIGHT = {"multiply_then_divide": lr_right,
            "factor_first": lambda base_lr, base_batch, batch: base_lr * (batch / base_batch),
            "fraction": lambda base_lr, base_batch, batch: base_lr * Fraction(batch, base_batch),
            "numpy": lambda base_lr, base_batch, batch: np.float64(base_lr) / base_batch * batch,
            "powers_of_two": lambda base_lr, base_batch, batch: base_lr * 2 ** math.log2(batch / base_batch)}

LR_WRONG = {
    "wrong_way": (lambda base_lr, base_batch, batch: base_lr * base_batch / batch, "scaled the wrong way"),
    "square_root": (lambda base_lr, base_batch, batch: base_lr * math.sqrt(batch / base_batch), "square-root rule"),
    "integer_factor": (lambda base_lr, base_batch, batch: base_lr * (batch // base_batch) or base_lr,
                       "integer division"),
    "unchanged": (lambda base_lr, base_batch, batch: base_lr, "unchanged"),
    "factor_only": (lambda base_lr, base_batch, batch: batch / base_batch, "multiply the base learning rate"),
    "floor_division": (lambda base_lr, base_batch, batch: base_lr * batch // base_batch, "floor division"),
    "notebook_constants": (lambda base_lr, base_batch, batch: 1e-3 * batch / 32, "use the arguments"),
    "rounded": (lambda base_lr, base_batch, batch: round(base_lr * batch / base_batch, 3), "don't round"),
    "tensor": (lambda base_lr, base_batch, batch: torch.tensor(base_lr * batch / base_batch), "return a number"),
    "additive": (lambda base_lr, base_batch, batch: base_lr + (batch - base_batch) * 1e-5, "expected 0.004"),
}


@pytest.mark.parametrize("name", LR_WRONG)
def test_scaled_learning_rate_mistakes_get_their_message(name):
    answer, words = LR_WRONG[name]
    result = helpers.check.scaled_learning_rate.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


RIGHT = ([(helpers.check.honest_timing, f"timing-{k}", f) for k, f in TIMING_RIGHT.items()]
         + [(helpers.check.scaled_learning_rate, f"lr-{k}", f) for k, f in LR_RIGHT.items()])


@pytest.mark.parametrize("check, label, right", RIGHT, ids=[label for _, label, _ in RIGHT])
def test_right_answers_pass(check, label, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line


def test_stubs_are_not_done():
    assert helpers.check.honest_timing.outcome(timing_stub).status == NOT_DONE
    assert helpers.check.scaled_learning_rate.outcome(lambda *a: (_ for _ in ()).throw(NotImplementedError())
                                                      ).status == NOT_DONE
