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

def make_timing(*, warm_up=True, sync_after_warmup=True, sync_each=True, reduce=statistics.median,
                single_call=False, own_clock=False, counts=None):
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
        times = []
        for _ in range(1 if single_call else repeats):
            start = read()
            fn()
            if sync_each:
                sync()
            times.append(read() - start)
        return reduce(times)
    return honest_timing


def timing_stub(fn, sync, clock, warmup, repeats):
    raise NotImplementedError()


def test_honest_timing_right_answer_passes_and_stub_is_not_done():
    assert helpers.check.honest_timing.outcome(make_timing()).status == PASSED
    assert helpers.check.honest_timing.outcome(timing_stub).status == NOT_DONE


@pytest.mark.parametrize("answer, words", [
    (dict(sync_each=False, sync_after_warmup=False), "no synchronisation"),
    (dict(warm_up=False), "no warm-up"),
    (dict(reduce=statistics.fmean), "you returned the mean"),
    (dict(reduce=min), "you returned the fastest call"),
    (dict(reduce=sum), "you returned the total"),
    (dict(single_call=True), "you timed a single call"),
    (dict(sync_after_warmup=False), "call sync() after the warm-up"),
    (dict(own_clock=True), "never called `clock()`"),
    (dict(counts=(3, 9)), "use the `warmup` and `repeats` arguments"),
])
def test_honest_timing_mistakes_get_their_message(answer, words):
    result = helpers.check.honest_timing.outcome(make_timing(**answer))
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
