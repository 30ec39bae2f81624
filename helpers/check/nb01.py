"""Checks for notebook 01's exercises: where exp overflows, a stable softmax, log-softmax. Each
compares with PyTorch in float64 on inputs that expose one typical mistake each, and refuses
PyTorch's own softmax by any route (docs/exercises.md, "What each check probes")."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..exercises import Wrong, exercise, expect, operators_called

__all__ = ["overflow_threshold", "my_stable_softmax", "my_log_softmax"]

INF = math.inf
TOL = 1e-6  # float32 against float64, as the notebook's own self-check
MCCAFFREY = [3.0, 5.0, 2.0]
SOFTMAX_OPERATORS = {"_softmax": "a softmax (torch.softmax, F.softmax, Tensor.softmax or nn.Softmax)",
                     "_log_softmax": "a log-softmax (torch.log_softmax, F.log_softmax, nn.LogSoftmax or "
                                     "F.cross_entropy)"}


def _digits(gap: float) -> int:
    """Decimals that make a difference of ``gap`` visible (at least 4)."""
    if not math.isfinite(gap) or gap <= 0 or gap >= 1e-3:
        return 4
    return min(12, math.ceil(-math.log10(gap)) + 1)


def _show(t: torch.Tensor, decimals: int = 4) -> str:
    values = t.detach().double().flatten().tolist()
    return "[" + ", ".join(f"{v:.{decimals}f}" if math.isfinite(v) else str(v) for v in values) + "]"


def _gap(ours: torch.Tensor, ref: torch.Tensor, relative: bool = False) -> float:
    """Largest difference where ref is finite; inf when nan/inf sit in other places than in ref."""
    ours = ours.detach().double()
    same_specials = (torch.equal(torch.isnan(ours), torch.isnan(ref))
                     and torch.equal(torch.isinf(ours), torch.isinf(ref))
                     and torch.equal(ours[torch.isinf(ref)], ref[torch.isinf(ref)]))
    if not same_specials:
        return INF
    finite = torch.isfinite(ref)
    if not finite.any():
        return 0.0
    diff = (ours[finite] - ref[finite]).abs()
    if relative:
        diff = diff / ref[finite].abs().clamp_min(1.0)
    return float(diff.max())


def _versus(what: str, ref: torch.Tensor, out: torch.Tensor, gap: float, tol: float) -> str:
    """'what should be R; yours is O' with enough digits to see the difference, and the difference itself."""
    d = _digits(gap)
    tail = f" (largest difference {gap:.1e}; the bar is {tol:g})" if math.isfinite(gap) else ""
    return f"{what} should be {_show(ref, d)}; yours is {_show(out, d)}{tail}"


def _call(answer: Callable, x: torch.Tensor, dim: int, ops: list[str] | None = None) -> torch.Tensor:
    """Run the answer on a copy of x; refuse PyTorch's softmax, a changed input, a wrong shape or dtype."""
    given = x.clone()
    with operators_called() as called:
        try:
            out = answer(given, dim=dim)
        except RuntimeError as exc:
            if "must match the size" in str(exc):
                raise Wrong("the shapes do not broadcast (" + str(exc).splitlines()[0][:80] + "): keep the "
                            "reduced dimension with keepdim=True, so that each row's maximum and sum line up with "
                            "its row") from None
            raise
        except TypeError as exc:
            if "return_types" in str(exc):
                raise Wrong("logits.max(dim=...) returns a pair (values, indices), not a tensor: take its .values, "
                            "or use logits.amax(dim=..., keepdim=True)") from None
            raise
    if ops is not None:
        ops.extend(called)
    for name, what in SOFTMAX_OPERATORS.items():
        if name in called:
            raise Wrong(f"your function runs {what}: the exercise is to write it yourself from exp, max, sum and "
                        "log, so that you see where it can overflow")
    expect(torch.equal(torch.isnan(given), torch.isnan(x)) and torch.equal(given.nan_to_num(), x.nan_to_num()),
           "your function changed the logits it was given (an in-place operation such as -=, sub_ or exp_): "
           "whoever called it finds their tensor altered. Compute new tensors (x - m) instead")
    expect(isinstance(out, torch.Tensor), f"return a tensor; your function returned {type(out).__name__}")
    expect(tuple(out.shape) == tuple(x.shape),
           f"the result has shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}: softmax keeps the "
           "shape (did you reduce with sum/max without keepdim=True, or return only the sum?)")
    expect(out.dtype == x.dtype,
           f"a {x.dtype} input came back as {out.dtype}: keep the input's dtype (no .float() or .double() inside)")
    return out


