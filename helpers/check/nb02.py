"""Checks for notebook 02's exercises: convolution with ``unfold``, the output-size formula, a
vertical-edge kernel. References: ``F.conv2d`` in float64, and synthetic images whose right
answer is known; the same inputs give the same verdict on every machine."""
from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..exercises import Wrong, exercise, expect, operators_called

__all__ = ["my_convolve2d_unfold", "my_output_size", "vertical_edge_kernel"]

TOL = 1e-10  # float64: only the order of the additions may differ


WINDOW_OPERATORS = {"unfold", "im2col"}   # Tensor.unfold; F.unfold and nn.Unfold (im2col)
CONVOLUTION_OPERATORS = {"convolution", "_convolution", "conv2d"}   # F.conv2d, torch.conv2d, nn.Conv2d, ...
_LIBRARY = tuple(sorted({p for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(
    __file__))) if len(p) > 1}))   # Python's, PyTorch's and helpers' own code: not the learner's lines


def _learner_steps(call: Callable[[], object]) -> tuple[object, int]:
    """Return (call(), the number of lines run in code outside Python, PyTorch and helpers): the learner's steps."""
    steps = 0

    def local(frame, event, arg):
        nonlocal steps
        if event == "line":
            steps += 1
        return local

    def on_call(frame, event, arg):
        nonlocal steps
        filename = frame.f_code.co_filename
        if filename.startswith(_LIBRARY) or filename.startswith("<frozen"):
            return None
        steps += 1
        return local

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        return call(), steps
    finally:
        sys.settrace(previous)


