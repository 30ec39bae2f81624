"""Mutation tests of notebook 01's exercise checks: typical wrong answers get their own message.

Each wrong answer below is a mistake learners make when they write softmax by hand (or a shortcut
that calls the library); the check must name it. Each right answer (several styles) passes; the
nbgrader stub is "not done".
"""
import math

import pytest
import scipy.special  # noqa: F401  (an answer below reaches for it)
import torch
import torch.nn.functional as F
from mutation import Answers

import helpers
from helpers.exercises import WRONG

# --- overflow_threshold ---------------------------------------------------------------------------

THRESHOLD = Answers(helpers.check.overflow_threshold)


def right_threshold(dtype):
    return math.log(torch.finfo(dtype).max)


THRESHOLD.right(
    math_log=right_threshold, log2_times_ln2=lambda dtype: math.log2(torch.finfo(dtype).max) * math.log(2),
    torch_log_float64=lambda dtype: torch.log(torch.tensor(torch.finfo(dtype).max, dtype=torch.float64)).item(),
    rounded_to_2_decimals=lambda dtype: round(math.log(torch.finfo(dtype).max), 2))

THRESHOLD.wrong("the largest float32 itself", largest_value=lambda dtype: torch.finfo(dtype).max)
THRESHOLD.wrong("not math.log10", log10=lambda dtype: math.log10(torch.finfo(dtype).max))
THRESHOLD.wrong("log2 of the largest float32", log2=lambda dtype: math.log2(torch.finfo(dtype).max))
THRESHOLD.wrong("same number for every dtype", float32_for_all=lambda dtype: 88.72)
THRESHOLD.wrong("for float32 you returned 88", off_by_a_bit=lambda dtype: (
    math.log(torch.finfo(torch.float16).max) if dtype == torch.float16 else 88.0))
THRESHOLD.wrong("rounded to a whole number", whole_number=lambda dtype: math.floor(math.log(torch.finfo(dtype).max)))
THRESHOLD.wrong("SMALLEST normal", underflow_end=lambda dtype: math.log(torch.finfo(dtype).tiny))
THRESHOLD.wrong("float32's 8 exponent bits", bfloat16_as_float16=lambda dtype: (
    math.log(65504.0) if dtype in (torch.float16, torch.bfloat16) else math.log(torch.finfo(dtype).max)))
THRESHOLD.wrong("return a number", string=lambda dtype: str(dtype))
THRESHOLD.wrong("for float64 you returned inf",
                float32_tensor_for_float64=lambda dtype: torch.log(torch.tensor(torch.finfo(dtype).max)))


# --- my_stable_softmax ----------------------------------------------------------------------------

SOFTMAX = Answers(helpers.check.my_stable_softmax)


def right_softmax(logits, dim=-1):
    exps = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


def right_max_values(logits, dim=-1):
    m = logits.max(dim=dim, keepdim=True).values
    e = (logits - m).exp()
    return e / torch.sum(e, dim, keepdim=True)


def right_shifted_logsumexp(logits, dim=-1):
    s = logits - logits.amax(dim=dim, keepdim=True)
    return torch.exp(s - torch.logsumexp(s, dim=dim, keepdim=True))


def right_in_float64_back(logits, dim=-1):
    return right_softmax(logits.double(), dim).to(logits.dtype)


def right_zeros_for_masked_rows(logits, dim=-1):
    return torch.nan_to_num(right_softmax(logits, dim), nan=0.0)


SOFTMAX.right(amax=right_softmax, max_values=right_max_values, shifted_logsumexp=right_shifted_logsumexp,
              float64_inside=right_in_float64_back, zeros_for_masked=right_zeros_for_masked_rows)


@SOFTMAX.wrong("exp(1000) overflows float32")
def naive(logits, dim=-1):
    exps = torch.exp(logits)
    return exps / exps.sum(dim=dim, keepdim=True)


@SOFTMAX.wrong("each exp(88.5) fits in float32 but their sum overflows")
def shift_when_needed(logits, dim=-1):  # the max trick only when a logit would overflow
    if logits.max() > math.log(torch.finfo(logits.dtype).max):
        logits = logits - logits.amax(dim=dim, keepdim=True)
    return naive(logits, dim)


@SOFTMAX.wrong("subtracts the maximum only sometimes")
def shift_when_big(logits, dim=-1):  # ... or when a logit is "big"
    if logits.abs().max() > 80:
        logits = logits - logits.amax(dim=dim, keepdim=True)
    return naive(logits, dim)


def make_softmax(shift=lambda x, d: x.amax(dim=d, keepdim=True), total=lambda e, d: e.sum(dim=d, keepdim=True)):
    """Return softmax(logits, dim=-1) = exp(logits - shift) / total, right unless `shift` or `total` makes a slip."""
    def softmax(logits, dim=-1):
        exps = torch.exp(logits - shift(logits, dim))
        return exps / total(exps, dim)
    return softmax


SOFTMAX.wrong("subtracting the mean or the minimum",
              mean_shift=make_softmax(shift=lambda x, d: x.mean(dim=d, keepdim=True)))
SOFTMAX.wrong("maximum of the whole tensor", global_max=make_softmax(shift=lambda x, d: x.max()))
SOFTMAX.wrong("not by the sum of the whole tensor", sum_of_everything=make_softmax(total=lambda e, d: e.sum()))
SOFTMAX.wrong("use the `dim` argument", ignores_dim=make_softmax(shift=lambda x, d: x.amax(dim=-1, keepdim=True),
                                                                  total=lambda e, d: e.sum(dim=-1, keepdim=True)))
