"""Mutation tests of notebook 02's exercise checks: typical wrong answers get their own message.

The right answers pass; the nbgrader stub is "not done".
"""
import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args, **kwargs):
    raise NotImplementedError()


# --- my_convolve2d_unfold -------------------------------------------------------------------------

def right_unfold(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).sum(dim=(-2, -1))


def flipped(image, kernel):
    return right_unfold(image, kernel.flip(0, 1))


def transposed(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel.T).sum(dim=(-2, -1)) if kh == kw else \
        right_unfold(image, kernel)


def same_size_both_axes(image, kernel):
    kh, _ = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kh, 1)
    return (windows * kernel).sum(dim=(-2, -1))


def window_steps(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, kh).unfold(1, kw, kw) * kernel).sum(dim=(-2, -1))


def loops(image, kernel):
    kh, kw = kernel.shape
    H, W = image.shape
    return torch.tensor([[float((image[i:i + kh, j:j + kw] * kernel).sum()) for j in range(W - kw + 1)]
                         for i in range(H - kh + 1)], dtype=image.dtype)


def with_conv2d(image, kernel):
    image.unfold(0, 1, 1)
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def as_float32(image, kernel):
    return right_unfold(image.float(), kernel.float())


@pytest.mark.parametrize("answer, words", [
    (flipped, "the TRUE convolution (the kernel flipped)"),
    (transposed, "kernel transposed"),
    (same_size_both_axes, "unfold the rows (dim 0) by kh and the columns (dim 1) by kw, so that each window"),
    (window_steps, "with step 1"),
    (loops, "never calls Tensor.unfold"),
    (with_conv2d, "calls F.conv2d"),
    (as_float32, "keep the dtype"),
], ids=["flipped", "transposed", "kh_for_both", "step_k", "loops", "conv2d", "float32"])
def test_my_convolve2d_unfold_mistakes_get_their_message(answer, words):
    result = helpers.check.my_convolve2d_unfold.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def test_the_watched_functions_are_restored():
    before = torch.Tensor.unfold, F.conv2d, torch.conv2d
    helpers.check.my_convolve2d_unfold.outcome(with_conv2d)
    assert (torch.Tensor.unfold, F.conv2d, torch.conv2d) == before


# --- my_output_size -------------------------------------------------------------------------------

def right_size(n, k, p=0, s=1):
    return (n + 2 * p - k) // s + 1


@pytest.mark.parametrize("answer, words", [
    (lambda n, k, p=0, s=1: (n + 2 * p - k) / s + 1, "floor division"),
    (lambda n, k, p=0, s=1: (n + 2 * p - k) // s, "off by one"),
    (lambda n, k, p=0, s=1: (n + p - k) // s + 1, "on BOTH sides"),
    (lambda n, k, p=0, s=1: n + 2 * p - k + 1, "the stride is missing"),
    (lambda n, k, p=0, s=1: (n + 2 * p - k + 1) // s, "add the 1 after dividing"),
    (lambda n, k, p=0, s=1: -(-(n + 2 * p - k) // s) + 1, "that is the ceiling"),
    (lambda n, k, p=0, s=1: (n - k) // s + 1, "F.conv2d gives 28 pixels, you said 26"),
], ids=["true_division", "no_plus_one", "padding_once", "no_stride", "plus_one_inside", "ceiling", "no_padding"])
def test_my_output_size_mistakes_get_their_message(answer, words):
    result = helpers.check.my_output_size.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# --- vertical_edge_kernel -------------------------------------------------------------------------

def right_kernel():
    return torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


@pytest.mark.parametrize("answer, words", [
    (lambda: right_kernel().T, "finds HORIZONTAL edges"),
    (lambda: torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]), "also answers a horizontal edge"),
    (lambda: torch.tensor([[1.0, 0, -1], [1, 1, -1], [1, 0, -1]]), "weights must sum to 0"),
    (lambda: torch.zeros(3, 3), "should answer that edge clearly"),
    (lambda: torch.tensor([1.0, 0.0, -1.0]), "return a 3×3 kernel"),
    (lambda: [[1, 0, -1]] * 3, "return a 3×3 tensor"),
], ids=["horizontal", "outline", "sum_not_zero", "zeros", "1d", "list"])
def test_vertical_edge_kernel_mistakes_get_their_message(answer, words):
    result = helpers.check.vertical_edge_kernel.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("check, right", [
    (helpers.check.my_convolve2d_unfold, right_unfold),
    (helpers.check.my_output_size, right_size),
    (helpers.check.vertical_edge_kernel, right_kernel),
    (helpers.check.vertical_edge_kernel, lambda: torch.tensor([[0.0, 0, 0], [1, 0, -1], [0, 0, 0]]) * -1),
], ids=["unfold", "output_size", "left_sobel", "middle_row_only"])
def test_right_answers_pass_and_stubs_are_not_done(check, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line
    assert check.outcome(stub).status == NOT_DONE
