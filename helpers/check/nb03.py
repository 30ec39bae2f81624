"""Checks for notebook 03's exercises: an honest timing function, and the linear learning-rate rule.

The timing check runs the learner's function against a *simulated* asynchronous device with a
virtual clock, so that a missing synchronisation, a missing warm-up or a mean instead of a median
give the same, exact verdict on every machine, with or without a GPU, in microseconds.
"""
from __future__ import annotations

import math
import statistics

from ..exercises import Wrong, exercise, expect

__all__ = ["honest_timing", "scaled_learning_rate"]

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


def _verdict(answer, warmup: int, repeats: int) -> str | None:
    """Return None when ``answer`` timed the fake device honestly, else what is wrong."""
    device = FakeDevice(warmup)
    result = answer(device.run, device.sync, device.clock, warmup, repeats)
    expect(isinstance(result, (int, float)) and not isinstance(result, bool),
           f"return one number, the median seconds per call; your function returned {type(result).__name__}")
    timed = [LAUNCH_S + device.work(warmup + i) for i in range(repeats)]
    expected = statistics.median(timed)
    if not device.reads:
        return ("your function never called `clock()`: read the time with the clock you were given "
                "(start = clock(); ...; clock() - start), not time.time() or time.perf_counter()")
    if device.syncs == 0 or _close(result, LAUNCH_S):
        return ("no synchronisation: the device only queues the work, so without sync() after fn() you timed how "
                f"long queuing took ({1e6 * LAUNCH_S:.0f} µs here), not the work; call sync() after fn() and "
                "before reading the clock")
    if device.calls == warmup + 1 or (device.calls >= warmup + 1 and len(device.reads) <= 2 and repeats > 1):
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
    if _close(result, statistics.fmean(timed)):
        return (f"you returned the mean ({1000 * result:.1f} ms): the one slow repeat (100 ms, another program "
                f"woke up) pulled it up; return the median ({1000 * expected:.1f} ms), which ignores it")
    if _close(result, min(timed)):
        return ("you returned the fastest call (the minimum): the course reports the median, the typical call; "
                "use statistics.median of the timed calls")
    if _close(result, sum(timed)):
        return f"you returned the total of {repeats} calls; return seconds per call (the median of the calls)"
    if not _close(result, expected):
        return (f"your function returned {result:.6f} s; the median of the timed calls is {expected:.6f} s (time "
                "each call between a clock reading after sync() and one after fn(); sync())")
    return None


@exercise
def honest_timing(answer) -> str:
    """``answer(fn, sync, clock, warmup, repeats)`` must return the median seconds of ``repeats`` timed calls."""
    for warmup, repeats in ((3, 9), (2, 5)):
        problem = _verdict(answer, warmup, repeats)
        if problem is not None:
            raise Wrong(problem)
    return ("warm-up untimed, a sync before every clock reading, repeats and their median: your timing of a "
            "simulated GPU was exact, and a slow repeat did not move it")


@exercise
def scaled_learning_rate(answer) -> str:
    """``answer(base_lr, base_batch, batch)`` must return the learning rate of the linear scaling rule."""
    cases = [(1e-3, 32, 128), (1e-3, 32, 48), (0.1, 256, 64), (1e-3, 32, 32), (2e-3, 64, 1024)]
    for base_lr, base_batch, batch in cases:
        got = answer(base_lr, base_batch, batch)
        expect(isinstance(got, (int, float)) and not isinstance(got, bool),
               f"return a number, the learning rate; got {type(got).__name__} {got!r:.40}")
        want = base_lr * batch / base_batch
        if _close(got, want):
            continue
        k = batch / base_batch
        if batch % base_batch and (_close(got, base_lr * (batch // base_batch)) or
                                   (batch < base_batch and _close(got, base_lr))):
            raise Wrong(f"integer division: batch {batch} // {base_batch} = {batch // base_batch}, but the factor is "
                        f"{k:g}; use / instead of //")
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
        raise Wrong(f"base lr {base_lr:g} at batch {base_batch}, new batch {batch}: expected {want:g} "
                    f"(base_lr × batch / base_batch), got {got:g}")
    return ("batch ×k → learning rate ×k, up and down, with non-integer factors: the linear scaling rule "
            "(Goyal et al., 2017), which section 5 tries with Adam")