def _reference(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def _run_unfold(answer: Callable, image: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, list[str], int]:
    kh, kw = kernel.shape
    with operators_called() as ops:
        try:
            given = image.clone() if image.is_contiguous() else image   # a slice stays a slice
            out, steps = _learner_steps(lambda: answer(given, kernel.clone()))
        except RuntimeError as exc:
            text = (str(exc).splitlines() or [""])[0]
            if "view size is not compatible" in text:
                raise Wrong("your function fails on an image that is a slice of a bigger one (not contiguous in "
                            "memory, like the notebook's `small`): .view() needs contiguous memory; use .reshape()"
                            ) from None
            if "must match the size" not in text:
                raise
            raise Wrong(f"with a {kh}×{kw} kernel the windows and the kernel do not line up ({text[:70]}): "
                        "the windows must be kh×kw, like the kernel: kh along the rows, kw along the columns"
                        ) from None
    return out, ops, steps


def _loops_over_pixels(answer: Callable) -> bool:
    """Whether the learner's code runs more lines for a 14×14 image than for a 6×6 one (same 3×3 kernel)."""
    small, big, kernel = (torch.zeros(n, n, dtype=torch.float64) for n in (6, 14, 3))
    return _learner_steps(lambda: answer(big, kernel))[1] > _learner_steps(lambda: answer(small, kernel))[1] + 2


def _unfold_shape_problem(out: torch.Tensor, image: torch.Tensor, kernel: torch.Tensor) -> str:
    (H, W), (kh, kw) = image.shape, kernel.shape
    want = (H - kh + 1, W - kw + 1)
    got = tuple(out.shape)
    size = f"a {H}×{W} image and a {kh}×{kw} kernel should give a {want[0]}×{want[1]} output, yours has shape {got}"
    if got[:2] == want and len(got) > 2:
        return f"{size}: you summed over only one of the window's two axes; sum over both, dim=(-2, -1)"
    if got == (H, W):
        return f"{size}, the image's own size: that is a padded ('same') output; 'valid' means no padding"
    if got == want[::-1] and want[0] != want[1]:
        return f"{size}: rows and columns are swapped (check the order of your reshape, or a stray transpose)"
    if len(got) == 2 and got[0] < want[0] and got[1] < want[1]:
        return f"{size}: the windows do not overlap; a window moves one pixel at a time (step 1), not a kernel width"
    if out.numel() == want[0] * want[1]:
        return f"{size}: the right number of values in another shape; return them as rows × columns (no squeeze)"
    return f"{size}: unfold the rows by kh and the columns by kw with step 1, then sum over the window's two axes"


@exercise
def my_convolve2d_unfold(answer) -> str:
    """``answer(image, kernel)`` must return F.conv2d's 'valid' cross-correlation of 2-D tensors, built with unfold."""
    gen = torch.Generator().manual_seed(0)
    cases = [((6, 6), (3, 3)), ((7, 9), (2, 5)), ((9, 6), (4, 1)), ((5, 4), (5, 4)), ((8, 8), (1, 1)),
             ((10, 12), (3, 2))]
    loops = None
    for (H, W), (kh, kw) in cases:
        image = torch.randn(H, W, generator=gen, dtype=torch.float64)
        kernel = torch.randn(kh, kw, generator=gen, dtype=torch.float64)
        out, ops, _ = _run_unfold(answer, image, kernel)
        expect(not CONVOLUTION_OPERATORS & set(ops), "your function runs a convolution (F.conv2d, torch.conv2d or "
                                                     "nn.Conv2d): the exercise is to do what it does, with unfold")
        if loops is None:  # once: does the learner's code run more lines for a bigger image?
            loops = _loops_over_pixels(answer)
        if not WINDOW_OPERATORS & set(ops):
            if loops:
                raise Wrong("your function loops over the image in Python (it runs more lines for a bigger image): "
                            "that is the slow version above. Build all windows at once with unfold")
            raise Wrong("your function never builds the windows with unfold (Tensor.unfold, or F.unfold's "
                        "im2col): that is what this exercise practises")
        expect(not loops, "you build the windows with unfold, then loop over them in Python (your function runs "
                          "more lines for a bigger image): multiply all windows by the kernel at once and sum")
        expect(isinstance(out, torch.Tensor), f"return a tensor; your function returned {type(out).__name__}")
        expect(out.dtype == image.dtype, f"a {image.dtype} image came back as {out.dtype}: keep the dtype")
        want = _reference(image, kernel)
        if tuple(out.shape) != tuple(want.shape):
            raise Wrong(_unfold_shape_problem(out, image, kernel))
        if torch.allclose(out, want, atol=TOL):
            continue
        if torch.allclose(out, _reference(image, kernel.flip(0, 1)), atol=TOL):
            raise Wrong("your result is the TRUE convolution (the kernel flipped). PyTorch's 'convolution', and this "
                        "notebook's, is cross-correlation: multiply each window by the kernel as it is")
        if kh == kw and torch.allclose(out, _reference(image, kernel.T), atol=TOL):
            raise Wrong("your result uses the kernel transposed: the windows' axes are (kh, kw), the kernel's too, "
                        "so multiply by `kernel`, not kernel.T")
        if torch.allclose(out * (kh * kw), want, atol=TOL):
            raise Wrong("your result is the kernel-weighted MEAN of each window (the sum divided by kh·kw): a "
                        "convolution sums the products")
        if torch.allclose(out, _reference(image, torch.ones_like(kernel)), atol=TOL):
            raise Wrong("your result sums each window's pixels without multiplying them by the kernel's weights")
        gap = float((out - want).abs().max())
        raise Wrong(f"for a {H}×{W} image and a {kh}×{kw} kernel your output differs from F.conv2d by {gap:.2e} "
                    f"(float64 should agree to {TOL:g}); at the top left you have {float(out[0, 0]):.6f}, F.conv2d "
                    f"{float(want[0, 0]):.6f}")
    sliced = torch.randn(12, 12, generator=gen)[1:9:1, 2:11]       # a non-contiguous float32 view, as in the notebook
    kernel = torch.randn(3, 3, generator=gen)
    out, _, _ = _run_unfold(answer, sliced, kernel)
    expect(isinstance(out, torch.Tensor) and out.dtype == torch.float32,
           f"a float32 image came back as {getattr(out, 'dtype', type(out).__name__)}: keep the input's dtype")
    gap = float((out.double() - _reference(sliced.double(), kernel.double())).abs().max())
    expect(gap < 1e-5, f"on a float32 slice of a bigger image your output differs from F.conv2d by {gap:.2e} "
                       "(float32 should agree to 1e-5)")
    return ("equals F.conv2d in float64 for square and non-square kernels, a 1×1 kernel and a kernel as big as the "
            "image, and in float32 on a non-contiguous slice: all windows at once, multiplied by the kernel and summed")


_SIZE_CASES = [(28, 3, 0, 1), (28, 3, 1, 1), (28, 5, 2, 1), (28, 3, 1, 2), (28, 3, 0, 2), (224, 7, 3, 2),
               (32, 4, 1, 2), (10, 3, 0, 3), (7, 7, 0, 1), (11, 2, 0, 3), (9, 3, 2, 4), (13, 4, 1, 3), (6, 3, 2, 5)]
_SIZE_MISTAKES = [  # (wrong formula, what to say) - checked in this order; each differs from the right one
    (lambda n, k, p, s: (n + 2 * p - k) / s + 1, "return a whole number: a window that sticks out at the end "
                                                  "is dropped, so round the division down (floor division)"),
    (lambda n, k, p, s: (n + 2 * p - k) // s, "off by one: the first window position counts too"),
    (lambda n, k, p, s: (n + p - k) // s + 1, "padding p is added on BOTH sides: n + 2p pixels in all"),
    (lambda n, k, p, s: n + 2 * p - k + 1, "the stride is missing: the window jumps s pixels, so divide by s"),
    (lambda n, k, p, s: (n - k) // s + 1, "the padding is missing: with p pixels on each side the input is "
                                          "n + 2p long"),
    (lambda n, k, p, s: n - k + 1, "padding and stride are both missing: n - k + 1 holds only for p = 0, s = 1"),
    (lambda n, k, p, s: (n + 2 * p - k + 1) // s, "add the 1 after dividing by the stride, not before"),
    (lambda n, k, p, s: -(-(n + 2 * p - k) // s) + 1,
     "that is the ceiling: a window that would stick out at the end is dropped, so round down"),
    (lambda n, k, p, s: round((n + 2 * p - k) / s) + 1,
     "round() goes to the NEAREST whole number; a window that would stick out at the end is dropped, so round down"),
    (lambda n, k, p, s: (n + 2 * p - k) // s + 1 if s == 1 else (n + 2 * p) // s,
     "with a stride the kernel size still counts: the last window must fit entirely"),
]


@exercise
def my_output_size(answer) -> str:
    """``answer(n, k, p, s)`` must return F.conv2d's output length for input n, kernel k, padding p, stride s."""
    got = {}
    for n, k, p, s in _SIZE_CASES:
        got[n, k, p, s] = answer(n, k, p, s)
    for wrong, message in _SIZE_MISTAKES:
        if all(got[c] == wrong(*c) for c in _SIZE_CASES):
            raise Wrong(message)
    for (n, k, p, s), value in got.items():
        actual = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s).shape[-1]
        expect(isinstance(value, numbers.Integral) and not isinstance(value, bool),
               f"return an int; for n={n}, k={k}, p={p}, s={s} you returned {type(value).__name__} {value!r}")
        expect(value == actual, f"for n={n}, k={k}, p={p}, s={s} F.conv2d gives {actual} pixels, you said {value}: "
                                "count the positions where the window's first pixel can start (0, s, 2s, ...) with "
                                "the whole window inside the padded input")
    defaults = answer(28, 3)
    expect(defaults == 26, f"called with only n=28, k=3 (padding 0 and stride 1 by default) your function returned "
                           f"{defaults!r}, not 26: keep the defaults p=0, s=1 of the signature")
    keywords = answer(n=15, k=3, s=2, p=1)
    expect(keywords == 8, f"called as my_output_size(n=15, k=3, s=2, p=1) your function returned {keywords!r}, not 8: "
                          "read each argument by its name")
    return (f"matches F.conv2d's output length in all {len(_SIZE_CASES)} cases, strides and paddings included (windows "
            "that would stick out at the end dropped), with the defaults and with keyword arguments")


def _step_images() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    vertical = torch.zeros(8, 8)
    vertical[:, :4] = 1.0  # bright left half: a vertical edge between columns 3 and 4
    return vertical, vertical.T.clone(), torch.full((8, 8), 0.6)


@exercise
def vertical_edge_kernel(answer) -> str:
    """``answer()`` must return a 3×3 kernel: strong on a vertical edge, 0 on a horizontal edge and on flat areas."""
    kernel = answer()
    expect(isinstance(kernel, torch.Tensor), f"return a 3×3 tensor; your function returned {type(kernel).__name__}")
    expect(tuple(kernel.shape) != (1, 1, 3, 3), "you returned a conv weight of shape (1, 1, 3, 3): return the 3×3 "
                                                "kernel itself (the check adds the batch and channel axes)")
    expect(tuple(kernel.shape) == (3, 3), f"return a 3×3 kernel; yours has shape {tuple(kernel.shape)}")
    kernel = kernel.detach().double()
    scale = float(kernel.abs().max())
    expect(scale > 0, "your kernel is all zeros: it answers nothing, edges included")
    vertical, horizontal, flat = (x.double() for x in _step_images())
    v, h, f = (_reference(x, kernel) for x in (vertical, horizontal, flat))
    v_peak, h_peak, f_peak = (float(x.abs().max()) for x in (v, h, f))
    quiet = 1e-5 * scale  # "0", relative to the size of the weights
    if v_peak < 0.5 * scale and h_peak >= 0.5 * scale:
        raise Wrong(f"your kernel finds HORIZONTAL edges (response {h_peak:.3g} on a bright-top image) and hardly "
                    f"answers a vertical one ({v_peak:.3g}): turn it 90 degrees, so that the weights change from "
                    "left to right instead of from top to bottom")
    expect(f_peak < quiet, f"on a flat image (every pixel 0.6) your kernel gives {f_peak:.3g}, not 0: an edge "
                           f"detector answers only to change, so its weights must sum to 0 (yours sum to "
                           f"{float(kernel.sum()):.3g})")
    expect(h_peak < quiet, f"your kernel also answers a horizontal edge (bright top half): response {h_peak:.3g} "
                           f"there, {v_peak:.3g} on the vertical edge. Make every row of the kernel the same pattern, "
                           "changing from left to right, so that a change from top to bottom cancels")
    expect(v_peak >= 0.5 * scale, f"on an image with a vertical edge (bright left half) your kernel's strongest "
                                  f"response is {v_peak:.3g}, small for weights as large as {scale:.3g}: give the "
                                  "left and right columns weights of opposite sign")
    away = torch.cat([v[:, :1], v[:, -1:]], dim=1)  # columns far from the edge
    expect(float(away.abs().max()) < quiet, "your kernel also answers far from the edge, where the image is flat")
    return (f"responds {v_peak:.3g} along the vertical edge, 0 on the horizontal edge and 0 on flat areas: a "
            "vertical-edge detector (its weights sum to 0 and change only from left to right)")
