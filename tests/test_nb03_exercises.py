"""Mutation tests of notebook 03's exercise checks: the right answer passes, the stub is "not done",
and each typical wrong answer gets its own message."""
from __future__ import annotations

import math
import statistics
import time

import pytest

import helpers.check
from helpers.exercises import NOT_DONE, PASSED, WRONG

# --- honest_timing(fn, sync, clock, warmup, repeats) -> median seconds per call -----------------

def timing_right(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return statistics.median(times)


def timing_stub(fn, sync, clock, warmup, repeats):
    raise NotImplementedError()


def timing_no_sync(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def timing_no_warmup(fn, sync, clock, warmup, repeats):
    times = []
    for _ in range(warmup + repeats):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return statistics.median(times)


def timing_mean(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return sum(times) / len(times)


def timing_one_run(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    sync()
    start = clock()
    fn()
    sync()
    return clock() - start


def timing_no_sync_after_warmup(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return statistics.median(times)


def timing_own_clock(fn, sync, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing_fixed_counts(fn, sync, clock, warmup, repeats):
    return timing_right(fn, sync, clock, 3, 9)


def test_honest_timing_right_answer_passes_and_stub_is_not_done():
    assert helpers.check.honest_timing.outcome(timing_right).status == PASSED
    assert helpers.check.honest_timing.outcome(timing_stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (timing_no_sync, "no synchronisation"),
    (timing_no_warmup, "no warm-up"),
    (timing_mean, "you returned the mean"),
    (timing_one_run, "you timed a single call"),
    (timing_no_sync_after_warmup, "call sync() after the warm-up"),
    (timing_own_clock, "never called `clock()`"),
    (timing_fixed_counts, "use the `warmup` and `repeats` arguments"),
])
def test_honest_timing_mistakes_get_their_message(answer, words):
    result = helpers.check.honest_timing.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# --- scaled_learning_rate(base_lr, base_batch, batch) -> the linear rule ------------------------

def lr_right(base_lr, base_batch, batch):
    return base_lr * batch / base_batch


def lr_stub(base_lr, base_batch, batch):
    raise NotImplementedError()


@pytest.mark.parametrize("answer, words", [
    (lambda base_lr, base_batch, batch: base_lr * base_batch / batch, "scaled the wrong way"),
    (lambda base_lr, base_batch, batch: base_lr * math.sqrt(batch / base_batch), "square-root rule"),
    (lambda base_lr, base_batch, batch: base_lr * (batch // base_batch) or base_lr, "integer division"),
    (lambda base_lr, base_batch, batch: base_lr, "unchanged"),
    (lambda base_lr, base_batch, batch: batch / base_batch, "multiply the base learning rate"),
])
def test_scaled_learning_rate_mistakes_get_their_message(answer, words):
    result = helpers.check.scaled_learning_rate.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def test_scaled_learning_rate_right_answer_passes_and_stub_is_not_done():
    assert helpers.check.scaled_learning_rate.outcome(lr_right).status == PASSED
    assert helpers.check.scaled_learning_rate.outcome(lr_stub).status == NOT_DONE
