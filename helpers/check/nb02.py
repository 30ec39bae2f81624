"""Checks for notebook 02's exercises: convolution with ``unfold``, the output-size formula, a vertical-edge kernel.

The references are PyTorch's own: ``F.conv2d`` in float64 for the convolution and for the output
sizes, and synthetic images whose right answer is known (a vertical step, a horizontal step, a
flat image) for the kernel. The same inputs on every machine give the same verdict.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ..exercises import Wrong, exercise, expect

__all__ = ["my_convolve2d_unfold", "my_output_size", "vertical_edge_kernel"]

TOL = 1e-10  # float64: only the order of the additions may differ


@contextlib.contextmanager
def _watch() -> Iterator[dict[str, int]]:
    """Count calls to Tensor.unfold and to PyTorch's convolutions while the learner's function runs."""
    calls = {"unfold": 0, "conv": 0}
    saved = [(torch.Tensor, "unfold", torch.Tensor.unfold), (F, "conv2d", F.conv2d), (torch, "conv2d", torch.conv2d)]

    def unfold(self, *args, **kwargs):
        calls["unfold"] += 1
        return saved[0][2](self, *args, **kwargs)

    def conv(*args, **kwargs):
        calls["conv"] += 1
        return saved[1][2](*args, **kwargs)

    torch.Tensor.unfold, F.conv2d, torch.conv2d = unfold, conv, conv
    try:
        yield calls
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _reference(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def _show(t: torch.Tensor) -> str:
    return str([[round(v, 3) for v in row] for row in t.tolist()])


@exercise
def my_convolve2d_unfold(answer) -> str:
    """``answer(image, kernel)`` must return F.conv2d's 'valid' cross-correlation of 2-D tensors, using unfold."""
    gen = torch.Generator().manual_seed(0)
    cases = [((6, 6), (3, 3)), ((7, 9), (2, 5)), ((9, 6), (4, 1)), ((5, 4), (5, 4)), ((8, 8), (1, 1))]
    for (H, W), (kh, kw) in cases:
        image = torch.randn(H, W, generator=gen, dtype=torch.float64)
        kernel = torch.randn(kh, kw, generator=gen, dtype=torch.float64)
        with _watch() as calls:
            try:
                out = answer(image.clone(), kernel.clone())
            except RuntimeError as exc:
                if "must match the size" not in str(exc):
                    raise
                raise Wrong(f"with a {kh}×{kw} kernel the windows and the kernel do not line up "
                            f"({str(exc).splitlines()[0][:70]}): unfold the rows (dim 0) by kh and the columns "
                            "(dim 1) by kw, so that each window is kh×kw like the kernel") from None
        expect(calls["conv"] == 0, "your function calls F.conv2d: the exercise is to do what it does, with unfold")
        expect(calls["unfold"] > 0, "your function never calls Tensor.unfold: build the windows with "
                                    "image.unfold(0, kh, 1).unfold(1, kw, 1) (loops are the slow version above)")
        expect(isinstance(out, torch.Tensor), f"return a tensor; your function returned {type(out).__name__}")
        expect(out.dtype == image.dtype, f"a {image.dtype} image came back as {out.dtype}: keep the dtype")
        want = _reference(image, kernel)
        if tuple(out.shape) != tuple(want.shape):
            raise Wrong(f"a {H}×{W} image and a {kh}×{kw} kernel should give a {H - kh + 1}×{W - kw + 1} output, "
                        f"yours is {'×'.join(map(str, out.shape))}: unfold the rows (dim 0) by kh and the columns "
                        "(dim 1) by kw, with step 1, then sum over the window's two axes, dim=(-2, -1)")
        if torch.allclose(out, _reference(image, kernel.flip(0, 1)), atol=TOL) and not torch.allclose(out, want):
            raise Wrong("your result is the TRUE convolution (the kernel flipped). PyTorch's 'convolution', and this "
                        "notebook's, is cross-correlation: multiply each window by the kernel as it is")
        if kh == kw and torch.allclose(out, _reference(image, kernel.T), atol=TOL) and not torch.allclose(out, want):
            raise Wrong("your result uses the kernel transposed: the windows' axes are (kh, kw), the kernel's too, "
                        "so multiply by `kernel`, not kernel.T")
        gap = float((out - want).abs().max())
        expect(gap < TOL, f"for a {H}×{W} image and a {kh}×{kw} kernel your output differs from F.conv2d by "
                          f"{gap:.2e} (float64 should agree to {TOL:g}); at the top left you have "
                          f"{float(out[0, 0]):.4f}, F.conv2d {float(want[0, 0]):.4f}")
    return ("equals F.conv2d in float64 for square and non-square kernels, a 1×1 kernel and a kernel as big as the "
            "image: all windows at once as a view, multiplied by the kernel and summed")