def _keepdim_forgotten(out: torch.Tensor, x: torch.Tensor, log: bool) -> bool:
    """Whether ``out`` is what a max or sum along the last dim without keepdim=True gives for a square ``x``."""
    x = x.double()
    candidates = []
    for keep_max in (True, False):
        shifted = x - x.amax(dim=-1, keepdim=keep_max)
        for keep_sum in (True, False):
            if keep_max and keep_sum:
                continue
            total = torch.exp(shifted).sum(dim=-1, keepdim=keep_sum)
            candidates.append(shifted - torch.log(total) if log else torch.exp(shifted) / total)
    return any(torch.allclose(out.double(), c, atol=1e-5) for c in candidates)


@exercise
def overflow_threshold(answer) -> str:
    """``answer(dtype)`` must return the largest x whose exp is finite in ``dtype``: ln(largest value)."""
    found = {}
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        value = answer(dtype)
        expect(isinstance(value, (int, float)) and not isinstance(value, bool)
               or (isinstance(value, torch.Tensor) and value.numel() == 1),
               f"return a number for {dtype}; your function returned {type(value).__name__} {value!r:.60}")
        found[dtype] = float(value)
    biggest = torch.finfo(torch.float32).max
    f32 = found[torch.float32]
    if math.isclose(f32, biggest, rel_tol=1e-3) or f32 > 1e6:
        raise Wrong(f"for float32 you returned {f32:.4g}, the largest float32 itself. exp(x) overflows once x "
                    "passes the number whose exp is that largest value: undo exp")
    if math.isclose(f32, math.log10(biggest), rel_tol=1e-3):
        raise Wrong(f"for float32 you returned {f32:.2f} = log10 of the largest float32; exp is e^x, so take the "
                    "natural log, math.log(...), not math.log10")
    if math.isclose(f32, math.log2(biggest), rel_tol=1e-3):
        raise Wrong(f"for float32 you returned {f32:.2f} = log2 of the largest float32 (the exponent range); "
                    "exp is e^x, so take the natural log, math.log(...)")
    if math.isclose(f32, math.log(torch.finfo(torch.float32).tiny), rel_tol=1e-3):
        raise Wrong(f"for float32 you returned {f32:.2f} = ln of the SMALLEST normal float32: that is where exp "
                    "starts to underflow towards 0, the other end. Overflow is about the largest value")
    for dtype, value in found.items():
        right = math.log(torch.finfo(dtype).max)
        if math.isclose(value, right, rel_tol=1e-3):
            continue
        name = str(dtype).removeprefix("torch.")
        if not math.isfinite(value):
            raise Wrong(f"for {name} you returned {value}: the threshold is a finite number ({right:.6g}). A "
                        "float32 tensor (torch.tensor's default) cannot hold float64's largest value, 1.8e308, and "
                        "turns it into inf: compute on Python floats with math.log")
        same_for_all = len({round(v, 3) for v in found.values()}) == 1
        hint = (" You returned the same number for every dtype: read this dtype's own limit, "
                "torch.finfo(dtype).max." if same_for_all else "")
        if value.is_integer() and abs(value - right) < 1:
            hint += " (You rounded to a whole number: the threshold is not one.)"
        if dtype == torch.bfloat16 and math.isclose(value, math.log(torch.finfo(torch.float16).max), rel_tol=1e-3):
            hint += (" That is float16's limit: bfloat16 is also 16 bits, but it keeps float32's 8 exponent bits, "
                     "so its range is float32's.")
        raise Wrong(f"for {name} you returned {value:.6g}, but exp(x) in {name} is finite up to x = {right:.6g} "
                    f"(the natural log of {name}'s largest value, {torch.finfo(dtype).max:.6g}) and inf above.{hint}")
    for dtype, value in found.items():  # the prediction, tested: just below finite, just above inf
        below = torch.exp(torch.tensor(value * (1 - 1e-3), dtype=torch.float64)).to(dtype)
        above = torch.exp(torch.tensor(value * (1 + 1e-3), dtype=torch.float64)).to(dtype)
        expect(torch.isfinite(below) and torch.isinf(above), f"exp does not overflow at {value:.2f} in {dtype}")
    return ("exp overflows above " + ", ".join(f"{found[d]:.2f} in {str(d).removeprefix('torch.')}"
                                               for d in (torch.float16, torch.float32, torch.float64))
            + " (bfloat16 shares float32's 8 exponent bits); the naive softmax breaks there, or a little earlier "
              "when the sum of the exps overflows first (section 2's 88.41)")


