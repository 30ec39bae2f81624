"""Checks for notebook 01's exercises: where exp overflows, a stable softmax, log-softmax via log-sum-exp.

Every check compares with PyTorch computed in float64 on the CPU, on inputs chosen to expose one
typical mistake each (a logit of 1000, logits of very different size in one row, a softmax along
``dim=0``, masked ``-inf`` entries, float16), so that the verdict is the same on every machine.
The learner's function may not call PyTorch's own softmax: the exercise is to write it.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from ..exercises import Wrong, exercise, expect

__all__ = ["overflow_threshold", "my_stable_softmax", "my_log_softmax"]

INF = math.inf
TOL = 1e-6  # float32 against float64, as the notebook's own self-check
MCCAFFREY = [3.0, 5.0, 2.0]


@contextlib.contextmanager
def _forbidden(names: tuple[str, ...]) -> Iterator[list[str]]:
    """Record calls to PyTorch's own softmax functions while the learner's function runs."""
    called: list[str] = []
    targets = [(torch, "softmax"), (torch, "log_softmax"), (F, "softmax"), (F, "log_softmax"),
               (torch.special, "softmax"), (torch.special, "log_softmax"),
               (torch.Tensor, "softmax"), (torch.Tensor, "log_softmax")]
    saved = []
    for owner, attr in targets:
        if attr not in names:
            continue
        original = getattr(owner, attr)
        label = f"{'Tensor' if owner is torch.Tensor else owner.__name__}.{attr}"

        def spy(*args, __original=original, __label=label, **kwargs):
            called.append(__label)
            return __original(*args, **kwargs)

        saved.append((owner, attr, original))
        setattr(owner, attr, spy)
    try:
        yield called
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def _call(answer: Callable, x: torch.Tensor, dim: int, forbidden: tuple[str, ...]) -> torch.Tensor:
    with _forbidden(forbidden) as called:
        try:
            out = answer(x.clone(), dim=dim)
        except RuntimeError as exc:
            if "must match the size" in str(exc):
                raise Wrong("the shapes do not broadcast (" + str(exc).splitlines()[0][:80] + "): keep the "
                            "reduced dimension, logits.amax(dim=dim, keepdim=True), so that each row's maximum "
                            "lines up with its row") from None
            raise
    if called:
        raise Wrong(f"your function calls {called[0]}: the exercise is to write it yourself from exp, max, sum "
                    "and log, so that you see where it can overflow")
    expect(isinstance(out, torch.Tensor), f"return a tensor; your function returned {type(out).__name__}")
    expect(tuple(out.shape) == tuple(x.shape),
           f"the result has shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}: softmax keeps the "
           "shape (did you reduce with sum/max without keepdim=True, or return only the sum?)")
    expect(out.dtype == x.dtype,
           f"a {x.dtype} input came back as {out.dtype}: keep the input's dtype (no .float() or .double() inside)")
    return out


def _show(t: torch.Tensor) -> str:
    return str([round(v, 4) if math.isfinite(v) else v for v in t.detach().double().flatten().tolist()])


def _gap(ours: torch.Tensor, ref: torch.Tensor, relative: bool = False) -> float:
    """Largest difference where ref is finite; inf when nan/inf sit in other places than in ref."""
    ours = ours.detach().double()
    if not (torch.equal(torch.isnan(ours), torch.isnan(ref)) and torch.equal(torch.isinf(ours), torch.isinf(ref))):
        return INF
    finite = torch.isfinite(ref)
    if not finite.any():
        return 0.0
    diff = (ours[finite] - ref[finite]).abs()
    if relative:
        diff = diff / ref[finite].abs().clamp_min(1.0)
    return float(diff.max())


@exercise
def overflow_threshold(answer) -> str:
    """``answer(dtype)`` must return the largest x whose exp is finite in ``dtype``: ln(largest value)."""
    found = {}
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        value = answer(dtype)
        expect(isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.numel() == 1),
               f"return a number for {dtype}; your function returned {type(value).__name__} {value!r:.60}")
        found[dtype] = float(value)
    biggest = torch.finfo(torch.float32).max
    f32 = found[torch.float32]
    if math.isclose(f32, biggest, rel_tol=1e-3) or f32 > 1e6:
        raise Wrong(f"for float32 you returned {f32:.4g}, the largest float32 itself. exp(x) overflows once x "
                    "passes the natural LOG of that: return math.log(torch.finfo(dtype).max)")
    if math.isclose(f32, math.log10(biggest), rel_tol=1e-3):
        raise Wrong(f"for float32 you returned {f32:.2f} = log10 of the largest float32; exp is e^x, so take the "
                    "natural log, math.log(...), not math.log10")
    if math.isclose(f32, math.log2(biggest), rel_tol=1e-3):
        raise Wrong(f"for float32 you returned {f32:.2f} = log2 of the largest float32 (the exponent range); "
                    "exp is e^x, so take the natural log, math.log(...)")
    for dtype, value in found.items():
        right = math.log(torch.finfo(dtype).max)
        if math.isclose(value, right, rel_tol=1e-3):
            continue
        same_for_all = len({round(v, 3) for v in found.values()}) == 1
        hint = (" You returned the same number for every dtype: read this dtype's own limit, "
                "torch.finfo(dtype).max." if same_for_all else "")
        raise Wrong(f"for {str(dtype).removeprefix('torch.')} you returned {value:.4g}, but exp(x) in "
                    f"{str(dtype).removeprefix('torch.')} is finite up to x = {right:.2f} "
                    f"(= ln {torch.finfo(dtype).max:.4g}) and inf above.{hint}")
    for dtype, value in found.items():  # the prediction, tested: just below finite, just above inf
        below = torch.exp(torch.tensor(value * (1 - 1e-3), dtype=torch.float64)).to(dtype)
        above = torch.exp(torch.tensor(value * (1 + 1e-3), dtype=torch.float64)).to(dtype)
        expect(torch.isfinite(below) and torch.isinf(above), f"exp does not overflow at {value:.2f} in {dtype}")
    return ("exp overflows above " + ", ".join(f"{found[d]:.2f} in {str(d).removeprefix('torch.')}"
                                               for d in (torch.float16, torch.float32, torch.float64))
            + " (bfloat16 shares float32's 8 exponent bits); the naive softmax breaks there, or a little earlier "
              "when the sum of the exps overflows first (section 2's 88.41)")


def _softmax_cases(answer: Callable, forbidden: tuple[str, ...], log: bool) -> None:
    """The checks both exercises share; ``log`` says whether log-probabilities are expected."""
    name = "log-softmax" if log is True else "softmax"

    def ref(x: torch.Tensor, dim: int) -> torch.Tensor:
        x = x.double()
        return torch.log_softmax(x, dim=dim) if log else torch.softmax(x, dim=dim)

    def off_by_the_max(out: torch.Tensor, x: torch.Tensor) -> None:
        if not log or not torch.isfinite(out).all():
            return
        shift = out.double() - ref(x, -1)
        if torch.allclose(shift, x.double().amax(dim=-1, keepdim=True).expand_as(shift), atol=1e-3):
            raise Wrong(f"your log-probabilities are off by the row's maximum ({_show(shift.flatten()[:1])}): "
                        "log-sum-exp(x) = m + log(sum(exp(x - m))). Subtract m from x as well as inside the exp: "
                        "(x - m) - log(sum(exp(x - m)))")

    x = torch.tensor(MCCAFFREY)
    out = _call(answer, x, -1, forbidden)
    off_by_the_max(out, x)
    expect(_gap(out, ref(x, -1), relative=log) <= TOL,
           f"{name}([3, 5, 2]) should be {_show(ref(x, -1))} (McCaffrey's example); yours is {_show(out)}")

    x = torch.tensor([1000.0, 1001.0])
    out = _call(answer, x, -1, forbidden)
    if not torch.isfinite(out).all():
        raise Wrong(f"{name}([1000, 1001]) gave {_show(out)}: exp(1000) overflows float32 to inf "
                    f"({'x - log(inf) is -inf' if log else 'and inf / inf is nan'}). Subtract the largest logit "
                    "before exp (the max trick): every exponent is then <= 0")
    gap = _gap(out, ref(x, -1), relative=log)
    if log and TOL < gap < 1e-3:
        raise Wrong(f"log-softmax([1000, 1001]) is off by {gap:.1e}: x - logsumexp(x) subtracts two numbers near "
                    "1000, and float32 stores those only to about 6e-5. Subtract the maximum first and keep the "
                    "small numbers small: (x - m) - log(sum(exp(x - m)))")
    expect(gap <= TOL, f"{name}([1000, 1001]) should be {_show(ref(x, -1))}; yours is {_show(out)}")

    x = torch.tensor([-1000.0, 0.0, 1000.0])
    out = _call(answer, x, -1, forbidden)
    if not torch.isfinite(out[1:]).all():
        raise Wrong(f"{name}([-1000, 0, 1000]) gave {_show(out)}: subtracting the mean or the minimum still "
                    "leaves exponents up to 1000 or 2000. Only the maximum makes every exponent <= 0")

    x = torch.tensor([[1000.0, 1001.0, 999.0], [1.0, 2.0, 3.0]])
    out = _call(answer, x, -1, forbidden)
    if not torch.isfinite(out[1]).all() or (not log and float(out[1].sum()) < 0.5):
        raise Wrong(f"the row [1, 2, 3] of a batch [[1000, 1001, 999], [1, 2, 3]] gave {_show(out[1])}: you "
                    "subtracted the maximum of the whole tensor (1001) from every row. Take each row's own "
                    "maximum along dim: logits.amax(dim=dim, keepdim=True)")
    if not log:
        sums = out.double().sum(dim=-1)
        expect(torch.allclose(sums, torch.ones(2, dtype=torch.float64), atol=1e-5),
               f"along dim=-1 each row should sum to 1; yours sum to {_show(sums)}: divide by the sum along dim "
               "(exps.sum(dim=dim, keepdim=True)), not by the sum of the whole tensor")
    gap = _gap(out, ref(x, -1), relative=log)
    expect(gap <= TOL, f"{name} of the rows [[1000, 1001, 999], [1, 2, 3]] should be {_show(ref(x, -1))}; "
                       f"yours is {_show(out)}")

    xt = x.T.contiguous()  # the same rows as columns: softmax along dim=0 must give the transposed answer
    out = _call(answer, xt, 0, forbidden)
    expect(_gap(out, ref(xt, 0), relative=log) <= TOL,
           f"called with dim=0 on a (3, 2) tensor, your {name} gave {_show(out)} instead of {_show(ref(xt, 0))}: "
           "use the `dim` argument in every reduction (max and sum), not a fixed -1")

    masked = torch.tensor([[1.0, -INF, 2.0], [-INF, -INF, -INF]])
    out = _call(answer, masked, -1, forbidden)
    expected = ref(masked, -1)
    row = out[0].double()
    expect(_gap(row, expected[0], relative=log) <= TOL,
           f"a row with a masked entry, [1, -inf, 2], should give {_show(expected[0])}; yours is {_show(row)}: "
           f"a -inf logit must give probability 0{' (log-probability -inf)' if log else ''} and the others must "
           "ignore it (the row's maximum is 2, not -inf)")
    empty = out[1].double()
    expect(torch.isnan(empty).all() or (torch.isinf(empty).all() if log else (empty == 0).all()),
           f"a fully masked row [-inf, -inf, -inf] gave {_show(empty)}: PyTorch gives nan there (no distribution "
           "over zero choices); nan, or zeros if you replace it on purpose, are the two honest answers")

    for dtype, tol in ((torch.float16, 2e-3), (torch.bfloat16, 2e-2)):
        x = torch.tensor([12.0, 10.0, 8.0], dtype=dtype)
        out = _call(answer, x, -1, forbidden)
        expect(torch.isfinite(out).all(),
               f"in {dtype} the logits (12, 10, 8) gave {_show(out)}: exp(12) is above {dtype}'s largest value "
               f"({torch.finfo(dtype).max:g}); with the max trick the exponents are 0, -2, -4 and nothing overflows")
        expect(_gap(out, ref(x, -1), relative=log) <= tol,
               f"in {dtype}, (12, 10, 8) should give {_show(ref(x, -1))} to about {tol:g}; yours is {_show(out)}")

    gen = torch.Generator().manual_seed(0)
    for scale in (1.0, 100.0, 1e4):
        x = torch.randn(4, 3, 50, generator=gen) * scale
        for dim in (-1, 1):
            out = _call(answer, x, dim, forbidden)
            gap = _gap(out, ref(x, dim), relative=log)
            expect(gap <= TOL, f"on random logits of scale {scale:g} (shape (4, 3, 50), dim={dim}) your {name} is "
                               f"off by {gap:.2e} from float64 PyTorch; the bar is {TOL:g}")


@exercise
def my_stable_softmax(answer) -> str:
    """``answer(logits, dim=-1)`` must equal float64 ``torch.softmax`` within 1e-6 where a naive one breaks."""
    _softmax_cases(answer, ("softmax", "log_softmax"), log=False)
    return ("equal to float64 torch.softmax within 1e-6 on logits of 1000 and of mixed sizes in one batch, along "
            "any dim, with masked (-inf) entries, and finite in float16 where the naive version gives nan")


@exercise
def my_log_softmax(answer) -> str:
    """``answer(logits, dim=-1)`` must equal float64 ``torch.log_softmax`` (relative 1e-6) without probabilities."""
    x = torch.tensor([1000.0, 0.0])
    out = _call(answer, x, -1, ("softmax", "log_softmax"))
    if torch.isfinite(out[0]) and torch.isinf(out[1]) and out[1] < 0:
        raise Wrong(f"log_softmax([1000, 0]) gave {_show(out)}: the probability e^-1000 underflows to 0 and log(0) "
                    "= -inf. Never form the probability: return (x - m) - log(sum(exp(x - m))), m the row's maximum")
    _softmax_cases(answer, ("softmax", "log_softmax"), log=True)
    return ("equal to float64 torch.log_softmax (relative 1e-6) on logits of 1000, mixed sizes, any dim, masked "
            "entries and float16, and log_softmax([1000, 0]) keeps its -1000 where log(softmax) gives -inf")
