"""Checks for notebook 03's exercises: an honest timing function, and the linear learning-rate rule.
Timing runs on a simulated asynchronous device with a virtual clock: each slip (no sync, no
warm-up, a mean) gets the same exact verdict on every machine, GPU or not, in microseconds."""
from __future__ import annotations

import itertools
import math
import numbers
import statistics
import sys

from .. import timing as helpers_timing
from ..exercises import Wrong, exercise, expect

__all__ = ["honest_timing", "scaled_learning_rate"]

_helpers_package = sys.modules[__name__.split(".")[0]]   # `helpers`, whose .benchmark a learner may call

LAUNCH_S = 1e-5          # what queuing one call costs the CPU, in virtual seconds
COLD_S = (0.200, 0.080, 0.040, 0.030, 0.020)   # the first calls: allocation, kernel choice, caches
WORK_S = (0.010, 0.011, 0.009, 0.010, 0.100, 0.010, 0.012, 0.010, 0.009, 0.010, 0.011, 0.010)
# one slow repeat (0.100 s: another program woke up) pulls a mean up, not a median


class FakeDevice:
    """A GPU-like device with a virtual clock: ``run()`` only queues work, ``sync()`` waits for it."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.now = 0.0
        self.pending = 0.0
        self.calls = 0
        self.syncs = 0
        self.reads: list[tuple[int, bool]] = []  # (calls so far, work still queued?) at every clock reading

    def work(self, call: int) -> float:
        if call < self.warmup:
            return COLD_S[call % len(COLD_S)]
        return WORK_S[(call - self.warmup) % len(WORK_S)]

    def run(self) -> None:
        self.pending += self.work(self.calls)
        self.calls += 1
        self.now += LAUNCH_S

    def sync(self) -> None:
        self.now += self.pending
        self.pending = 0.0
        self.syncs += 1

    def clock(self) -> float:
        self.reads.append((self.calls, self.pending > 0))
        return self.now


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _medians(values: list[float]) -> tuple[float, float]:
    """The lower and upper median (equal for an odd count): either is 'the median' of an even count."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2], ordered[len(ordered) // 2]


def _verdict(answer, warmup: int, repeats: int) -> str | None:
    """Return None when ``answer`` timed the fake device honestly, else what is wrong."""
    device = FakeDevice(warmup)
    result = answer(device.run, device.sync, device.clock, warmup, repeats)
    expect(isinstance(result, numbers.Real) and not isinstance(result, bool),
           f"return one number, the median seconds per call; your function returned {type(result).__name__}")
    result = float(result)
    timed = [LAUNCH_S + device.work(warmup + i) for i in range(repeats)]
    low, high = _medians(timed)
    expected = statistics.median(timed)
    if not device.reads:
        return ("your function never called `clock()`: read the time with the clock you were given "
                "(start = clock(); ...; clock() - start), not time.time() or time.perf_counter()")
    if device.syncs == 0 or _close(result, LAUNCH_S):
        return ("no synchronisation: the device only queues the work, so without sync() after fn() you timed how "
                f"long queuing took ({1e6 * LAUNCH_S:.0f} µs here), not the work; call sync() after fn() and "
                "before reading the clock")
    if repeats > 1 and device.calls == warmup + repeats and len(device.reads) == 2:
        return ("you timed all the repeats as one block (one clock reading before, one after) and divided: that is "
                "the mean per call, which one slow call pulls up; time each call on its own and take the median")
    if repeats > 1 and device.calls == warmup + 1:
        return (f"you timed a single call: one sample is not a measurement; time {repeats} calls (the `repeats` "
                "argument), one clock reading before and after each, and return their median")
    first_calls = device.reads[0][0]
    if first_calls < warmup:
        return (f"no warm-up: your first timed call was call {first_calls + 1}, which pays for allocation and kernel "
                f"choice ({1000 * COLD_S[0]:.0f} ms instead of about 10 ms here); run fn() `warmup` times untimed "
                "first")
    if device.calls != warmup + repeats:
        return (f"fn() was called {device.calls} times with warmup={warmup}, repeats={repeats}: expected "
                f"{warmup + repeats}; use the `warmup` and `repeats` arguments, not fixed numbers")
    if device.reads[0][1]:
        return ("you started the clock while the warm-up's work was still queued, so the first timing includes "
                "it: call sync() after the warm-up, before the first clock reading")
    if any(queued for _, queued in device.reads):
        return ("you read the clock while work was still queued: call sync() after each fn() and before "
                "reading the clock")
    if low - 1e-12 <= result <= high + 1e-12:
        return None
    if _close(result, 1000 * expected):
        return f"you returned {result:.4g}: that is milliseconds; return seconds, as clock() gives them"
    if len(device.reads) == repeats + 1 and _close(result, statistics.median(itertools.accumulate(timed))):
        return ("every call was timed from the same start, so each time includes all the calls before it: read the "
                "clock anew before each call")
    if _close(result, statistics.fmean(timed)):
        return (f"you returned the mean ({1000 * result:.2f} ms): the one slow repeat (100 ms, another program "
                f"woke up) pulled it up; return the median ({1000 * expected:.2f} ms), which ignores it")
    if _close(result, min(timed)):
        return ("you returned the fastest call (the minimum): the course reports the median, the typical call; "
                "use statistics.median of the timed calls")
    if _close(result, sum(timed)):
        return f"you returned the total of {repeats} calls; return seconds per call (the median of the calls)"
    return (f"your function returned {result:.6f} s; the median of the timed calls is {expected:.6f} s (time "
            "each call between a clock reading after sync() and one after fn(); sync())")