def _softmax_cases(answer: Callable, log: bool) -> None:
    """The checks both exercises share, in order; ``log`` says whether log-probabilities are expected."""
    _extreme_logit_cases(answer, log)
    _batch_cases(answer, log)
    _mask_dtype_and_random_cases(answer, log)


def _tools(log: bool) -> tuple[str, Callable, Callable]:
    """(the function's name, the float64 reference, compare-to-the-reference) for softmax or log-softmax."""
    name = "log-softmax" if log else "softmax"

    def ref(x: torch.Tensor, dim: int) -> torch.Tensor:
        x = x.double()
        return torch.log_softmax(x, dim=dim) if log else torch.softmax(x, dim=dim)

    def compare(what: str, x: torch.Tensor, out: torch.Tensor, dim: int = -1, tol: float = TOL) -> None:
        gap = _gap(out, ref(x, dim), relative=log)
        expect(gap <= tol, _versus(what, ref(x, dim), out, gap, tol))

    return name, ref, compare


def _extreme_logit_cases(answer: Callable, log: bool) -> None:
    """McCaffrey's example, logits near 1000, pairs that overflow or underflow, the mean or minimum subtracted."""
    name, ref, compare = _tools(log)
    x = torch.tensor(MCCAFFREY)
    out = _call(answer, x, -1)
    if log and torch.isfinite(out).all():
        shift = out.double() - ref(x, -1)
        if torch.allclose(shift, torch.full_like(shift, 5.0), atol=1e-3):
            raise Wrong(f"your log-probabilities are off by the row's maximum ({float(shift[0]):.4f}): "
                        "log-sum-exp(x) = m + log(sum(exp(x - m))). Subtract m from x as well as inside the exp")
    compare(f"{name}([3, 5, 2]) (McCaffrey's example)", x, out)

    x = torch.tensor([1000.0, 1001.0])
    ops: list[str] = []
    out = _call(answer, x, -1, ops)
    if not torch.isfinite(out).all():
        raise Wrong(f"{name}([1000, 1001]) gave {_show(out)}: exp(1000) overflows float32 to inf "
                    f"({'x - log(inf) is -inf' if log else 'and inf / inf is nan'}). Subtract the largest logit "
                    "before exp (the max trick): every exponent is then <= 0")
    gap = _gap(out, ref(x, -1), relative=log)
    if TOL < gap < 1e-3:
        culprit = ("x - logsumexp(x) subtracts logsumexp(x) = 1001.3133, rounded to float32, from x"
                   if "logsumexp" in ops else "you subtracted a rounded number near 1000 from the logits")
        raise Wrong(f"{name}([1000, 1001]) is off by {gap:.1e} (the bar is {TOL:g}): {culprit}, and float32 stores "
                    "numbers near 1000 only to about 6e-5. x - max(x) is exact (the maximum is one of the logits): "
                    "subtract the maximum first and keep the small numbers small")
    compare(f"{name}([1000, 1001])", x, out)

    for pair, why in (([88.5, 88.5], "each exp(88.5) fits in float32 but their sum overflows to inf"),
                      ([-1000.0, -1001.0], "every exp underflows to 0")):
        x = torch.tensor(pair)
        out = _call(answer, x, -1)
        if not torch.isfinite(out).all() or (not log and float(out.double().sum()) < 0.5):
            raise Wrong(f"{name}([{pair[0]:g}, {pair[1]:g}]) gave {_show(out)}: {why}. If you subtract the maximum "
                        "only when a logit looks too big, this row slips through; subtract it always (then the "
                        "largest exp is exactly 1 and the sum is between 1 and n)")
        compare(f"{name}([{pair[0]:g}, {pair[1]:g}])", x, out)

    x = torch.tensor([-1000.0, 0.0, 1000.0])
    out = _call(answer, x, -1)
    if not torch.isfinite(out[1:]).all():
        raise Wrong(f"{name}([-1000, 0, 1000]) gave {_show(out)}: subtracting the mean or the minimum still "
                    "leaves exponents up to 1000 or 2000. Only the maximum makes every exponent <= 0")



