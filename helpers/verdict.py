"""The verdict rule of a paired, noisy measurement: an effect against a placebo (notebooks 03, 07).
An effect counts only when its whole bootstrap interval clears the noise floor that a placebo
(the same thing measured twice) shows by chance."""
from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence


def _percentile(sorted_values: list[float], q: float) -> float:
    # linear interpolation between order statistics, as numpy's default
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def _bootstrap(per_round: list[float], picks: list[list[int]], confidence: float) -> tuple[float, float, float]:
    """Return (median, low, high) of the median of ``per_round``, the interval from resampled rounds."""
    medians = sorted(statistics.median(per_round[i] for i in pick) for pick in picks)
    tail = (1 - confidence) / 2
    return statistics.median(per_round), _percentile(medians, tail), _percentile(medians, 1 - tail)


def _picks(n_rounds: int, resamples: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(n_rounds) for _ in range(n_rounds)] for _ in range(resamples)]


PAIRED_VERDICTS = ("within noise", "higher", "lower", "too noisy to tell")


def paired_verdict(effect_rounds: Sequence[float], placebo_rounds: Sequence[float], *, noise_limit: float = 0.10,
                   confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
                   transform: Callable[[float], float] | None = None) -> dict:
    """Return the verdict on a paired effect against a placebo, round by round (notebooks 03, 07).
    ``effect_rounds[i]`` and ``placebo_rounds[i]`` come from the same round (or seed); the rule:
    ARCHITECTURE.md, "The power-of-two verdict"."""
    n_rounds = len(effect_rounds)
    if n_rounds < 3 or len(placebo_rounds) != n_rounds:
        raise ValueError(f"need the same number of effect and placebo rounds, at least 3; got {n_rounds} and "
                         f"{len(placebo_rounds)}")
    picks = _picks(n_rounds, resamples, seed)
    transform = transform or (lambda v: v)

    def judged(values: Sequence[float]) -> tuple[float, ...]:
        return tuple(transform(v) for v in _bootstrap(list(values), picks, confidence))

    effect, effect_low, effect_high = judged(effect_rounds)
    placebo_gap, placebo_low, placebo_high = judged(placebo_rounds)
    noise_floor = max(abs(placebo_low), abs(placebo_high))
    if noise_floor > noise_limit:
        verdict = "too noisy to tell"
    elif effect_low > noise_floor:
        verdict = "higher"
    elif effect_high < -noise_floor:
        verdict = "lower"
    elif effect_high - effect_low > 2 * noise_limit:
        verdict = "too noisy to tell"
    else:
        verdict = "within noise"
    return {"verdict": verdict, "effect": effect, "effect_low": effect_low, "effect_high": effect_high,
            "placebo_gap": placebo_gap, "placebo_low": placebo_low, "placebo_high": placebo_high,
            "noise_floor": noise_floor, "noise_limit": noise_limit, "rounds": n_rounds, "confidence": confidence}