@exercise
def honest_timing(answer) -> str:
    """``answer(fn, sync, clock, warmup, repeats)`` must return the median seconds of ``repeats`` timed calls."""
    called = []
    saved = helpers_timing.benchmark, _helpers_package.benchmark

    def spy(*args, **kwargs):
        called.append("helpers.benchmark")
        return saved[0](*args, **kwargs)

    helpers_timing.benchmark = _helpers_package.benchmark = spy
    try:
        for warmup, repeats in ((3, 9), (2, 5), (0, 4), (1, 1)):
            problem = _verdict(answer, warmup, repeats)
            if called:
                raise Wrong("your function calls helpers.benchmark: the exercise is to write what it does, with the "
                            "fn, sync and clock you are given")
            if problem is not None:
                raise Wrong(problem)
    finally:
        helpers_timing.benchmark, _helpers_package.benchmark = saved
    return ("warm-up untimed, a sync before every clock reading, each call timed on its own and their median, for "
            "odd and even repeat counts and no warm-up at all: your timing of a simulated GPU was exact, and a slow "
            "repeat did not move it")


@exercise
def scaled_learning_rate(answer) -> str:
    """``answer(base_lr, base_batch, batch)`` must return the learning rate of the linear scaling rule."""
    cases = [(1e-3, 32, 128), (1e-3, 32, 48), (0.1, 256, 64), (1e-3, 32, 32), (2e-3, 64, 1024), (3e-4, 100, 250)]
    for base_lr, base_batch, batch in cases:
        got = answer(base_lr, base_batch, batch)
        expect(isinstance(got, numbers.Real) and not isinstance(got, bool),
               f"return a number, the learning rate; got {type(got).__name__} {got!r:.40}")
        got = float(got)
        want = base_lr * batch / base_batch
        if _close(got, want):
            continue
        k = batch / base_batch
        if (base_lr, base_batch) != (1e-3, 32) and _close(got, 1e-3 * batch / 32):
            raise Wrong(f"base lr {base_lr:g} at batch {base_batch}, new batch {batch}: you returned {got:g}, the "
                        "notebook's BASE_LR = 1e-3 at BASE_BATCH = 32 scaled; use the arguments you are given")
        if batch % base_batch and (_close(got, base_lr * (batch // base_batch)) or
                                   (batch < base_batch and _close(got, base_lr))):
            raise Wrong(f"integer division: batch {batch} // {base_batch} = {batch // base_batch}, but the factor is "
                        f"{k:g}; use / instead of //")
        if _close(got, math.floor(want)) or _close(got, base_lr * batch // base_batch):
            raise Wrong(f"you returned {got:g}: floor division (//) rounded the learning rate {want:g} down to a whole "
                        "number; use /")
        if _close(got, base_lr):
            raise Wrong(f"batch {base_batch} → {batch} returned the base learning rate {base_lr:g} unchanged: the "
                        f"rule multiplies it by batch / base_batch = {k:g}")
        if _close(got, base_lr / k):
            raise Wrong(f"scaled the wrong way: batch {base_batch} → {batch} gave {got:g}, but a bigger batch "
                        "averages more gradients (less noise) and takes BIGGER steps: multiply by batch / base_batch")
        if _close(got, base_lr * math.sqrt(k)):
            raise Wrong(f"that is the square-root rule (lr × sqrt({k:g}) = {got:g}), often suggested for Adam; this "
                        f"exercise asks for the linear rule of Goyal et al.: lr × {k:g} = {want:g}")
        if _close(got, k):
            raise Wrong(f"you returned the factor batch / base_batch = {k:g}; multiply the base learning rate by it")
        if any(_close(got, round(want, digits)) for digits in range(12)):
            raise Wrong(f"base lr {base_lr:g} at batch {base_batch}, new batch {batch}: you returned {got:.6g}, the "
                        f"rule gives {want:.6g}: don't round the learning rate")
        raise Wrong(f"base lr {base_lr:g} at batch {base_batch}, new batch {batch}: expected {want:.6g} "
                    f"(batch ×{k:g} → learning rate ×{k:g}), got {got:.6g}")
    return ("batch ×k → learning rate ×k, up and down, with non-integer factors and any base: the linear scaling rule "
            "(Goyal et al., 2017), which section 5 tries with Adam")
