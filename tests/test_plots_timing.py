"""helpers.plots and helpers.timing."""
import time

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

matplotlib.use("Agg")

from helpers import plots, timing  # noqa: E402


def test_show_images_grid_titles_and_formats():
    images = [torch.rand(1, 8, 8), torch.rand(3, 8, 8), np.zeros((8, 8, 3), np.uint8), Image.new("L", (8, 8))]
    fig = plots.show_images(images, ["a", "b", "c", "d"], ncols=3)
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:4]] == ["a", "b", "c", "d"]
    assert axes[1].images[0].get_array().shape == (8, 8, 3)


def test_show_images_reads_small_tensors_as_channels_first():
    kernel = torch.zeros(3, 3, 3)
    kernel[0] = 1.0  # the red channel only
    fig = plots.show_images([kernel])
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (3, 3, 3) and shown[..., 0].min() == 1.0 and shown[..., 1:].max() == 0.0


def test_show_images_refuses_mismatched_titles_and_bad_shapes():
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plots.show_images([torch.rand(4, 4)] * 2, ["x"])
    with pytest.raises(ValueError, match="shape"):
        plots.show_images([torch.rand(2, 2, 2, 2)])


def test_plot_history_draws_both_splits():
    history = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "valid_loss": 1.1, "valid_accuracy": 0.4},
               {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.8, "valid_loss": 0.7, "valid_accuracy": 0.7}]
    fig = plots.plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "valid"]
    assert list(acc_ax.lines[1].get_ydata()) == [0.4, 0.7]
    with pytest.raises(ValueError):
        plots.plot_history([])


def test_plot_history_labels_the_points_of_a_short_history_and_says_one_epoch():
    one = [{"epoch": 1, "train_loss": 0.6931, "train_accuracy": 0.5, "valid_loss": 0.25, "valid_accuracy": 0.875}]
    fig = plots.plot_history(one, title="Head")
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in acc_ax.texts] == ["train 0.500", "valid 0.875"]
    assert [t.get_text() for t in loss_ax.texts] == ["train 0.693", "valid 0.250"]
    assert "one epoch" in fig._suptitle.get_text()
    many = [{**one[0], "epoch": e} for e in range(1, plots._FEW_EPOCHS + 2)]
    fig = plots.plot_history(many)
    assert not fig.axes[0].texts and "one epoch" not in fig._suptitle.get_text()


def test_benchmark_warms_up_and_repeats():
    calls = []
    result = timing.benchmark(lambda: calls.append(1), warmup=2, repeats=5)
    assert len(calls) == 7 and result.repeats == 5 and result.warmup == 2
    assert result.min <= result.median <= result.max


def test_benchmark_measures_real_time_and_honours_min_seconds():
    result = timing.benchmark(lambda: time.sleep(0.01), warmup=0, repeats=2, min_seconds=0.05)
    assert result.median >= 0.009
    total = result.mean * result.repeats  # each call at least 0.01 s: idle, about 5 calls; busy, fewer, longer ones
    assert result.repeats >= 2 and total >= 0.05 - 1e-9, "at least `repeats` calls and `min_seconds` in all"
    assert result.repeats == 2 or total - result.max < 0.05, "it stops at the first call that reaches min_seconds"
    assert result.spread() == pytest.approx((result.max - result.min) / result.median)


def test_benchmark_rejects_bad_counts():
    with pytest.raises(ValueError):
        timing.benchmark(lambda: None, repeats=0)