_SIZE_CASES = [(28, 3, 0, 1), (28, 3, 1, 1), (28, 5, 2, 1), (28, 3, 1, 2), (28, 3, 0, 2), (224, 7, 3, 2),
               (32, 4, 1, 2), (10, 3, 0, 3), (7, 7, 0, 1), (11, 2, 0, 3), (9, 3, 2, 4)]
_SIZE_MISTAKES = [  # (wrong formula, what to say) - checked in this order
    (lambda n, k, p, s: (n + 2 * p - k) / s + 1, "return a whole number: floor division, (n + 2p - k) // s + 1"),
    (lambda n, k, p, s: (n + 2 * p - k) // s, "off by one: the first window position counts too, so add 1"),
    (lambda n, k, p, s: (n + p - k) // s + 1, "padding p is added on BOTH sides: n + 2p"),
    (lambda n, k, p, s: n + 2 * p - k + 1, "the stride is missing: the window jumps s pixels, so divide by s"),
    (lambda n, k, p, s: (n + 2 * p - k + 1) // s, "add the 1 after dividing by the stride, not before"),
    (lambda n, k, p, s: -(-(n + 2 * p - k) // s) + 1,
     "that is the ceiling: a window that would stick out at the end is dropped, so round down (//)"),
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
        expect(isinstance(value, int) and not isinstance(value, bool),
               f"return an int; for n={n}, k={k}, p={p}, s={s} you returned {type(value).__name__} {value!r}")
        expect(value == actual, f"for n={n}, k={k}, p={p}, s={s} F.conv2d gives {actual} pixels, you said {value}: "
                                "floor((n + 2p - k) / s) + 1")
    return (f"matches F.conv2d's output length in all {len(_SIZE_CASES)} cases, strides and paddings included: "
            "floor((n + 2p - k) / s) + 1")


def _step_images() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    vertical = torch.zeros(8, 8)
    vertical[:, :4] = 1.0  # bright left half: a vertical edge between columns 3 and 4
    return vertical, vertical.T.clone(), torch.full((8, 8), 0.6)


@exercise
def vertical_edge_kernel(answer) -> str:
    """``answer()`` must return a 3×3 kernel: strong on a vertical edge, 0 on a horizontal edge and on flat areas."""
    kernel = answer()
    expect(isinstance(kernel, torch.Tensor), f"return a 3×3 tensor; your function returned {type(kernel).__name__}")
    expect(tuple(kernel.shape) == (3, 3), f"return a 3×3 kernel; yours has shape {tuple(kernel.shape)}")
    kernel = kernel.detach().float()
    vertical, horizontal, flat = _step_images()
    v, h, f = (_reference(x, kernel) for x in (vertical, horizontal, flat))
    v_peak, h_peak, f_peak = (float(x.abs().max()) for x in (v, h, f))
    if v_peak <= 0.5 and h_peak > 0.5:
        raise Wrong(f"your kernel finds HORIZONTAL edges (response {h_peak:.3g} on a bright-top image) and hardly "
                    f"answers a vertical one ({v_peak:.3g}): turn it 90 degrees, so that the weights change from "
                    "left to right instead of from top to bottom")
    expect(v_peak > 0.5, f"on an image with a vertical edge (bright left half) your kernel's strongest response "
                         f"is {v_peak:.3g}: it should answer that edge clearly (at least 0.5 for a step from 1 to "
                         "0). Give the left and right columns weights of opposite sign")
    expect(f_peak < 1e-5, f"on a flat image (every pixel 0.6) your kernel gives {f_peak:.3g}, not 0: an edge "
                          f"detector answers only to change, so its weights must sum to 0 (yours sum to "
                          f"{float(kernel.sum()):.3g})")
    expect(h_peak < 1e-5, f"your kernel also answers a horizontal edge (bright top half): response {h_peak:.3g} "
                          f"there, {v_peak:.3g} on the vertical edge. Keep the change from left to right and make "
                          "every row the same pattern, e.g. [1, 0, -1] in each row (or left Sobel: [1, 0, -1], "
                          "[2, 0, -2], [1, 0, -1]), so that a change from top to bottom cancels")
    away = torch.cat([v[:, :1], v[:, -1:]], dim=1)  # columns far from the edge
    expect(float(away.abs().max()) < 1e-5, "your kernel also answers far from the edge, where the image is flat")
    return (f"responds {v_peak:.3g} along the vertical edge, 0 on the horizontal edge and 0 on flat areas: a "
            "vertical-edge detector (its weights sum to 0 and change only from left to right)")
