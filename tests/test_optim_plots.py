"""helpers.optim_plots: trajectories on contour plots and the optimizer slider panel (notebook 04)."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from helpers import optim_plots, widgets  # noqa: E402

XLIM, YLIM = (-2.0, 2.0), (-1.0, 3.0)


def bowl(x, y):
    return (x - 1.0) ** 2 + 10.0 * (y - 1.0) ** 2


def test_visible_prefix_keeps_a_path_that_stays_in_view():
    path = np.array([[-1.0, 2.0], [0.0, 1.5], [1.0, 1.0]])
    np.testing.assert_array_equal(optim_plots.visible_prefix(path, XLIM, YLIM), path)


def test_visible_prefix_stops_at_the_first_point_out_of_view_or_not_finite():
    leaves = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 1.0], [1.0, 1.0]])  # comes back: still cut
    np.testing.assert_array_equal(optim_plots.visible_prefix(leaves, XLIM, YLIM), leaves[:2])
    blows_up = np.array([[0.0, 0.0], [np.nan, 1.0], [0.5, 0.5]])
    np.testing.assert_array_equal(optim_plots.visible_prefix(blows_up, XLIM, YLIM), blows_up[:1])
    assert len(optim_plots.visible_prefix(np.array([[9.0, 9.0]]), XLIM, YLIM)) == 0


def test_visible_prefix_refuses_a_path_that_is_not_n_by_2():
    with pytest.raises(ValueError, match="N×2"):
        optim_plots.visible_prefix(np.zeros((4, 3)), XLIM, YLIM)


def test_contour_paths_draws_each_path_marks_divergence_and_keeps_limits():
    good = np.array([[-1.0, 2.0], [0.0, 1.5], [1.0, 1.0]])
    bad = np.array([[-1.0, 2.0], [1.0, 0.0], [1e6, -1e6], [np.inf, np.inf]])
    fig, ax = plt.subplots()
    returned = optim_plots.contour_paths(bowl, {"steady": good, "wild": bad}, xlim=XLIM, ylim=YLIM,
                                         ax=ax, title="bowl", minima=[(1.0, 1.0)])
    assert returned is ax
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["steady", "wild (left the plot)", "start", "minimum"]
    by_label = {line.get_label(): line for line in ax.lines}
    np.testing.assert_array_equal(by_label["steady"].get_xdata(), good[:, 0])
    np.testing.assert_array_equal(by_label["wild (left the plot)"].get_ydata(), bad[:2, 1])
    assert tuple(by_label["start"].get_xdata()) == (-1.0,)
    assert by_label["steady"].get_linestyle() == "-" and by_label["wild (left the plot)"].get_linestyle() == "--"
    assert ax.get_xlim() == XLIM and ax.get_ylim() == YLIM
    assert ax.get_title() == "bowl"
    plt.close(fig)


def test_contour_paths_levels_follow_the_function():
    fig, ax = plt.subplots()
    optim_plots.contour_paths(bowl, {"p": np.array([[0.0, 0.0]])}, xlim=XLIM, ylim=YLIM, ax=ax, n_levels=10)
    levels = ax.collections[0].levels
    grid = bowl(*np.meshgrid(np.linspace(*XLIM, 200), np.linspace(*YLIM, 200)))
    assert len(levels) == 10
    assert levels[0] == pytest.approx(grid.min()) and levels[-1] == pytest.approx(grid.max())
    plt.close(fig)


def test_contour_paths_needs_a_path():
    with pytest.raises(ValueError, match="no trajectories"):
        optim_plots.contour_paths(bowl, {}, xlim=XLIM, ylim=YLIM)


def test_optimizer_panel_calls_redraw_at_build_and_on_every_change():
    calls = []
    panel = widgets.optimizer_panel(lambda **kw: calls.append(kw), lr=0.03, beta1=0.8, beta2=0.99,
                                        choices={"function": ["saddle", "valley"]})
    assert calls == [{"function": "saddle", "lr": 0.03, "beta1": 0.8, "beta2": 0.99}]
    panel.controls["lr"].value = 0.1
    panel.controls["beta2"].value = 0.95          # one of the slider's stops
    panel.controls["function"].value = "valley"
    assert calls[-1] == {"function": "valley", "lr": pytest.approx(0.1), "beta1": 0.8, "beta2": 0.95}
    assert len(calls) == 4


def test_optimizer_panel_lr_slider_is_logarithmic_over_the_range():
    panel = widgets.optimizer_panel(lambda **kw: None, lr=1e-3, lr_range=(1e-5, 1e-1))
    slider = panel.controls["lr"]
    assert (slider.base, slider.min, slider.max) == (10, pytest.approx(-5), pytest.approx(-1))
    assert set(panel.controls) == {"lr", "beta1", "beta2"}
    assert panel.controls["lr"] in panel.children[0].children


def test_optimizer_panel_beta2_slider_is_even_in_log_one_minus_beta2():
    panel = widgets.optimizer_panel(lambda **kw: None, beta2=0.999)
    slider = panel.controls["beta2"]
    values = [v for _, v in slider.options]
    assert slider.value == 0.999 and values == sorted(values)
    assert values[0] == pytest.approx(0.9) and values[-1] == pytest.approx(0.9999)
    assert {0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999} <= {round(v, 6) for v in values}
    # as many stops between 0.999 and 0.9999 as between 0.9 and 0.99: fine control where Adam lives
    assert sum(0.999 < v <= 0.9999 for v in values) >= 10
    assert sum(0.999 < v <= 0.9999 for v in values) == sum(0.9 < v <= 0.99 for v in values)
    labels = [label for label, _ in slider.options]
    assert len(set(labels)) == len(labels), "every stop has its own label"
    # an off-grid beta2 is kept as a stop of its own
    assert widgets.optimizer_panel(lambda **kw: None, beta2=0.98765).controls["beta2"].value == 0.98765
    with pytest.raises(ValueError, match="beta2"):
        widgets.beta2_options(1.0)


def test_optimizer_panel_sliders_are_wide_and_one_per_row():
    panel = widgets.optimizer_panel(lambda **kw: None, choices={"function": ["a", "b"]})
    rows = panel.children[0].children
    assert list(rows) == list(panel.controls.values())
    assert all(int(c.layout.width.removesuffix("px")) >= 400 for c in rows), [c.layout.width for c in rows]


def test_optimizer_panel_moving_beta2_redraws_with_the_float_value():
    calls = []
    panel = widgets.optimizer_panel(lambda **kw: calls.append(kw["beta2"]))
    slider = panel.controls["beta2"]
    slider.index = slider.index + 1                 # one stop to the right, as a drag would
    assert len(calls) == 2 and isinstance(calls[-1], float) and 0.999 < calls[-1] < 0.9995


def test_optimizer_panel_refuses_bad_ranges_and_empty_choices():
    with pytest.raises(ValueError, match="0 < low < high"):
        widgets.optimizer_panel(lambda **kw: None, lr_range=(1.0, 0.1))
    with pytest.raises(ValueError, match="outside lr_range"):
        widgets.optimizer_panel(lambda **kw: None, lr=5.0)
    with pytest.raises(ValueError, match="empty"):
        widgets.optimizer_panel(lambda **kw: None, choices={"function": []})


def test_optimizer_panel_puts_the_first_drawing_in_its_output_area():
    panel = widgets.optimizer_panel(lambda **kw: print(f"drawn at lr={kw['lr']}"), lr=0.02)
    output_area = panel.children[1]
    assert output_area.outputs == ({"output_type": "stream", "name": "stdout", "text": "drawn at lr=0.02\n"},)