SOFTMAX.wrong("keepdim=True", no_keepdim=make_softmax(shift=lambda x, d: x.amax(dim=d)))
SOFTMAX.wrong("returns a pair (values, indices)",
              max_namedtuple=make_softmax(shift=lambda x, d: x.max(dim=d, keepdim=True)))


@SOFTMAX.wrong("on a square batch (3×3)")
def sum_no_keepdim_square(logits, dim=-1):  # breaks loudly on (2, 3), silently on a square batch
    exps = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    total = exps.sum(dim=dim)
    return exps / (total if logits.ndim == 2 and logits.shape[0] == logits.shape[1] else total.unsqueeze(dim))


@SOFTMAX.wrong("keep the input's dtype")
def to_float32(logits, dim=-1):
    return right_softmax(logits.float(), dim)


@SOFTMAX.wrong("about float32's precision")
def float32_inside(logits, dim=-1):
    return right_softmax(logits.float(), dim).to(logits.dtype)


@SOFTMAX.wrong("changed the logits it was given")
def in_place(logits, dim=-1):
    logits -= logits.amax(dim=dim, keepdim=True)
    exps = logits.exp()
    return exps / exps.sum(dim=dim, keepdim=True)


@SOFTMAX.wrong("x - logsumexp(x) subtracts logsumexp(x) = 1001.3133")
def exp_minus_logsumexp(logits, dim=-1):
    return torch.exp(logits - torch.logsumexp(logits, dim=dim, keepdim=True))


def mask_ignored_max(logits, dim=-1):  # the masked entries replaced by 0 before the max: a 0 can beat the row
    filled = torch.nan_to_num(logits, neginf=0.0)
    exps = torch.exp(filled - filled.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


SOFTMAX.wrong("runs a softmax", calls_torch=lambda logits, dim=-1: torch.softmax(logits, dim=dim),
              calls_tensor_method=lambda logits, dim=-1: logits.softmax(dim),
              calls_module=lambda logits, dim=-1: torch.nn.Softmax(dim=dim)(logits),
              calls_functional=lambda logits, dim=-1: F.softmax(logits, dim))
SOFTMAX.wrong("runs a log-softmax", exp_of_log_softmax=lambda logits, dim=-1: torch.log_softmax(logits, dim).exp())
SOFTMAX.wrong("a -inf logit must give probability 0", mask_ignored=mask_ignored_max)


def test_softmax_feedback_shows_the_difference():
    """exp(x - logsumexp(x)) used to get 'should be [0.2689, 0.7311]; yours is [0.2689, 0.7311]'."""
    message = helpers.check.my_stable_softmax.outcome(exp_minus_logsumexp).message
    assert "off by" in message and "the bar is 1e-06" in message, message


def test_the_in_place_answer_is_refused_and_the_callers_tensor_is_checked():
    x = torch.tensor([1.0, 2.0])
    in_place(x.clone())
    assert helpers.check.my_stable_softmax.outcome(in_place).status == WRONG


# --- my_log_softmax -------------------------------------------------------------------------------

LOG = Answers(helpers.check.my_log_softmax)


def right_log_softmax(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def right_log_softmax_logsumexp(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.logsumexp(shifted, dim=dim, keepdim=True)


def right_log_softmax_split(logits, dim=-1):
    m = logits.max(dim, keepdim=True).values
    return (logits - m) - (logits - m).exp().sum(dim, keepdim=True).log()


LOG.right(explicit=right_log_softmax, logsumexp_on_shifted=right_log_softmax_logsumexp,
          max_values=right_log_softmax_split)


@LOG.wrong("x - logsumexp(x) subtracts logsumexp(x)")
def x_minus_logsumexp(logits, dim=-1):  # right on paper, but loses float32 digits for logits near 1000
    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)


@LOG.wrong("log(0) = -inf")
def log_of_softmax(logits, dim=-1):
    return torch.log(right_softmax(logits, dim))


@LOG.wrong("exp(1000) overflows float32")
def naive_lse(logits, dim=-1):
    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))


@LOG.wrong("off by the row's maximum")
def shift_forgotten_outside(logits, dim=-1):
    m = logits.amax(dim=dim, keepdim=True)
    return logits - torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))


def log_global_max(logits, dim=-1):
    shifted = logits - logits.max()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def log_sum_of_everything(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum())


def log_shift_when_needed(logits, dim=-1):
    if logits.max() > 88:
        return right_log_softmax(logits, dim)
    return naive_lse(logits, dim)


def log_lse_no_keepdim(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.logsumexp(shifted, dim=dim)


LOG.wrong("maximum of the whole tensor", global_max=log_global_max)
LOG.wrong("adds up the exps of the whole tensor", sum_of_everything=log_sum_of_everything)
LOG.wrong("subtract it always", shift_when_needed=log_shift_when_needed)
LOG.wrong("keepdim=True", lse_no_keepdim=log_lse_no_keepdim)
LOG.wrong("runs a log-softmax", calls_torch=lambda logits, dim=-1: torch.log_softmax(logits, dim=dim),
          calls_cross_entropy_route=lambda logits, dim=-1: F.log_softmax(logits, dim))
LOG.wrong("keep the input's dtype", to_float64=lambda logits, dim=-1: right_log_softmax(logits.double(), dim))


# --- every answer gets its verdict ---------------------------------------------------------------

CASES = THRESHOLD.cases + SOFTMAX.cases + LOG.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()
