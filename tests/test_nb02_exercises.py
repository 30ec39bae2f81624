"""Mutation tests of notebook 02's exercise checks: typical wrong answers get their own message.

Right answers in several styles pass (Tensor.unfold, F.unfold's im2col, einsum); the nbgrader stub
is "not done".
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mutation import Answers

import helpers

# --- my_convolve2d_unfold ---------------------------------------------------------------------------

UNFOLD = Answers(helpers.check.my_convolve2d_unfold)


@UNFOLD.right
def right_unfold(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).sum(dim=(-2, -1))


@UNFOLD.right
def right_im2col(image, kernel):  # F.unfold: the convolution-as-matrix-product of notebook 03
    kh, kw = kernel.shape
    H, W = image.shape
    columns = F.unfold(image[None, None], (kh, kw))[0]          # (kh*kw, number of windows)
    return (kernel.reshape(1, -1) @ columns).reshape(H - kh + 1, W - kw + 1)


@UNFOLD.right
def right_einsum(image, kernel):
    windows = image.unfold(0, kernel.shape[0], 1).unfold(1, kernel.shape[1], 1)
    return torch.einsum("ijkl,kl->ij", windows, kernel)


@UNFOLD.right
def right_nn_unfold(image, kernel):
    kh, kw = kernel.shape
    cols = torch.nn.Unfold((kh, kw))(image[None, None])[0]
    return (cols * kernel.reshape(-1, 1)).sum(0).reshape(image.shape[0] - kh + 1, image.shape[1] - kw + 1)


@UNFOLD.wrong("the TRUE convolution (the kernel flipped)")
def flipped(image, kernel):
    return right_unfold(image, kernel.flip(0, 1))


@UNFOLD.wrong("kernel transposed")
def transposed(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel.T).sum(dim=(-2, -1)) if kh == kw else \
        right_unfold(image, kernel)


def same_size_both_axes(image, kernel):
    kh, _ = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kh, 1) * kernel).sum(dim=(-2, -1))


def window_steps(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, kh).unfold(1, kw, kw) * kernel).sum(dim=(-2, -1))


@UNFOLD.wrong("loops over the image in Python")
def loops(image, kernel):
    kh, kw = kernel.shape
    H, W = image.shape
    return torch.tensor([[float((image[i:i + kh, j:j + kw] * kernel).sum()) for j in range(W - kw + 1)]
                         for i in range(H - kh + 1)], dtype=image.dtype)


@UNFOLD.wrong("then loop over them in Python")
def unfold_then_loop(image, kernel):
    kh, kw = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kw, 1)
    return torch.stack([(row * kernel).sum(dim=(-2, -1)) for row in windows])


@UNFOLD.wrong("never builds the windows with unfold")
def shifted_slices(image, kernel):  # vectorised, but not with unfold
    kh, kw = kernel.shape
    H, W = image.shape
    return sum(kernel[u, v] * image[u:u + H - kh + 1, v:v + W - kw + 1] for u in range(kh) for v in range(kw))


def with_conv2d(image, kernel):
    image.unfold(0, 1, 1)
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def with_nn_conv(image, kernel):
    conv = torch.nn.Conv2d(1, 1, tuple(kernel.shape), bias=False).to(image.dtype)
    conv.weight.data = kernel[None, None].clone()
    return conv(image[None, None])[0, 0].detach()


def as_float32(image, kernel):
    return right_unfold(image.float(), kernel.float())


@UNFOLD.wrong("only one of the window's two axes")
def one_axis_summed(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).sum(dim=-1)


@UNFOLD.wrong("that is a padded ('same') output")
def padded_same(image, kernel):
    kh, kw = kernel.shape
    padded = F.pad(image, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    return right_unfold(padded, kernel)


@UNFOLD.wrong("MEAN of each window")
def mean_of_window(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).mean(dim=(-2, -1))


@UNFOLD.wrong("without multiplying them by the kernel's weights")
def no_multiply(image, kernel):
    kh, kw = kernel.shape
    return image.unfold(0, kh, 1).unfold(1, kw, 1).sum(dim=(-2, -1))


def im2col_reshape_swapped(image, kernel):
    kh, kw = kernel.shape
    H, W = image.shape
    columns = F.unfold(image[None, None], (kh, kw))[0]
    return (kernel.reshape(1, -1) @ columns).reshape(W - kw + 1, H - kh + 1)


def uses_view(image, kernel):
    kh, kw = kernel.shape
    windows = image.view(image.shape).unfold(0, kh, 1).unfold(1, kw, 1)
    flat = windows.reshape(-1, kh * kw) @ kernel.view(-1)
    return flat.view(image.shape[0] - kh + 1, -1) if image.is_contiguous() else image.view(-1)[:0]


UNFOLD.wrong("the windows must be kh×kw, like the kernel", kh_for_both=same_size_both_axes)
UNFOLD.wrong("step 1", step_k=window_steps)
UNFOLD.wrong("runs a convolution", conv2d=with_conv2d, nn_conv2d=with_nn_conv)
UNFOLD.wrong("keep the dtype", float32=as_float32)
UNFOLD.wrong("rows and columns are swapped", reshape_swapped=im2col_reshape_swapped)
UNFOLD.wrong(".view() needs contiguous memory", view_on_a_slice=uses_view)
UNFOLD.wrong("another shape", squeezed=lambda image, kernel: right_unfold(image, kernel).squeeze(),
             flattened=lambda image, kernel: right_unfold(image, kernel).flatten())


def test_the_tracer_and_the_operator_log_are_gone_after_a_check():
    import sys

    from torch.utils._python_dispatch import _get_current_dispatch_mode
    before = sys.gettrace()
    helpers.check.my_convolve2d_unfold.outcome(with_conv2d)
    helpers.check.my_convolve2d_unfold.outcome(right_unfold)
    assert sys.gettrace() is before and _get_current_dispatch_mode() is None


# --- vertical_edge_kernel ---------------------------------------------------------------------------

EDGE = Answers(helpers.check.vertical_edge_kernel)


def right_kernel():
    return torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


EDGE.right(left_sobel=right_kernel, right_sobel_normalised=lambda: -right_kernel() / 8,
           prewitt_ints=lambda: torch.tensor([[1, 0, -1]] * 3),
           middle_row_only=lambda: torch.tensor([[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]),
           forward_difference=lambda: torch.tensor([[1.0, -1.0, 0.0]] * 3),
           float64_scharr=lambda: torch.tensor([[3.0, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=torch.float64))

EDGE.wrong("finds HORIZONTAL edges", horizontal=lambda: right_kernel().T)
EDGE.wrong("also answers a horizontal edge",
           outline=lambda: torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]))
EDGE.wrong("weights must sum to 0", emboss=lambda: torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]]))
EDGE.wrong("also answers a horizontal edge", diagonal=lambda: torch.tensor([[0.0, 1, 2], [-1, 0, 1], [-2, -1, 0]]))
EDGE.wrong("weights must sum to 0", sum_not_zero=lambda: torch.tensor([[1.0, 0, -1], [1, 1, -1], [1, 0, -1]]))
EDGE.wrong("all zeros", zeros=lambda: torch.zeros(3, 3))
EDGE.wrong("return a 3×3 kernel", vector_1d=lambda: torch.tensor([1.0, 0.0, -1.0]))
EDGE.wrong("return a 3×3 tensor", list=lambda: [[1, 0, -1]] * 3)
EDGE.wrong("return a 3×3 tensor", numpy=lambda: np.array([[1.0, 0, -1]] * 3))
EDGE.wrong("conv weight of shape (1, 1, 3, 3)", conv_weight=lambda: right_kernel()[None, None])
EDGE.wrong("weights must sum to 0", sharpen=lambda: torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]))


# --- my_output_size ---------------------------------------------------------------------------------

SIZE = Answers(helpers.check.my_output_size)


def right_size(n, k, p=0, s=1):
    return (n + 2 * p - k) // s + 1


SIZE.right(floor_division=right_size, int_of_true_division=lambda n, k, p=0, s=1: int((n + 2 * p - k) / s) + 1,
           range_count=lambda n, k, p=0, s=1: len(range(0, n + 2 * p - k + 1, s)),
           plus_s_inside=lambda n, k, p=0, s=1: (n + 2 * p - k + s) // s,
           numpy_integer=lambda n, k, p=0, s=1: np.floor_divide(n + 2 * p - k, s) + 1)

SIZE.wrong("return a whole number", true_division=lambda n, k, p=0, s=1: (n + 2 * p - k) / s + 1)
SIZE.wrong("off by one", no_plus_one=lambda n, k, p=0, s=1: (n + 2 * p - k) // s)
SIZE.wrong("on BOTH sides", padding_once=lambda n, k, p=0, s=1: (n + p - k) // s + 1)
SIZE.wrong("the stride is missing", no_stride=lambda n, k, p=0, s=1: n + 2 * p - k + 1)
SIZE.wrong("add the 1 after dividing", plus_one_inside=lambda n, k, p=0, s=1: (n + 2 * p - k + 1) // s)
SIZE.wrong("that is the ceiling", ceiling=lambda n, k, p=0, s=1: -(-(n + 2 * p - k) // s) + 1)
SIZE.wrong("the padding is missing", no_padding=lambda n, k, p=0, s=1: (n - k) // s + 1)
SIZE.wrong("padding and stride are both missing", neither=lambda n, k, p=0, s=1: n - k + 1)
SIZE.wrong("round() goes to the NEAREST", round=lambda n, k, p=0, s=1: round((n + 2 * p - k) / s) + 1)
SIZE.wrong("return an int", float_result=lambda n, k, p=0, s=1: float((n + 2 * p - k) // s + 1))
SIZE.wrong("F.conv2d gives 28 pixels, you said 26",
           numbers_written_in=lambda n, k, p=0, s=1: 26 if (n, k) == (28, 3) else (n + 2 * p - k) // s + 1)


@SIZE.wrong("keep the defaults")
def defaults_changed(n, k, p=1, s=1):  # the signature's defaults edited: only a call without p and s shows it
    return (n + 2 * p - k) // s + 1



# --- every answer gets its verdict ------------------------------------------------------------------

CASES = UNFOLD.cases + EDGE.cases + SIZE.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()
