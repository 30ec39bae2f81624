"""Mutation tests of notebook 01's exercise checks: typical wrong answers get their own message.

Each wrong answer below is a mistake learners make when they write softmax by hand; the check must
name it. The right answers pass; the nbgrader stub is "not done".
"""
import math

import pytest
import torch

import helpers
import helpers.check  # noqa: F401  (helpers.check.<name>)
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args, **kwargs):
    raise NotImplementedError()


# --- overflow_threshold ---------------------------------------------------------------------------

def right_threshold(dtype):
    return math.log(torch.finfo(dtype).max)


@pytest.mark.parametrize("answer, words", [
    (lambda dtype: torch.finfo(dtype).max, "the largest float32 itself"),
    (lambda dtype: math.log10(torch.finfo(dtype).max), "natural log, math.log(...), not math.log10"),
    (lambda dtype: math.log2(torch.finfo(dtype).max), "log2 of the largest float32"),
    (lambda dtype: 88.72, "same number for every dtype"),
    (lambda dtype: math.log(torch.finfo(torch.float16).max) if dtype == torch.float16 else 88.0,
     "for float32 you returned 88"),
    (lambda dtype: str(dtype), "return a number"),
], ids=["largest_value", "log10", "log2", "float32_for_all", "off_by_a_bit", "string"])
def test_overflow_threshold_mistakes_get_their_message(answer, words):
    result = helpers.check.overflow_threshold.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# --- my_stable_softmax ----------------------------------------------------------------------------

def right_softmax(logits, dim=-1):
    exps = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


def naive(logits, dim=-1):
    exps = torch.exp(logits)
    return exps / exps.sum(dim=dim, keepdim=True)


def mean_shift(logits, dim=-1):
    exps = torch.exp(logits - logits.mean(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


def global_max(logits, dim=-1):
    exps = torch.exp(logits - logits.max())
    return exps / exps.sum(dim=dim, keepdim=True)


def sum_of_everything(logits, dim=-1):
    exps = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return exps / exps.sum()


def ignores_dim(logits, dim=-1):
    exps = torch.exp(logits - logits.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1, keepdim=True)


def no_keepdim(logits, dim=-1):
    exps = torch.exp(logits - logits.amax(dim=dim))
    return exps / exps.sum(dim=dim, keepdim=True)


def to_float32(logits, dim=-1):
    return right_softmax(logits.float(), dim)


def calls_torch(logits, dim=-1):
    return torch.softmax(logits, dim=dim)


def calls_tensor_method(logits, dim=-1):
    return logits.softmax(dim)


def mask_ignored_max(logits, dim=-1):  # the masked entries replaced by 0 before the max: a 0 can beat the row
    filled = torch.nan_to_num(logits, neginf=0.0)
    exps = torch.exp(filled - filled.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


@pytest.mark.parametrize("answer, words", [
    (naive, "exp(1000) overflows float32"),
    (mean_shift, "subtracting the mean or the minimum"),
    (global_max, "maximum of the whole tensor"),
    (sum_of_everything, "not by the sum of the whole tensor"),
    (ignores_dim, "use the `dim` argument"),
    (no_keepdim, "keepdim=True"),
    (to_float32, "keep the input's dtype"),
    (calls_torch, "calls torch.softmax"),
    (calls_tensor_method, "calls Tensor.softmax"),
    (mask_ignored_max, "a -inf logit must give probability 0"),
], ids=["naive", "mean_shift", "global_max", "sum_of_everything", "ignores_dim", "no_keepdim", "to_float32",
        "calls_torch", "calls_tensor_method", "mask_ignored"])
def test_my_stable_softmax_mistakes_get_their_message(answer, words):
    result = helpers.check.my_stable_softmax.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def test_forbidden_functions_are_restored_after_a_check():
    original = torch.softmax, torch.Tensor.softmax
    helpers.check.my_stable_softmax.outcome(calls_torch)
    assert (torch.softmax, torch.Tensor.softmax) == original


# --- my_log_softmax -------------------------------------------------------------------------------

def right_log_softmax(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def right_with_logsumexp(logits, dim=-1):  # right on paper, but loses float32 digits for logits near 1000
    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)


def log_of_softmax(logits, dim=-1):
    return torch.log(right_softmax(logits, dim))


def naive_lse(logits, dim=-1):
    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))


def shift_forgotten_outside(logits, dim=-1):
    m = logits.amax(dim=dim, keepdim=True)
    return logits - torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))


def log_global_max(logits, dim=-1):
    shifted = logits - logits.max()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


@pytest.mark.parametrize("answer, words", [
    (log_of_softmax, "log(0) = -inf"),
    (naive_lse, "exp(1000) overflows float32"),
    (shift_forgotten_outside, "off by the row's maximum"),
    (right_with_logsumexp, "x - logsumexp(x) subtracts two numbers near 1000"),
    (log_global_max, "maximum of the whole tensor"),
    (lambda logits, dim=-1: torch.log_softmax(logits, dim=dim), "calls torch.log_softmax"),
    (lambda logits, dim=-1: right_log_softmax(logits.double(), dim), "keep the input's dtype"),
], ids=["log_of_softmax", "naive_lse", "shift_forgotten_outside", "x_minus_logsumexp", "global_max", "calls_torch",
        "to_float64"])
def test_my_log_softmax_mistakes_get_their_message(answer, words):
    result = helpers.check.my_log_softmax.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("check, right", [
    (helpers.check.overflow_threshold, right_threshold),
    (helpers.check.my_stable_softmax, right_softmax),
    (helpers.check.my_log_softmax, right_log_softmax),
], ids=["overflow_threshold", "my_stable_softmax", "my_log_softmax"])
def test_right_answers_pass_and_stubs_are_not_done(check, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line
    assert check.outcome(stub).status == NOT_DONE
