"""Tests for helpers/widgets.py: the kernel editor and the live figure panel (notebook 02)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from helpers.widgets import CUSTOM, KernelEditor, figure_output, kernel_editor

PRESETS = {
    "identity": [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
    "blur": torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "left_sobel": torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]),
}


def make(**kwargs) -> tuple[KernelEditor, list[torch.Tensor]]:
    calls: list[torch.Tensor] = []
    return kernel_editor(PRESETS, calls.append, **kwargs), calls


def test_starts_at_first_preset_and_calls_nothing():
    editor, calls = make()
    assert editor.dropdown.value == "identity"
    assert torch.equal(editor.kernel(), torch.tensor(PRESETS["identity"]))
    assert editor.kernel().dtype == torch.float32
    assert calls == []


def test_initial_preset_fills_the_grid():
    editor, _ = make(initial="left_sobel")
    assert editor.dropdown.value == "left_sobel"
    assert torch.equal(editor.kernel(), PRESETS["left_sobel"])


def test_dropdown_lists_presets_then_custom():
    editor, _ = make()
    assert list(editor.dropdown.options) == [*PRESETS, CUSTOM]


def test_choosing_a_preset_fills_cells_and_calls_once():
    editor, calls = make()
    editor.dropdown.value = "blur"
    assert torch.equal(editor.kernel(), PRESETS["blur"])
    assert len(calls) == 1
    assert torch.equal(calls[0], PRESETS["blur"])
    assert editor.dropdown.value == "blur"  # filling the cells did not switch to custom


def test_editing_a_cell_switches_to_custom_and_calls_once():
    editor, calls = make(initial="blur")
    editor.cells[1][1].value = 10.0
    assert editor.dropdown.value == CUSTOM
    expected = PRESETS["blur"].clone()
    expected[1, 1] = 10.0
    assert len(calls) == 1
    assert torch.equal(calls[0], expected)
    assert torch.equal(editor.kernel(), expected)


def test_second_edit_stays_custom_and_calls_again():
    editor, calls = make()
    editor.cells[0][0].value = 2.0
    editor.cells[2][2].value = -3.0
    assert editor.dropdown.value == CUSTOM
    assert len(calls) == 2
    assert float(calls[-1][0, 0]) == 2.0 and float(calls[-1][2, 2]) == -3.0


def test_choosing_custom_keeps_numbers_and_calls_nothing():
    editor, calls = make(initial="left_sobel")
    editor.dropdown.value = CUSTOM
    assert torch.equal(editor.kernel(), PRESETS["left_sobel"])
    assert calls == []


def test_preset_after_custom_restores_the_preset():
    editor, calls = make(initial="blur")
    editor.cells[0][1].value = 7.0
    editor.dropdown.value = "blur"
    assert torch.equal(editor.kernel(), PRESETS["blur"])
    assert editor.dropdown.value == "blur"
    assert len(calls) == 2


def test_refresh_calls_with_current_kernel():
    editor, calls = make(initial="left_sobel")
    editor.refresh()
    assert len(calls) == 1 and torch.equal(calls[0], PRESETS["left_sobel"])


def test_any_shape_gives_a_grid_of_that_shape():
    presets = {"a": torch.arange(8.0).reshape(2, 4), "b": torch.ones(2, 4)}
    editor = kernel_editor(presets, lambda k: None)
    assert len(editor.cells) == 2 and all(len(row) == 4 for row in editor.cells)
    assert torch.equal(editor.kernel(), presets["a"])


def test_custom_label_can_be_renamed():
    editor, _ = make(custom_label="mine")
    editor.cells[0][0].value = 5.0
    assert editor.dropdown.value == "mine"


def test_widget_holds_dropdown_and_all_cells():
    editor, _ = make()
    dropdown, grid = editor.widget.children
    assert dropdown is editor.dropdown
    assert list(grid.children) == [cell for row in editor.cells for cell in row]


@pytest.mark.parametrize("presets, match", [
    ({}, "at least one"),
    ({"a": torch.ones(3, 3), "b": torch.ones(2, 2)}, "same shape"),
    ({"a": torch.ones(3)}, "2-D"),
    ({"a": torch.ones(0, 3)}, "non-empty"),
    ({CUSTOM: torch.ones(3, 3)}, "may not be called"),
])
def test_bad_presets_raise_with_a_reason(presets, match):
    with pytest.raises(ValueError, match=match):
        kernel_editor(presets, lambda k: None)


def test_unknown_initial_raises():
    with pytest.raises(ValueError, match="not one of"):
        kernel_editor(PRESETS, lambda k: None, initial="emboss")


def test_figure_output_forwards_arguments_returns_and_closes_the_figure():
    seen = []

    def draw(kernel, *, title):
        seen.append((kernel, title))
        fig, ax = plt.subplots()
        ax.set_title(title)
        return fig

    panel, redraw = figure_output(draw)
    fig = redraw(3, title="hello")
    assert seen == [(3, "hello")]
    assert fig.axes[0].get_title() == "hello"
    assert not plt.fignum_exists(fig.number)
    assert panel.__class__.__name__ == "Output"


def test_figure_output_rejects_a_draw_that_returns_no_figure():
    _, redraw = figure_output(lambda: None)
    with pytest.raises(TypeError, match="return fig"):
        redraw()


def test_editor_drives_figure_output():
    drawn = []

    def draw(kernel):
        drawn.append(kernel)
        return plt.figure()

    _, redraw = figure_output(draw)
    editor = kernel_editor(PRESETS, redraw)
    editor.dropdown.value = "blur"
    editor.cells[0][0].value = 1.0
    assert len(drawn) == 2
    assert float(drawn[-1][0, 0]) == 1.0 and editor.dropdown.value == CUSTOM


def test_captured_outputs_holds_prints_and_figures_without_publishing(capsys):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import HTML, display

    from helpers.widgets import captured_outputs

    InteractiveShell.instance()  # display() publishes rich output only inside IPython, as in a notebook

    def draw():
        print("hello")
        display(HTML("<b>a figure stands here</b>"))

    outputs = captured_outputs(draw)
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    assert outputs[1]["output_type"] == "display_data"
    assert outputs[1]["data"]["text/html"] == "<b>a figure stands here</b>"
    assert capsys.readouterr().out == ""