def _batch_cases(answer: Callable, log: bool) -> None:
    """Rows of a batch: each row's own maximum and sum, keepdim on a square batch, the ``dim`` argument."""
    name, ref, compare = _tools(log)
    x = torch.tensor([[1000.0, 1001.0, 999.0], [1.0, 2.0, 3.0]])
    out = _call(answer, x, -1)
    if not torch.isfinite(out[1]).all() or (not log and float(out[1].sum()) < 0.5):
        raise Wrong(f"the row [1, 2, 3] of a batch [[1000, 1001, 999], [1, 2, 3]] gave {_show(out[1])}: you "
                    "subtracted the maximum of the whole tensor (1001) from every row. Take each row's own "
                    "maximum along dim")
    if not log:
        sums = out.double().sum(dim=-1)
        expect(torch.allclose(sums, torch.ones(2, dtype=torch.float64), atol=1e-5),
               f"along dim=-1 each row should sum to 1; yours sum to {_show(sums)}: divide by the sum along dim, "
               "not by the sum of the whole tensor")
    gap = _gap(out, ref(x, -1), relative=log)
    if log and gap < INF:
        whole = (x - x.amax(dim=-1, keepdim=True)).double()
        if torch.allclose(out.double(), whole - torch.log(torch.exp(whole).sum()), atol=1e-4):
            raise Wrong("your log-sum-exp adds up the exps of the whole tensor, not of each row: sum along dim "
                        "(with keepdim=True)")
    compare("the rows [[1000, 1001, 999], [1, 2, 3]]", x, out)

    square = torch.tensor([[1.0, 2.0, 3.0], [2.0, 0.0, -2.0], [5.0, 1.0, 0.0]])
    out = _call(answer, square, -1)
    if _gap(out, ref(square, -1), relative=log) > TOL and _keepdim_forgotten(out, square, log):
        raise Wrong("on a square batch (3×3) a max or sum without keepdim=True still broadcasts, but along the "
                    "wrong axis: row i is shifted or divided by row j's value. Reduce with keepdim=True")
    compare("the square batch [[1, 2, 3], [2, 0, -2], [5, 1, 0]]", square, out)

    xt = torch.tensor([[1000.0, 1001.0, 999.0], [1.0, 2.0, 3.0]]).T.contiguous()  # the rows as columns
    out = _call(answer, xt, 0)
    gap = _gap(out, ref(xt, 0), relative=log)
    expect(gap <= TOL, f"called with dim=0 on a (3, 2) tensor, your {name} gave {_show(out, _digits(gap))} instead of "
                       f"{_show(ref(xt, 0), _digits(gap))}: use the `dim` argument in every reduction (max and sum), "
                       "not a fixed -1")



