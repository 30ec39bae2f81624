"""Mutation tests of notebook 02's exercise checks: typical wrong answers get their own message.

Right answers in several styles pass (Tensor.unfold, F.unfold's im2col, einsum); the nbgrader stub
is "not done".
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args, **kwargs):
    raise NotImplementedError()


def wrong(check, answer, words):
    result = check.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


# --- my_convolve2d_unfold ---------------------------------------------------------------------------

def right_unfold(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).sum(dim=(-2, -1))


def right_im2col(image, kernel):  # F.unfold: the convolution-as-matrix-product of notebook 03
    kh, kw = kernel.shape
    H, W = image.shape
    columns = F.unfold(image[None, None], (kh, kw))[0]          # (kh*kw, number of windows)
    return (kernel.reshape(1, -1) @ columns).reshape(H - kh + 1, W - kw + 1)


def right_einsum(image, kernel):
    windows = image.unfold(0, kernel.shape[0], 1).unfold(1, kernel.shape[1], 1)
    return torch.einsum("ijkl,kl->ij", windows, kernel)


def right_nn_unfold(image, kernel):
    kh, kw = kernel.shape
    cols = torch.nn.Unfold((kh, kw))(image[None, None])[0]
    return (cols * kernel.reshape(-1, 1)).sum(0).reshape(image.shape[0] - kh + 1, image.shape[1] - kw + 1)


def flipped(image, kernel):
    return right_unfold(image, kernel.flip(0, 1))


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


def loops(image, kernel):
    kh, kw = kernel.shape
    H, W = image.shape
    return torch.tensor([[float((image[i:i + kh, j:j + kw] * kernel).sum()) for j in range(W - kw + 1)]
                         for i in range(H - kh + 1)], dtype=image.dtype)


def unfold_then_loop(image, kernel):
    kh, kw = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kw, 1)
    return torch.stack([(row * kernel).sum(dim=(-2, -1)) for row in windows])


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


def one_axis_summed(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).sum(dim=-1)


def padded_same(image, kernel):
    kh, kw = kernel.shape
    padded = F.pad(image, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    return right_unfold(padded, kernel)


def mean_of_window(image, kernel):
    kh, kw = kernel.shape
    return (image.unfold(0, kh, 1).unfold(1, kw, 1) * kernel).mean(dim=(-2, -1))


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


UNFOLD_WRONG = {
    "flipped": (flipped, "the TRUE convolution (the kernel flipped)"),
    "transposed": (transposed, "kernel transposed"),
    "kh_for_both": (same_size_both_axes, "the windows must be kh×kw, like the kernel"),
    "step_k": (window_steps, "step 1"),
    "loops": (loops, "loops over the image in Python"),
    "unfold_then_loop": (unfold_then_loop, "then loop over them in Python"),
    "shifted_slices": (shifted_slices, "never builds the windows with unfold"),
    "conv2d": (with_conv2d, "runs a convolution"),
    "nn_conv2d": (with_nn_conv, "runs a convolution"),
    "float32": (as_float32, "keep the dtype"),
    "one_axis_summed": (one_axis_summed, "only one of the window's two axes"),
    "padded_same": (padded_same, "that is a padded ('same') output"),
    "mean_of_window": (mean_of_window, "MEAN of each window"),
    "no_multiply": (no_multiply, "without multiplying them by the kernel's weights"),
    "reshape_swapped": (im2col_reshape_swapped, "rows and columns are swapped"),
    "view_on_a_slice": (uses_view, ".view() needs contiguous memory"),
    "squeezed": (lambda image, kernel: right_unfold(image, kernel).squeeze(), "another shape"),
    "flattened": (lambda image, kernel: right_unfold(image, kernel).flatten(), "another shape"),
}


@pytest.mark.parametrize("name", UNFOLD_WRONG)
def test_my_convolve2d_unfold_mistakes_get_their_message(name):
    wrong(helpers.check.my_convolve2d_unfold, *UNFOLD_WRONG[name])


def test_the_tracer_and_the_operator_log_are_gone_after_a_check():
    import sys

    from torch.utils._python_dispatch import _get_current_dispatch_mode
    before = sys.gettrace()
    helpers.check.my_convolve2d_unfold.outcome(with_conv2d)
    helpers.check.my_convolve2d_unfold.outcome(right_unfold)
    assert sys.gettrace() is before and _get_current_dispatch_mode() is None


# --- vertical_edge_kernel ---------------------------------------------------------------------------

def right_kernel():
    return torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


EDGE_RIGHT = {
    "left_sobel": right_kernel,
    "right_sobel_normalised": lambda: -right_kernel() / 8,
    "prewitt_ints": lambda: torch.tensor([[1, 0, -1]] * 3),
    "middle_row_only": lambda: torch.tensor([[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]),
    "forward_difference": lambda: torch.tensor([[1.0, -1.0, 0.0]] * 3),
    "float64_scharr": lambda: torch.tensor([[3.0, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=torch.float64),
}

EDGE_WRONG = {
    "horizontal": (lambda: right_kernel().T, "finds HORIZONTAL edges"),
    "outline": (lambda: torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]), "also answers a horizontal edge"),
    "emboss": (lambda: torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]]), "weights must sum to 0"),
    "diagonal": (lambda: torch.tensor([[0.0, 1, 2], [-1, 0, 1], [-2, -1, 0]]), "also answers a horizontal edge"),
    "sum_not_zero": (lambda: torch.tensor([[1.0, 0, -1], [1, 1, -1], [1, 0, -1]]), "weights must sum to 0"),
    "zeros": (lambda: torch.zeros(3, 3), "all zeros"),
    "1d": (lambda: torch.tensor([1.0, 0.0, -1.0]), "return a 3×3 kernel"),
    "list": (lambda: [[1, 0, -1]] * 3, "return a 3×3 tensor"),
    "numpy": (lambda: np.array([[1.0, 0, -1]] * 3), "return a 3×3 tensor"),
    "conv_weight": (lambda: right_kernel()[None, None], "conv weight of shape (1, 1, 3, 3)"),
    "sharpen": (lambda: torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]), "weights must sum to 0"),
}


@pytest.mark.parametrize("name", EDGE_WRONG)
def test_vertical_edge_kernel_mistakes_get_their_message(name):
    wrong(helpers.check.vertical_edge_kernel, *EDGE_WRONG[name])


# --- my_output_size ---------------------------------------------------------------------------------

def right_size(n, k, p=0, s=1):
    return (n + 2 * p - k) // s + 1


SIZE_RIGHT = {
    "floor_division": right_size,
    "int_of_true_division": lambda n, k, p=0, s=1: int((n + 2 * p - k) / s) + 1,
    "range_count": lambda n, k, p=0, s=1: len(range(0, n + 2 * p - k + 1, s)),
    "plus_s_inside": lambda n, k, p=0, s=1: (n + 2 * p - k + s) // s,
    "numpy_integer": lambda n, k, p=0, s=1: np.floor_divide(n + 2 * p - k, s) + 1,
}

SIZE_WRONG = {
    "true_division": (lambda n, k, p=0, s=1: (n + 2 * p - k) / s + 1, "return a whole number"),
    "no_plus_one": (lambda n, k, p=0, s=1: (n + 2 * p - k) // s, "off by one"),
    "padding_once": (lambda n, k, p=0, s=1: (n + p - k) // s + 1, "on BOTH sides"),
    "no_stride": (lambda n, k, p=0, s=1: n + 2 * p - k + 1, "the stride is missing"),
    "plus_one_inside": (lambda n, k, p=0, s=1: (n + 2 * p - k + 1) // s, "add the 1 after dividing"),
    "ceiling": (lambda n, k, p=0, s=1: -(-(n + 2 * p - k) // s) + 1, "that is the ceiling"),
    "no_padding": (lambda n, k, p=0, s=1: (n - k) // s + 1, "the padding is missing"),
    "neither": (lambda n, k, p=0, s=1: n - k + 1, "padding and stride are both missing"),
    "round": (lambda n, k, p=0, s=1: round((n + 2 * p - k) / s) + 1, "round() goes to the NEAREST"),
    "float_result": (lambda n, k, p=0, s=1: float((n + 2 * p - k) // s + 1), "return an int"),
    "numbers_written_in": (lambda n, k, p=0, s=1: 26 if (n, k) == (28, 3) else (n + 2 * p - k) // s + 1,
                           "F.conv2d gives 28 pixels, you said 26"),
    "defaults_changed": (lambda n, k, p=1, s=1: (n + 2 * p - k) // s + 1, "keep the defaults"),
}


@pytest.mark.parametrize("name", SIZE_WRONG)
def test_my_output_size_mistakes_get_their_message(name):
    answer, words = SIZE_WRONG[name]
    if name == "defaults_changed":
        def answer(n, k, p=1, s=1):  # the signature's defaults edited: only a call without p and s shows it
            return (n + 2 * p - k) // s + 1
    wrong(helpers.check.my_output_size, answer, words)


# --- right answers pass, stubs are not done ---------------------------------------------------------

RIGHT = ([(helpers.check.my_convolve2d_unfold, f"unfold-{f.__name__}", f)
          for f in (right_unfold, right_im2col, right_einsum, right_nn_unfold)]
         + [(helpers.check.vertical_edge_kernel, f"edge-{k}", f) for k, f in EDGE_RIGHT.items()]
         + [(helpers.check.my_output_size, f"size-{k}", f) for k, f in SIZE_RIGHT.items()])


@pytest.mark.parametrize("check, label, right", RIGHT, ids=[label for _, label, _ in RIGHT])
def test_right_answers_pass(check, label, right):
    assert check.outcome(right).status == PASSED, check.outcome(right).line


@pytest.mark.parametrize("check", [helpers.check.my_convolve2d_unfold, helpers.check.vertical_edge_kernel,
                                   helpers.check.my_output_size], ids=lambda c: c.name)
def test_stubs_are_not_done(check):
    assert check.outcome(stub).status == NOT_DONE