def _mask_dtype_and_random_cases(answer: Callable, log: bool) -> None:
    """Masked (-inf) entries, float16 and bfloat16, float64 precision, random logits at three scales."""
    name, ref, compare = _tools(log)
    masked = torch.tensor([[1.0, -INF, 2.0], [-INF, -INF, -INF]])
    out = _call(answer, masked, -1)
    expected = ref(masked, -1)
    row = out[0].double()
    gap = _gap(row, expected[0], relative=log)
    expect(gap <= TOL,
           f"a row with a masked entry, [1, -inf, 2], should give {_show(expected[0], _digits(gap))}; yours is "
           f"{_show(row, _digits(gap))}: a -inf logit must give probability 0{' (log-probability -inf)' if log else ''}"
           " and the others must ignore it (the row's maximum is 2, not -inf)")
    empty = out[1].double()
    expect(torch.isnan(empty).all() or (torch.isinf(empty).all() if log else (empty == 0).all()),
           f"a fully masked row [-inf, -inf, -inf] gave {_show(empty)}: PyTorch gives nan there (no distribution "
           "over zero choices); nan, or zeros if you replace it on purpose, are the two honest answers")

    for dtype, logits, tol in ((torch.float16, [12.0, 10.0, 8.0], 2e-3), (torch.float16, [11.0, 11.0], 2e-3),
                               (torch.bfloat16, [12.0, 10.0, 8.0], 2e-2)):
        x = torch.tensor(logits, dtype=dtype)
        out = _call(answer, x, -1)
        shown = ", ".join(f"{v:g}" for v in logits)
        expect(torch.isfinite(out).all(),
               f"in {dtype} the logits ({shown}) gave {_show(out)}: {dtype}'s largest value is "
               f"{torch.finfo(dtype).max:g}, and exp(12) or the sum exp(11) + exp(11) is above it. Your function "
               "handled logits of 1000 in float32, so it subtracts the maximum only sometimes: subtract it always "
               "(every exponent is then <= 0 and nothing overflows, in any dtype)")
        compare(f"in {dtype}, ({shown})", x, out, tol=tol)

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, generator=gen, dtype=torch.float64) * 30
    out = _call(answer, x, 1)
    gap = _gap(out, ref(x, 1), relative=log)
    expect(gap <= 1e-12, f"on float64 logits your {name} is off by {gap:.1e} from float64 PyTorch, about float32's "
                         "precision: compute in the input's own dtype (no .float() inside), the bar is 1e-12")
    for scale in (1.0, 100.0, 1e4):
        x = torch.randn(4, 3, 50, generator=gen) * scale
        for dim in (-1, 1, 0):
            out = _call(answer, x, dim)
            gap = _gap(out, ref(x, dim), relative=log)
            expect(gap <= TOL, f"on random logits of scale {scale:g} (shape (4, 3, 50), dim={dim}) your {name} is "
                               f"off by {gap:.2e} from float64 PyTorch; the bar is {TOL:g}")


@exercise
def my_stable_softmax(answer) -> str:
    """``answer(logits, dim=-1)`` must equal float64 ``torch.softmax`` within 1e-6 where a naive one breaks."""
    _softmax_cases(answer, log=False)
    return ("equal to float64 torch.softmax within 1e-6 on logits of 1000, on pairs whose sum overflows or whose "
            "exps all underflow, rows of mixed sizes, any dim, masked (-inf) entries, float16 and float64")


@exercise
def my_log_softmax(answer) -> str:
    """``answer(logits, dim=-1)`` must equal float64 ``torch.log_softmax`` (relative 1e-6) without probabilities."""
    x = torch.tensor([1000.0, 0.0])
    out = _call(answer, x, -1)
    if torch.isfinite(out[0]) and torch.isinf(out[1]) and out[1] < 0:
        raise Wrong(f"log_softmax([1000, 0]) gave {_show(out)}: the probability e^-1000 underflows to 0 and log(0) "
                    "= -inf. Never form the probability: take the log of the formula algebraically first")
    _softmax_cases(answer, log=True)
    return ("equal to float64 torch.log_softmax (relative 1e-6) on logits of 1000, pairs that overflow or "
            "underflow, mixed sizes, any dim, masked entries, float16 and float64, and log_softmax([1000, 0]) keeps "
            "its -1000 where log(softmax) gives -inf")
